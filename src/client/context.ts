// What every client command shares: the logged-in context, exit codes, result helpers and the
// error wording that tells a person what to do next.
import { AtpAgent } from '@atproto/api'
import { IdResolver } from '@atproto/identity'
import { AtUri } from '@atproto/syntax'
import type { Did } from '../core/types.js'
import { listAllRecords as readAllRecords } from '../adapters/atproto/repo-reader.js'
import { describeError, PdsError } from '../errors.js'
import { MeshletCallError, UsageError, WorkloadFileError } from './errors.js'
import { MeshletClient } from './meshlet-client.js'

export interface ClientConfig {
  /** The caller's PDS URL. */
  service: string
  /** The caller's handle or DID. */
  identifier: string
  /** The caller's (app) password. */
  password: string
  /** PLC directory for did:plc resolution. Default: the public directory. */
  plcUrl?: string
  /** Dev networks on loopback: resolve identities and reach meshlets over plain http. */
  allowInsecureHttp?: boolean
  /** The meshlet to ask for state; default: the caller's own linked meshlets. */
  meshlet?: Did
  /** Known meshlet endpoints, skipping profile discovery. */
  endpoints?: Record<Did, string>
}

export interface ClientContext {
  agent: AtpAgent
  /** The logged-in caller. */
  did: Did
  idResolver: IdResolver
  client: MeshletClient
  meshlet?: Did
  now: () => Date
}

export interface CommandResult {
  text: string
  exitCode: number
  /** Lines for stderr beside the result (unknown keys, "no output yet"), never part of --json output. */
  warnings?: string[]
}

export interface OutputOptions {
  json?: boolean
}

export interface MeshletChoice {
  /** Ask this meshlet instead of the caller's own. */
  meshlet?: Did
}

// In a module of their own so the CLI can use them before it loads the commands.
export { EXIT } from './exit-codes.js'
import { EXIT } from './exit-codes.js'

/** The hint for the refusals of plain http that loopback dev networks run into. */
export const ALLOW_HTTP_HINT = 'plain http:// is refused by default; for a local dev network add --allow-http (or MESHLET_ALLOW_HTTP=1)'

/** Adds the --allow-http hint to an error text that is a refusal of plain http. */
export function withHttpHint(text: string, allowInsecureHttp: boolean | undefined): string {
  if (allowInsecureHttp || !/forbidden protocol "http:"|plain http|allow insecure http/i.test(text)) return text
  return `${text}\nhint: ${ALLOW_HTTP_HINT}`
}

/**
 * The identity resolver the client uses. `allowInsecureHttp` swaps the SSRF-guarded fetch for the
 * plain one, which loopback dev networks need; never the default.
 */
export function createIdResolver(opts: { plcUrl?: string; allowInsecureHttp?: boolean }): IdResolver {
  return new IdResolver({ plcUrl: opts.plcUrl, ...(opts.allowInsecureHttp ? { fetch: globalThis.fetch } : {}) })
}

/** Logs in to the caller's PDS and builds what the commands need. Throws PdsError on bad credentials. */
export async function createClientContext(cfg: ClientConfig): Promise<ClientContext> {
  const agent = new AtpAgent({ service: cfg.service })
  try {
    await agent.login({ identifier: cfg.identifier, password: cfg.password })
  } catch (err) {
    const why = describeError(err)
    const hint = /fetch failed|ECONNREFUSED|ENOTFOUND/i.test(why) ? ` (is ${cfg.service} right? set it with --pds or MESHLET_USER_PDS)` : ''
    throw new PdsError(cfg.service, `cannot log in as ${cfg.identifier}: ${why}${hint}`, { cause: err })
  }
  const idResolver = createIdResolver(cfg)
  return {
    agent,
    did: agent.session!.did,
    idResolver,
    client: new MeshletClient({ agent, idResolver, allowInsecureHttp: cfg.allowInsecureHttp, endpoints: cfg.endpoints }),
    meshlet: cfg.meshlet,
    now: () => new Date(),
  }
}

export interface RepoRecord {
  uri: string
  cid: string
  value: unknown
}

export async function listAllRecords(ctx: ClientContext, repo: Did, collection: string): Promise<RepoRecord[]> {
  // The one paged reader: follows the cursor to the end and fails loudly past its bound.
  return readAllRecords(ctx.agent.serviceUrl.toString(), repo, collection)
}

export async function recordExists(ctx: ClientContext, uri: AtUri): Promise<boolean> {
  try {
    await ctx.agent.com.atproto.repo.getRecord({ repo: uri.host, collection: uri.collection, rkey: uri.rkey })
    return true
  } catch (err) {
    if ((err as { error?: unknown }).error === 'RecordNotFound') return false
    throw new PdsError(ctx.agent.serviceUrl.toString(), `cannot read ${uri.toString()}: ${describeError(err)}`, { cause: err })
  }
}

export async function pds<T>(ctx: ClientContext, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw new PdsError(ctx.agent.serviceUrl.toString(), `cannot ${what}: ${describeError(err)}`, { cause: err })
  }
}

export function describeCallError(err: unknown): string {
  if (err instanceof MeshletCallError) {
    return err.status === 0 ? err.message : `${err.meshlet} answered ${err.error}: ${err.message}`
  }
  return describeError(err)
}

export async function run(opts: OutputOptions, fn: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await fn()
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof WorkloadFileError
    const exitCode = usage ? EXIT.usage : EXIT.failed
    if (opts.json) {
      const name = err instanceof MeshletCallError ? err.error : err instanceof Error ? err.name : 'Error'
      return { text: JSON.stringify({ error: name, message: describeCallError(err) }, null, 2), exitCode }
    }
    return { text: `error: ${describeCallError(err)}`, exitCode }
  }
}

export function ok(body: string | object): CommandResult {
  return { text: typeof body === 'string' ? body : JSON.stringify(body, null, 2), exitCode: EXIT.ok }
}

export function fail(message: string, opts: OutputOptions): CommandResult {
  return { text: opts.json ? JSON.stringify({ error: 'Failed', message }, null, 2) : `error: ${message}`, exitCode: EXIT.failed }
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
