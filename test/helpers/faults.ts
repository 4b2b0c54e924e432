// Fault injection and observation for the reliability tests (issue 6): a TCP proxy that can cut a
// peer off its PDSes, ports that route one peer through such proxies, a container monitor that
// counts copies (and so transient duplicates), an engine audit, a seeded random source, and a
// figures file the docs quote.
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import Docker from 'dockerode'
import { pino } from 'pino'
import { AtpAgent } from '@atproto/api'
import { AtprotoIdentityResolver } from '../../src/adapters/atproto/identity.js'
import { AtprotoPublisher, PDS_REQUEST_TIMEOUT_MS, fetchWithTimeout } from '../../src/adapters/atproto/publisher.js'
import { AtprotoRecordSource } from '../../src/adapters/atproto/record-source.js'
import { SqliteCursorStore } from '../../src/adapters/store/sqlite-cursor-store.js'
import { LABEL } from '../../src/adapters/docker/labels.js'
import { CLAIM_STATES } from '../../src/core/types.js'
import type { DevCommune, Member } from '../../src/devnet/commune.js'
import type { Meshlet, PeerPorts } from '../../src/meshlet.js'
import type { ResolvedIdentity } from '../../src/ports/identity-resolver.js'
import type { Logger } from '../../src/logger.js'
import { DOCKER_SOCKET } from './docker.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const docker = new Docker({ socketPath: DOCKER_SOCKET })
export const IMAGE = 'meshlet/busybox:test'

/** A long-running service workload record (sleep ignores SIGTERM, but the runtime sets Init). */
export function sleeper(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: IMAGE, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, ...extra }
}

// ---- a loopback TCP proxy that can partition ------------------------------------------------

/**
 * `blackhole`: bytes stop flowing both ways and new connections hang (a cable pulled, a NAT gone
 * quiet); what was sent is delivered after heal(), as TCP retransmission would. `refuse`: every
 * connection is reset and new ones are refused (the PDS host is down).
 */
export type CutMode = 'blackhole' | 'refuse'

interface Pair {
  client: net.Socket
  upstream?: net.Socket
  toUpstream: Buffer[]
  toClient: Buffer[]
}

export class TcpProxy {
  mode: 'open' | CutMode = 'open'
  readonly url: string
  private readonly pairs = new Set<Pair>()
  /** Connections accepted (a reconnect shows up here). */
  accepted = 0

  private constructor(
    private readonly server: net.Server,
    private readonly target: net.NetConnectOpts,
    /** http://127.0.0.1:<port>, or the unix socket path. */
    readonly address: string,
  ) {
    this.url = address
  }

  /** A proxy on a loopback port for an http(s) URL, or on the unix socket `listenPath` for the socket `targetUrl`. */
  static async start(targetUrl: string, listenPath?: string): Promise<TcpProxy> {
    let target: net.NetConnectOpts
    if (listenPath) target = { path: targetUrl }
    else {
      const u = new URL(targetUrl)
      target = { host: u.hostname, port: Number(u.port), autoSelectFamily: true }
    }
    let proxy: TcpProxy | undefined
    const server = net.createServer((client) => proxy!.accept(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      if (listenPath) server.listen(listenPath, () => resolve())
      else server.listen(0, '127.0.0.1', () => resolve())
    })
    proxy = new TcpProxy(server, target, listenPath ?? `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`)
    return proxy
  }

  /** Partition: nothing gets through until heal(). */
  cut(mode: CutMode): void {
    this.mode = mode
    if (mode === 'refuse') for (const p of [...this.pairs]) this.drop(p)
  }

  heal(): void {
    this.mode = 'open'
    for (const p of [...this.pairs]) {
      if (!p.upstream) this.connectUpstream(p)
      else this.flush(p)
    }
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.drop(p)
    await new Promise<void>((r) => this.server.close(() => r()))
  }

  private accept(client: net.Socket): void {
    this.accepted++
    if (this.mode === 'refuse') {
      hardClose(client)
      return
    }
    const p: Pair = { client, toUpstream: [], toClient: [] }
    this.pairs.add(p)
    client.on('data', (d: Buffer) => {
      if (this.mode === 'open' && p.upstream) p.upstream.write(d)
      else p.toUpstream.push(d)
    })
    client.on('error', () => this.drop(p))
    client.on('close', () => this.drop(p))
    if (this.mode === 'open') this.connectUpstream(p)
  }

  private connectUpstream(p: Pair): void {
    const up = net.connect(this.target)
    p.upstream = up
    up.on('connect', () => this.flush(p))
    up.on('data', (d: Buffer) => {
      if (this.mode === 'open') p.client.write(d)
      else p.toClient.push(d)
    })
    up.on('error', () => this.drop(p))
    up.on('close', () => this.drop(p))
  }

