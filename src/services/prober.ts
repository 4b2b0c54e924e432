// liveness (issue 16 part 3): SWIM-style probes. Every period this meshlet pings the next cluster
// meshlet that answers probes (profile with a pingKey), round-robin over a list shuffled per round
// by hash of (self, round, DID). No signed answer within the timeout: it asks `indirect` other
// members to ping it with the same nonce (farm.meshlet.probe) and verifies what they relay. Both
// failed: it writes ONE suspicion record of the target (rkey = its DID, updated in place), at most
// once per gap per target (the same budget observers apply). Records stay the only truth: the
// probe result only decides whether a suspicion is written.
import { randomBytes } from 'node:crypto'
import { NSID, type Did, type Profile } from '../core/types.js'
import { encodeSuspicion } from '../core/encode.js'
import { fnv1a64Hex } from '../core/hash.js'
import type { ClusterGraph } from '../core/cluster.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import type { RecordWriter } from './record-writer.js'
import { describeError } from '../errors.js'
import type { PingAnswer, PingKeys } from '../ports/ping-keys.js'

export interface ProberOptions {
  self: Did
  owner: Did
  view: CommuneView
  graph: () => ClusterGraph
  writer: RecordWriter
  clock: Clock
  log: Logger
  /** One probe per period (ms). */
  periodMs: number
  /** A direct ping's timeout; an indirect probe gets twice this. */
  timeoutMs: number
  /** How many other members are asked to probe indirectly. */
  indirect: number
  /** Do not re-write a suspicion of the same target within this (observers' budget gap). */
  gapMs: number
  /** Has a record from `did`'s repo been received after monotonic `at`? (a standing suspicion needs no rewrite) */
  heardSince: (did: Did, at: number) => boolean
  /** Checks a signed answer (PingKeys.problem). */
  verify: PingKeys['problem']
  fetch?: typeof fetch
}

export class Prober {
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private round = 0
  private queue: Did[] = []
  private readonly suspectedAt = new Map<Did, number>()
  probes = 0
  suspicions = 0

  constructor(private readonly o: ProberOptions) {}

  /** Cluster meshlets that answer probes, other than this one, sorted. */
  targets(): { meshlet: Did; profile: Profile }[] {
    const g = this.o.graph()
    const out: { meshlet: Did; profile: Profile }[] = []
    for (const p of this.o.view.profiles()) {
      if (p.meshlet === this.o.self || !p.pingKey) continue
      const owner = g.ownerOf(p.meshlet)
      if (owner === undefined || !g.mutual(owner, this.o.owner)) continue
      out.push({ meshlet: p.meshlet, profile: p })
    }
    return out.sort((a, b) => (a.meshlet < b.meshlet ? -1 : a.meshlet > b.meshlet ? 1 : 0))
  }

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => {
      if (this.busy) return
      this.busy = true
      this.tick()
        .catch((err) => this.o.log.debug({ err: describeError(err) }, 'probe failed'))
        .finally(() => (this.busy = false))
    }, this.o.periodMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One probe of the next target; resolves to what happened (for tests and logs). */
  async tick(): Promise<'none' | 'alive' | 'suspected' | 'budget' | 'lagging'> {
    const all = this.targets()
    if (all.length === 0) return 'none'
    if (this.queue.length === 0) {
      this.round++
      this.queue = all.map((t) => t.meshlet).sort((a, b) => cmp(fnv1a64Hex(`${this.o.self}|${this.round}|${a}`), fnv1a64Hex(`${this.o.self}|${this.round}|${b}`)))
    }
    const next = this.queue.shift()!
    const target = all.find((t) => t.meshlet === next)
    if (!target) return 'none'
    this.probes++
    const began = this.o.clock.monotonic()
    if (await this.reaches(target, all)) return 'alive'
    const now = this.o.clock.monotonic()
    // Its own process lagged (a loaded host, a stop): the timeouts measured that, not the target.
    if (now - began > 3 * this.o.timeoutMs + 1000) return 'lagging'
    const last = this.suspectedAt.get(target.meshlet)
    // Within the gap, or its last suspicion still stands (nothing heard since): no write.
    if (last !== undefined && (now - last < this.o.gapMs || !this.o.heardSince(target.meshlet, last))) return 'budget'
    this.suspectedAt.set(target.meshlet, now)
    this.suspicions++
    this.o.log.info({ target: target.meshlet }, 'direct and indirect probes failed: writing a suspicion')
    await this.o.writer.put(NSID.suspicion, target.meshlet, encodeSuspicion(target.meshlet, new Date(this.o.clock.now()).toISOString()))
    return 'suspected'
  }

  /** A verified answer, directly or through `indirect` helpers. */
  async reaches(target: { meshlet: Did; profile: Profile }, all: { meshlet: Did; profile: Profile }[]): Promise<boolean> {
    const nonce = randomBytes(16).toString('hex')
    const expect = { meshlet: target.meshlet, nonce, pingKey: target.profile.pingKey! }
    const direct = await this.ask(`${base(target.profile.endpoint)}/xrpc/farm.meshlet.ping?nonce=${nonce}`, this.o.timeoutMs)
    if (direct && !(await this.o.verify(direct, expect))) return true
    const helpers = all
      .filter((t) => t.meshlet !== target.meshlet)
      .sort((a, b) => cmp(fnv1a64Hex(`${nonce}|${a.meshlet}`), fnv1a64Hex(`${nonce}|${b.meshlet}`)))
      .slice(0, this.o.indirect)
    if (helpers.length === 0) return false
    const q = `target=${encodeURIComponent(target.meshlet)}&nonce=${nonce}`
    const answers = await Promise.all(helpers.map((h) => this.ask(`${base(h.profile.endpoint)}/xrpc/farm.meshlet.probe?${q}`, this.o.timeoutMs * 2)))
    for (const a of answers) if (a && !(await this.o.verify(a, expect))) return true
    return false
  }

  /** GET a JSON answer, or undefined on any failure (timeout, refusal, not JSON). */
  private async ask(url: string, timeoutMs: number): Promise<unknown> {
    try {
      const res = await (this.o.fetch ?? fetch)(url, { signal: AbortSignal.timeout(timeoutMs) })
      if (!res.ok) return undefined
      return (await res.json()) as unknown
    } catch {
      return undefined
    }
  }
}

/** GET a target's signed answer for someone else's nonce (the farm.meshlet.probe handler's work). */
export async function relayPing(endpoint: string, nonce: string, timeoutMs: number, f: typeof fetch = fetch): Promise<PingAnswer | undefined> {
  try {
    const res = await f(`${base(endpoint)}/xrpc/farm.meshlet.ping?nonce=${encodeURIComponent(nonce)}`, { signal: AbortSignal.timeout(timeoutMs) })
    if (!res.ok) return undefined
    const a = (await res.json()) as Partial<PingAnswer>
    if (typeof a.meshlet !== 'string' || typeof a.nonce !== 'string' || typeof a.time !== 'string' || typeof a.sig !== 'string') return undefined
    return { meshlet: a.meshlet, nonce: a.nonce, time: a.time, sig: a.sig }
  } catch {
    return undefined
  }
}

function base(endpoint: string): string {
  return endpoint.replace(/\/+$/, '')
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
