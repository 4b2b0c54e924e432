// Calls a meshlet's XRPC methods as the logged-in caller, with atproto service auth: a token per
// (meshlet, method) from the caller's own PDS, reused until shortly before it expires. The
// meshlet's endpoint comes from its `commune.scheduler.profile` record, read from its PDS.
import type { Agent } from '@atproto/api'
import type { IdResolver } from '@atproto/identity'
import type { AtUri, Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { XrpcCallError, xrpcCall } from '../adapters/atproto/xrpc-client.js'
import { describeError, PdsError } from '../errors.js'
import type { $OutputBody as DeleteWorkloadOutput } from '../lexicons/farm/meshlet/deleteWorkload.defs.js'
import type { $OutputBody as CapacityOutput } from '../lexicons/farm/meshlet/getCapacity.defs.js'
import type { $OutputBody as LogsOutput } from '../lexicons/farm/meshlet/getLogs.defs.js'
import type { $OutputBody as WorkloadStatusOutput } from '../lexicons/farm/meshlet/getWorkloadStatus.defs.js'
import type { $OutputBody as ListWorkloadsOutput } from '../lexicons/farm/meshlet/listWorkloads.defs.js'
import type { $OutputBody as ShutdownOutput } from '../lexicons/farm/meshlet/shutdown.defs.js'
import type { $OutputBody as EvictOutput } from '../lexicons/farm/meshlet/evictWorkload.defs.js'
import { createLogger, type Logger } from '../logger.js'
import { MeshletCallError, MeshletDiscoveryError } from './errors.js'

export type { CapacityOutput, ListWorkloadsOutput, WorkloadStatusOutput, LogsOutput, ShutdownOutput }
export type WorkloadActionOutput = DeleteWorkloadOutput

export const METHOD = {
  getCapacity: 'farm.meshlet.getCapacity',
  listWorkloads: 'farm.meshlet.listWorkloads',
  getWorkloadStatus: 'farm.meshlet.getWorkloadStatus',
  deleteWorkload: 'farm.meshlet.deleteWorkload',
  pauseWorkload: 'farm.meshlet.pauseWorkload',
  resumeWorkload: 'farm.meshlet.resumeWorkload',
  stopWorkload: 'farm.meshlet.stopWorkload',
  getLogs: 'farm.meshlet.getLogs',
  shutdown: 'farm.meshlet.shutdown',
  evictWorkload: 'farm.meshlet.evictWorkload',
} as const

export interface MeshletClientOptions {
  /** The caller, logged in to its own PDS (a password session or an OAuth session's Agent): tokens are minted there. */
  agent: Agent & { serviceUrl?: URL }
  /** Finds a meshlet's PDS from its DID document. */
  idResolver: IdResolver
  /** Allow http:// meshlet endpoints (dev networks on loopback). Default false: https only. */
  allowInsecureHttp?: boolean
  /** Known endpoints, skipping discovery (e.g. a `--endpoint` flag). */
  endpoints?: Record<Did, string>
  /** Token lifetime to ask the PDS for, seconds (<= 3600). Default: the PDS default (60 s). */
  tokenTtlSec?: number
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number
  /** How long a discovered endpoint is reused. Default 5 min. */
  endpointTtlMs?: number
  fetch?: typeof globalThis.fetch
  logger?: Logger
}

interface Cached<T> {
  value: T
  until: number
}

/** Renew tokens this long before they expire, so one never dies in flight. */
const TOKEN_MARGIN_MS = 10_000

export class MeshletClient {
  private readonly tokens = new Map<string, Cached<string>>()
  private readonly endpoints = new Map<Did, Cached<string>>()
  private readonly fetch: typeof globalThis.fetch
  private readonly timeoutMs: number
  private readonly endpointTtlMs: number
  private readonly logger: Logger

  constructor(private readonly opts: MeshletClientOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch
    this.timeoutMs = opts.timeoutMs ?? 15_000
    this.endpointTtlMs = opts.endpointTtlMs ?? 5 * 60_000
    this.logger = opts.logger ?? createLogger('meshlet:client')
  }

  getCapacity(meshlet: Did): Promise<CapacityOutput> {
    return this.query(meshlet, METHOD.getCapacity, {})
  }

  listWorkloads(meshlet: Did, params: { owner?: Did; runningOnly?: boolean; limit?: number } = {}): Promise<ListWorkloadsOutput> {
    return this.query(meshlet, METHOD.listWorkloads, params)
  }

  getWorkloadStatus(meshlet: Did, uri: AtUri): Promise<WorkloadStatusOutput> {
    return this.query(meshlet, METHOD.getWorkloadStatus, { uri })
  }

  getLogs(meshlet: Did, uri: AtUri, tail?: number): Promise<LogsOutput> {
    return this.query(meshlet, METHOD.getLogs, { uri, tail })
  }

  deleteWorkload(meshlet: Did, uri: AtUri): Promise<WorkloadActionOutput> {
    return this.procedure(meshlet, METHOD.deleteWorkload, { uri })
  }

  pauseWorkload(meshlet: Did, uri: AtUri): Promise<WorkloadActionOutput> {
    return this.procedure(meshlet, METHOD.pauseWorkload, { uri })
  }

  resumeWorkload(meshlet: Did, uri: AtUri): Promise<WorkloadActionOutput> {
    return this.procedure(meshlet, METHOD.resumeWorkload, { uri })
  }

  stopWorkload(meshlet: Did, uri: AtUri): Promise<WorkloadActionOutput> {
    return this.procedure(meshlet, METHOD.stopWorkload, { uri })
  }

  shutdown(meshlet: Did, opts: { drain?: boolean } = {}): Promise<ShutdownOutput> {
    return this.procedure(meshlet, METHOD.shutdown, opts.drain === undefined ? {} : { drain: opts.drain })
  }

  /** The meshlet's owner evicts a workload from that meshlet (or lifts it with `undo`). */
  evictWorkload(meshlet: Did, uri: AtUri, opts: { undo?: boolean } = {}): Promise<EvictOutput> {
    return this.procedure(meshlet, METHOD.evictWorkload, opts.undo ? { uri, undo: true } : { uri })
  }

  /** Services (issue 12, apps): the holder removes its volumes of a deleted workload. */
  purgeVolumes(meshlet: Did, uri: AtUri): Promise<{ uri: string; removed: string[] }> {
    return this.procedure(meshlet, 'farm.meshlet.purgeVolumes', { uri })
  }

  query<T>(meshlet: Did, nsid: string, params: Record<string, string | number | boolean | undefined>): Promise<T> {
    return this.call<T>(meshlet, nsid, 'GET', params, undefined)
  }

  procedure<T>(meshlet: Did, nsid: string, body: Record<string, unknown>): Promise<T> {
    return this.call<T>(meshlet, nsid, 'POST', undefined, body)
  }

  /** The meshlet's XRPC base URL: from `endpoints`, else its profile record (cached). */
  async endpoint(meshlet: Did, opts: { force?: boolean } = {}): Promise<string> {
    const fixed = this.opts.endpoints?.[meshlet]
    if (fixed) return this.checkEndpoint(meshlet, fixed)
    const cached = this.endpoints.get(meshlet)
    if (!opts.force && cached && cached.until > Date.now()) return cached.value
    const endpoint = this.checkEndpoint(meshlet, await this.discover(meshlet))
    this.endpoints.set(meshlet, { value: endpoint, until: Date.now() + this.endpointTtlMs })
    return endpoint
  }

  private async discover(meshlet: Did): Promise<string> {
    let pds: string
    try {
      const data = await this.opts.idResolver.did.resolveAtprotoData(meshlet)
      pds = data.pds
    } catch (err) {
      throw new MeshletDiscoveryError(meshlet, `its DID document cannot be resolved (${describeError(err)})`, { cause: err })
    }
    let body: { value?: { endpoint?: unknown } } | undefined
    try {
      body = await xrpcCall({
        service: pds,
        nsid: 'com.atproto.repo.getRecord',
        params: { repo: meshlet, collection: NSID.profile, rkey: 'self' },
        fetch: this.fetch,
        timeoutMs: this.timeoutMs,
      })
    } catch (err) {
      if (!(err instanceof XrpcCallError) || err.unanswered) {
        throw new MeshletDiscoveryError(meshlet, `its PDS ${pds} is not answering (${describeError(err)})`, { cause: err })
      }
      const why = err.status === 400 || err.status === 404 ? `it has no ${NSID.profile} record (is the peer running?)` : `its PDS answered ${err.status} ${err.message}`.trim()
      throw new MeshletDiscoveryError(meshlet, why, { cause: err })
    }
    const endpoint = body?.value?.endpoint
    if (typeof endpoint !== 'string' || endpoint.length === 0) {
      throw new MeshletDiscoveryError(meshlet, `its ${NSID.profile} record has no endpoint`)
    }
    return endpoint
  }

  private checkEndpoint(meshlet: Did, endpoint: string): string {
    let url: URL
    try {
      url = new URL(endpoint)
    } catch {
      throw new MeshletDiscoveryError(meshlet, `its endpoint ${JSON.stringify(endpoint)} is not a URL`)
    }
    if (url.protocol === 'http:' && !this.opts.allowInsecureHttp) {
      throw new MeshletDiscoveryError(meshlet, `its endpoint ${endpoint} is plain http; allow insecure http to use it (dev networks only)`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MeshletDiscoveryError(meshlet, `its endpoint ${endpoint} is not http(s)`)
    }
    return endpoint.replace(/\/+$/, '')
  }

  /**
   * A service auth token for (meshlet, method), from the caller's PDS, cached until near expiry.
   * `once`: for a procedure, whose token a meshlet accepts once (replay protection): never cached.
   */
  async token(meshlet: Did, nsid: string, opts: { force?: boolean; once?: boolean } = {}): Promise<string> {
    const key = `${meshlet} ${nsid}`
    const cached = this.tokens.get(key)
    if (!opts.force && !opts.once && cached && cached.until > Date.now()) return cached.value
    const ttl = this.opts.tokenTtlSec
    const exp = ttl ? Math.floor(Date.now() / 1000) + ttl : undefined
    let token: string
    try {
      const res = await this.opts.agent.com.atproto.server.getServiceAuth({ aud: meshlet, lxm: nsid, exp })
      token = res.data.token
    } catch (err) {
      const service = this.opts.agent.serviceUrl?.toString() ?? 'your PDS'
      throw new PdsError(service, `cannot get a service auth token for ${nsid} at ${meshlet}: ${describeError(err)}`, { cause: err })
    }
    if (opts.once) return token
    const expMs = (jwtExp(token) ?? Math.floor(Date.now() / 1000) + 60) * 1000
    this.tokens.set(key, { value: token, until: expMs - TOKEN_MARGIN_MS })
    return token
  }

  private async call<T>(
    meshlet: Did,
    nsid: string,
    method: 'GET' | 'POST',
    params: Record<string, string | number | boolean | undefined> | undefined,
    body: Record<string, unknown> | undefined,
  ): Promise<T> {
    let retriedAuth = false
    let retriedEndpoint = false
    for (;;) {
      const endpoint = await this.endpoint(meshlet)
      const token = await this.token(meshlet, nsid, { force: retriedAuth, once: method === 'POST' })
      let out: T | undefined
      try {
        out = await xrpcCall<T>({ service: endpoint, nsid, method, params, body, token, fetch: this.fetch, timeoutMs: this.timeoutMs })
      } catch (err) {
        if (!(err instanceof XrpcCallError)) throw err
        if (err.unanswered) {
          // The peer may have moved: look its profile up again once before giving up.
          if (!retriedEndpoint && !this.opts.endpoints?.[meshlet]) {
            retriedEndpoint = true
            const fresh = await this.endpoint(meshlet, { force: true }).catch(() => endpoint)
            if (fresh !== endpoint) continue
          }
          const timedOut = err.error === 'Timeout'
          throw new MeshletCallError(
            0,
            timedOut ? 'Timeout' : 'Unreachable',
            `meshlet ${meshlet} at ${endpoint} ${timedOut ? 'did not answer in time' : `is not reachable (${describeError(err.cause ?? err)})`}`,
            meshlet,
            nsid,
            { cause: err.cause ?? err },
          )
        }
        if (err.error === 'InvalidResponse') throw new MeshletCallError(err.status, 'InvalidResponse', `meshlet ${meshlet} sent a non-JSON answer to ${nsid}`, meshlet, nsid)
        const error = err.error ?? `HTTP${err.status}`
        // A cached token can be refused (clock skew, key rotation): one retry with a fresh one.
        if (err.status === 401 && !retriedAuth) {
          retriedAuth = true
          this.logger.debug({ meshlet, nsid, error, message: err.message }, 'token refused; retrying with a fresh one')
          continue
        }
        throw new MeshletCallError(err.status, error, err.message, meshlet, nsid)
      }
      if (out === undefined) throw new MeshletCallError(200, 'InvalidResponse', `meshlet ${meshlet} sent a non-JSON answer to ${nsid}`, meshlet, nsid)
      return out
    }
  }
}

function jwtExp(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }
    return typeof payload.exp === 'number' ? payload.exp : undefined
  } catch {
    return undefined
  }
}