  private flush(p: Pair): void {
    if (!p.upstream || p.upstream.connecting) return
    for (const d of p.toUpstream.splice(0)) p.upstream.write(d)
    for (const d of p.toClient.splice(0)) p.client.write(d)
  }

  private drop(p: Pair): void {
    if (!this.pairs.delete(p)) return
    hardClose(p.client)
    p.upstream?.destroy()
  }
}

/** RST on TCP (the peer sees ECONNRESET), a plain close on a unix socket. */
function hardClose(sock: net.Socket): void {
  try {
    sock.resetAndDestroy()
  } catch {
    sock.destroy()
  }
}

/**
 * Ports for one peer whose every PDS connection (writes, firehose, backfill, record checks) goes
 * through a proxy per PDS, so the test can cut that peer off while the rest of the commune talks.
 * The PLC directory stays reachable: this is "cannot reach its PDS", not "no network at all".
 */
export async function proxiedPorts(c: DevCommune, m: Member, logger?: Logger): Promise<{ ports: Partial<PeerPorts>; proxies: TcpProxy[]; cut(mode: CutMode): void; heal(): void; close(): Promise<void> }> {
  const proxies = new Map<string, TcpProxy>()
  for (const p of c.net.pdses) proxies.set(new URL(p.url).origin, await TcpProxy.start(p.url))
  const mapUrl = (u: string): string => {
    const url = new URL(u)
    const proxy = proxies.get(url.origin)
    if (!proxy) return u
    const to = new URL(proxy.url)
    url.host = to.host
    url.hostname = to.hostname
    return url.toString()
  }
  class ProxiedIdentity extends AtprotoIdentityResolver {
    override async resolve(did: string, opts?: { force?: boolean }): Promise<ResolvedIdentity> {
      const r = await super.resolve(did, opts)
      return { ...r, pds: mapUrl(r.pds).replace(/\/$/, '') }
    }
  }
  const identity = new ProxiedIdentity({ plcUrl: c.net.plcUrl, allowInsecureHttp: true })
  // The agent switches to the PDS named in the DID document after login: route that through the proxy too.
  const proxiedFetch: typeof globalThis.fetch = (input, init) => {
    if (input instanceof Request) return globalThis.fetch(new Request(mapUrl(input.url), input), init)
    return globalThis.fetch(mapUrl(String(input)), init)
  }
  // (with the same request timeout as AtprotoPublisher.login)
  const agent = new AtpAgent({ service: mapUrl(m.meshlet.pds), fetch: fetchWithTimeout(PDS_REQUEST_TIMEOUT_MS, proxiedFetch) })
  await agent.login({ identifier: m.meshlet.did, password: m.meshlet.password })
  const publisher = AtprotoPublisher.fromAgent(agent, logger ? { logger: logger.child({ name: 'meshlet:publisher' }) } : {})
  const cursorStore = SqliteCursorStore.open(m.dataDir)
  const source = new AtprotoRecordSource({
    identity,
    cursorStore,
    allowInsecureHttp: true,
    decodeOptions: { defaultBidWindowMs: c.opts.bidWindowMs ?? 5000 },
    ...(logger ? { logger: logger.child({ name: 'meshlet:source' }) } : {}),
  })
  const list = [...proxies.values()]
  return {
    ports: { identity, publisher, cursorStore, source },
    proxies: list,
    cut: (mode) => list.forEach((p) => p.cut(mode)),
    heal: () => list.forEach((p) => p.heal()),
    close: async () => {
      await Promise.all(list.map((p) => p.close()))
    },
  }
}

// ---- what runs where ------------------------------------------------------------------------

export interface Copy {
  id: string
  meshlet: string
  state: string
}

/** Containers of one workload on the engine (every meshlet's), running only unless `all`. */
export async function copiesOf(uri: string, all = false): Promise<Copy[]> {
  const rows = await docker.listContainers({ all, filters: { label: [`${LABEL.workload}=${uri}`] } })
  return rows.map((r) => ({ id: r.Id, meshlet: r.Labels[LABEL.meshlet] ?? '', state: r.State }))
}

/** Meshlets holding a live claim (current cid, claim state) for `uri`, as this peer sees them. */
export function claimHolders(peer: Meshlet, uri: string): string[] {
  const w = peer.view.workload(uri)
  if (!w) return []
  return peer.view
    .statusesFor(uri)
    .filter((s) => s.workload.cid === w.cid && CLAIM_STATES.includes(s.state))
    .map((s) => s.meshlet)
    .sort()
}

/** Holders of `uri` as the scheduler decided them (live claims of eligible meshlets), per peer. */
export function keptHolders(peer: Meshlet, uri: string): string[] | undefined {
  return peer.scheduler.decisions.get(uri)?.holders.slice().sort()
}

/**
 * Samples the running copies of a workload every `everyMs` until stopped: the peak number of
 * copies and when each meshlet's copy was first seen running.
 */
export class CopyMonitor {
  peak = 0
  samples = 0
  readonly firstRunning = new Map<string, number>()
  readonly timeline: { at: number; copies: string[] }[] = []
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private last = ''

  constructor(
    private readonly uri: string,
    private readonly everyMs = 150,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.sample(), this.everyMs)
    return this
  }

  async sample(): Promise<Copy[]> {
    if (this.busy) return []
    this.busy = true
    try {
      const running = await copiesOf(this.uri).catch(() => [] as Copy[])
      const at = Date.now()
      this.samples++
      this.peak = Math.max(this.peak, running.length)
      for (const c of running) if (!this.firstRunning.has(c.meshlet)) this.firstRunning.set(c.meshlet, at)
      const key = running.map((c) => c.meshlet).sort().join(',')
      if (key !== this.last) {
        this.last = key
        this.timeline.push({ at, copies: running.map((c) => c.meshlet).sort() })
      }
      return running
    } finally {
      this.busy = false
    }
  }

  /** First time (epoch ms) a copy ran on a meshlet other than `except`, at or after `since`. */
  firstElsewhere(except: string, since: number): number | undefined {
    let best: number | undefined
    for (const [m, at] of this.firstRunning) if (m !== except && at >= since && (best === undefined || at < best)) best = at
    return best
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }
}

/**
 * The engine holds no stray work of this commune: every meshlet-labelled container of its meshlets
 * belongs to a replica some status record still claims (or a finished one kept for its logs), and
 * no unlabelled container carries the container name of one of its meshlets.
 */
export async function auditEngine(c: DevCommune, liveClaims: (meshlet: string, uri: string) => boolean): Promise<string[]> {
  const dids = new Set(c.members.map((m) => m.meshlet.did))
  // containerNameFor(): meshlet-<owner tail>-<sha256 of the uri>-r<replica>-<tail of the meshlet DID>
  const suffixes = [...dids].map((d) => `-${d.split(':').slice(2).join(':').toLowerCase().replace(/[^a-z0-9]/g, '').slice(-8)}`)
  const problems: string[] = []
  const rows = await docker.listContainers({ all: true })
  for (const r of rows) {
    const meshlet = r.Labels?.[LABEL.meshlet]
    const named = (r.Names ?? []).some((n) => n.replace(/^\//, '').startsWith('meshlet-') && suffixes.some((x) => n.endsWith(x)))
    if (!meshlet) {
      if (named) problems.push(`unlabelled container ${r.Names?.join(',')} (${r.State})`)
      continue
    }
    if (!dids.has(meshlet)) continue
    const uri = r.Labels[LABEL.workload] ?? ''
    if (!liveClaims(meshlet, uri)) problems.push(`orphan container ${r.Id.slice(0, 12)} of ${meshlet} for ${uri} (${r.State})`)
  }
  return problems
}

/** An info-level logger that keeps the last `max` JSON lines in memory (in-process peers are silent under vitest). */
export function memoryLogger(max = 4000): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(line)
      if (lines.length > max) lines.splice(0, lines.length - max)
      cb()
    },
  })
  return { logger: pino({ level: 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, out), lines }
}

/** One log line as "time name msg (err)". */
export function summarise(line: string): string {
  try {
    const o = JSON.parse(line) as Record<string, unknown>
    const { time, level: _level, peer, name, msg, err, reason, meshlet: _m, ...rest } = o
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest).slice(0, 400)}` : ''
    return `${String(time ?? '').slice(11, 23)} ${String(peer ?? '')} ${String(name ?? '')} ${String(msg ?? '')}${err ? ` (${String(err)})` : ''}${reason ? ` (${String(reason)})` : ''}${extra}`
  } catch {
    return line
  }
}

// ---- seeded randomness and figures --------------------------------------------------------

/** A seeded PRNG, so a failing crash schedule can be replayed. */
export { mulberry32 as seeded } from './rng.js'

export const FIGURES_FILE = path.join(ROOT, 'bench/results/failover.json')

/**
 * Merges measured figures under `key` into bench/results/failover.json when MESHLET_FIGURES=1
 * (the docs quote that file); otherwise only logs them, so a normal test run leaves the tree alone.
 */
export async function recordFigures(key: string, figures: Record<string, unknown>): Promise<void> {
  const entry = { ...figures, measuredAt: new Date().toISOString() }
  if (process.env.MESHLET_FIGURES !== '1') {
    console.log(`[figures] ${key}: ${JSON.stringify(entry)}`)
    return
  }
  await fs.mkdir(path.dirname(FIGURES_FILE), { recursive: true })
  let all: Record<string, unknown> = {}
  try {
    all = JSON.parse(await fs.readFile(FIGURES_FILE, 'utf8')) as Record<string, unknown>
  } catch {
    // first figure
  }
  all[key] = entry
  await fs.writeFile(FIGURES_FILE, JSON.stringify(all, null, 2) + '\n')
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
