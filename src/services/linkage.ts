// This meshlet's own identity records (PROTOCOL §1): meshletOwner and membership once at start
// (refreshed when they differ), and the profile, re-published every lease/3 as the heartbeat
// that keeps its claims alive. One write per interval per meshlet, however many workloads it runs.
import { NSID, type Did, type GuestPolicy, type HeldVolume, type Isolation, type KeyValue } from '../core/types.js'
import { encodeMembership, encodeMeshletOwner, encodeProfile } from '../core/encode.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { HostMonitor } from './host-monitor.js'
import type { RecordWriter } from './record-writer.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import { DEFAULT_GUEST_QUOTA, guestQuota, type GuestQuotaPolicy } from '../core/quota.js'

export interface LinkageOptions {
  view: CommuneView
  writer: RecordWriter
  host: HostMonitor
  clock: Clock
  log: Logger
  meshlet: Did
  owner: Did
  members: Did[]
  /** The XRPC URL published in the profile; read at each heartbeat (known only once the server listens: port 0 in tests). */
  endpoint: () => string
  roles: string[]
  labels: KeyValue[]
  capabilities: string[]
  leaseMs: number
  version: string
  /** Local policy, published so a refusal is explainable (docs/protocol.md, Free riders). */
  minOwnerBalance?: number
  /** What to do when its own lease has lapsed; without it the heartbeat just renews. */
  rejoin?: RejoinHooks
  /** Local policy, published with the absolute limits for this host (docs/protocol.md, Quotas). */
  guestQuota?: GuestQuotaPolicy
  /** What this meshlet enforces on containers (docs/protocol.md, Execution defaults); known once the runtime has checked its rights at start. */
  isolation?: () => Isolation | undefined
  /** Secrets (issue 13): this meshlet's public sealing key, published in its profile. */
  sealingKey?: string
  /** when (issue 14): the guest policy and activity state to publish. */
  guestPolicy?: () => GuestPolicy | undefined
  /** Services (issue 12, apps): the workload volumes it holds (services/held-volumes.ts), read at each heartbeat. */
  volumes?: () => Promise<HeldVolume[] | undefined>
  // liveness (issue 16 part 3): rare heartbeat on a long fallback lease unless shortLease() says a
  // batch claim needs the short one; the ping key published for probes.
  fallbackLeaseMs?: number
  shortLease?: () => boolean
  pingKey?: () => string | undefined
  /** Silent (stopped, asleep) longer than this and members may have confirmed a suspicion: rejoin as after a lapse. */
  awayAfterMs?: number
}

/** With the rare heartbeat, how often the profile's facts are compared with what was published. */
const FACTS_EVERY_MS = 5_000

/** What the peer does when it finds its own lease expired (see LinkagePublisher.heartbeat). */
export interface RejoinHooks {
  /** Catch up with the commune and yield what others replaced; false = not possible yet (retry next beat). */
  catchUp(): Promise<boolean>
  /** The fresh heartbeat landed: decide again. */
  rejoined(): void
}

export class LinkagePublisher {
  private timer: NodeJS.Timeout | undefined
  heartbeats = 0
  /** updatedAt (epoch ms) of the newest heartbeat that landed: others count this meshlet's lease from it. */
  private lastBeatAt: number | undefined
  private beating = false
  /** The lease the newest landed heartbeat published: what observers apply to this meshlet now. */
  private lastBeatLease: number
  /** The facts() the newest landed heartbeat published. */
  private lastFacts: string | undefined
  private ticksSinceFacts = 0
  /** wantShortLease: until when (own clock, epoch ms) the short lease is asked for. */
  private shortUntil = -Infinity
  /** A refutation asked for while a beat was in flight: beat again once it lands. */
  private beatAgain = false
  /** The process was stopped (laptop sleep, SIGSTOP) for longer than awayAfterMs: rejoin before renewing. */
  private stalled = false
  private lastTick: number | undefined
  private rejoining = false
  private readonly hooks: RejoinHooks | undefined
  private readonly view: CommuneView
  private readonly writer: RecordWriter
  private readonly host: HostMonitor
  private readonly clock: Clock
  private readonly log: Logger

  constructor(private readonly opts: LinkageOptions) {
    ;({ view: this.view, writer: this.writer, host: this.host, clock: this.clock, log: this.log, rejoin: this.hooks } = opts)
    this.lastBeatLease = opts.leaseMs
  }

  /** liveness (issue 16 part 3): the lease to publish now: the short one while a batch claim needs it, else the fallback. */
  currentLease(): number {
    const f = this.opts.fallbackLeaseMs
    const short = this.opts.shortLease?.() || this.clock.now() < this.shortUntil
    return f !== undefined && f > this.opts.leaseMs && !short ? f : this.opts.leaseMs
  }

  /**
   * liveness (issue 16 part 3): the batch gate is about to start, or runs, a batch replica: keep
   * the short lease for `forMs` (others then take an at-most-once claim over quickly if this meshlet
   * dies). core/suspicion.ts needsShortLease predicts this from records, but misses cases such as a
   * cron run on a spec that already finished once; the gate knows.
   */
  wantShortLease(forMs = 2 * this.opts.leaseMs): void {
    this.shortUntil = Math.max(this.shortUntil, this.clock.now() + forMs)
  }

  /** The lease the newest landed heartbeat published: what observers apply to this meshlet now. */
  publishedLease(): number {
    return this.lastBeatLease
  }

  /** liveness (issue 16 part 3): out of touch (asleep, PDS unreachable) long enough for members to confirm a suspicion: rejoin before the next renewal. */
  markAway(): void {
    if (this.hooks) this.stalled = true
  }

  /** liveness (issue 16 part 3): a member suspects this meshlet: write now (once more if a write is in flight). */
  refute(): void {
    // Suspected before its XRPC server listens (a restart): the first profile, written at start,
    // refutes; a profile without an endpoint would not even encode.
    if (!this.opts.endpoint()) return
    if (this.beating) {
      this.beatAgain = true
      return
    }
    this.heartbeat().catch((err) => this.log.warn({ err: describeError(err) }, 'refutation failed (will retry at the next heartbeat)'))
  }

  /** Was this meshlet away longer than its lease? (read from its own profile before refreshing it) */
  wasAway(): boolean {
    const p = this.view.profile(this.opts.meshlet)
    if (!p) return false
    const lease = p.leaseMs ?? this.opts.leaseMs
    // liveness (issue 16 part 3): with probes, a meshlet silent for the confirm window may be dead to the others
    return Date.parse(p.updatedAt) + Math.min(lease, this.opts.awayAfterMs ?? lease) < this.clock.now()
  }

  async publishAll(): Promise<void> {
    const now = new Date(this.clock.now()).toISOString()
    const owner = this.view.owners().find((o) => o.meshlet === this.opts.meshlet)
    if (owner?.owner !== this.opts.owner) {
      await this.writer.put(NSID.meshletOwner, 'self', encodeMeshletOwner({ owner: this.opts.owner }, now))
    }
    const members = [...new Set(this.opts.members)].sort()
    const cur = this.view.memberships().find((m) => m.meshlet === this.opts.meshlet)
    if (!cur || [...cur.members].sort().join(',') !== members.join(',')) {
      await this.writer.put(NSID.membership, 'self', encodeMembership({ members }, now))
    }
    await this.heartbeat()
  }

  /** When this meshlet's newest heartbeat landed (epoch ms), for fencing batch work; undefined before the first. */
  lastBeat(): number | undefined {
    return this.lastBeatAt
  }

  /** True when this meshlet's lease has expired as every other peer sees it. */
  lapsed(now = this.clock.now()): boolean {
    return this.stalled || (this.lastBeatAt !== undefined && now > this.lastBeatAt + this.lastBeatLease)
  }

  /**
   * Why this meshlet should not decide anything now, or undefined. Two heartbeats in a row have not
   * landed (or it is rejoining): its PDS is out of reach, so its view is going stale and anything it
   * writes would land late, on old news. Well before the lease lapses, so it never releases its own
   * replicas just because its own heartbeat looks stale to itself.
   */
  outOfTouch(now = this.clock.now()): string | undefined {
    if (this.rejoining) return 'rejoining the commune after its lease lapsed'
    if (this.lastBeatAt === undefined) return undefined
    const silentMs = now - this.lastBeatAt
    if (silentMs <= (this.lastBeatLease * 2) / 3) return undefined
    return `no heartbeat has reached its PDS for ${silentMs} ms (lease ${this.lastBeatLease} ms)`
  }

  /**
   * One heartbeat, one at a time (a write stuck on a dead connection must not pile up fresh ones
   * behind it). When the lease has lapsed, others may have replaced this meshlet's replicas: it
   * first catches up and yields those, THEN renews, so no peer sees its stale claims come back to
   * life and evicts a replacement for them (a repo's commits arrive in order).
   */
  async heartbeat(): Promise<void> {
    if (this.beating) return
    this.beating = true
    try {
      let rejoined = false
      if (this.lapsed() && this.hooks) {
        if (!this.rejoining) this.log.warn({ lastBeatAt: new Date(this.lastBeatAt!).toISOString() }, 'own lease lapsed (PDS out of reach?); catching up before renewing it')
        this.rejoining = true
        if (!(await this.hooks.catchUp())) return
        rejoined = true
      }
      await this.beat()
      if (rejoined) {
        this.log.info('back in touch: lease renewed')
        this.hooks?.rejoined()
      }
      this.rejoining = false
      if (rejoined) this.stalled = false
    } finally {
      this.beating = false
      if (this.beatAgain) {
        this.beatAgain = false
        this.refute()
      }
    }
  }

  /** The profile facts other peers place by, apart from capacity and the lease (volumes read by the caller: one engine call per beat). */
  private factsOf(volumes: HeldVolume[] | undefined): string {
    return JSON.stringify([this.opts.endpoint(), volumes, this.opts.guestPolicy?.(), this.opts.isolation?.(), this.opts.pingKey?.()])
  }

  private async factsChanged(): Promise<boolean> {
    return !this.beating && this.lastFacts !== undefined && this.factsOf(await this.opts.volumes?.()) !== this.lastFacts
  }

  private async beat(): Promise<void> {
    const host = await this.host.snapshot()
    const volumes = await this.opts.volumes?.()
    const facts = this.factsOf(volumes)
    const updatedAt = this.clock.now()
    const leaseMs = this.currentLease()
    await this.writer.put(
      NSID.profile,
      'self',
      encodeProfile({
        endpoint: this.opts.endpoint(),
        roles: this.opts.roles,
        labels: this.opts.labels,
        capabilities: this.opts.capabilities,
        cpuMillis: host.cpuMillisTotal,
        memoryMb: host.memoryMbTotal,
        storageMb: host.storageMbAvailable,
        version: this.opts.version,
        leaseMs,
        minOwnerBalance: this.opts.minOwnerBalance,
        guestQuota: guestQuota(this.opts.guestQuota ?? DEFAULT_GUEST_QUOTA, { cpuMillis: host.cpuMillisTotal, memoryMb: host.memoryMbTotal }),
        isolation: this.opts.isolation?.(),
        sealingKey: this.opts.sealingKey,
        guestPolicy: this.opts.guestPolicy?.(),
        updatedAt: new Date(updatedAt).toISOString(),
        volumes,
        pingKey: this.opts.pingKey?.(), // liveness (issue 16 part 3)
      }),
    )
    this.lastBeatAt = Math.max(this.lastBeatAt ?? 0, updatedAt)
    this.lastBeatLease = leaseMs
    this.lastFacts = facts
    this.heartbeats++
  }

  startHeartbeat(): void {
    const every = Math.max(250, Math.floor(this.opts.leaseMs / 3))
    // liveness (issue 16 part 3): checked every second, written every lease/3 of the lease in
    // force; at once when the lease in force changes. Short to long too: until the long one is
    // published, this meshlet (outOfTouch) and the fence count 2/3 of the short one from the last beat.
    const check = Math.min(every, 1000)
    this.timer = setInterval(() => {
      // A tick that comes far too late: this process was stopped (laptop sleep); members may have
      // confirmed a suspicion of it and replaced its replicas meanwhile.
      const mono = this.clock.monotonic()
      // Its connections stayed open, so what happened meanwhile arrives on its own: no full
      // catch-up, just yield what others replaced (recovering, for a lease) and write at once.
      if (this.hooks && this.opts.awayAfterMs !== undefined && this.lastTick !== undefined && mono - this.lastTick > this.opts.awayAfterMs + check) {
        this.log.warn({ silentMs: Math.round(mono - this.lastTick) }, 'this process was stopped long enough to be found dead: yielding what others replaced')
        this.hooks.rejoined()
        this.lastTick = mono
        this.refute()
        return
      }
      this.lastTick = mono
      const lease = this.currentLease()
      const due = this.lastBeatAt === undefined || this.clock.now() - this.lastBeatAt >= Math.max(250, Math.floor(lease / 3)) - check / 2 || lease !== this.lastBeatLease || this.stalled
      if (!due) {
        // With the rare heartbeat, a changed fact (a volume made or purged, the guest policy of the
        // hour) must not wait up to a lease/3 for the next beat: placement reads them.
        if (lease > this.opts.leaseMs && ++this.ticksSinceFacts * check >= FACTS_EVERY_MS) {
          this.ticksSinceFacts = 0
          void this.factsChanged()
            .then((changed) => (changed ? this.heartbeat() : undefined))
            .catch((err) => this.log.warn({ err: describeError(err) }, 'heartbeat for changed profile facts failed (will retry)'))
        }
        return
      }
      this.heartbeat().catch((err) => this.log.warn({ err: describeError(err) }, 'heartbeat failed (will retry; containers keep running)'))
    }, check)
    this.timer.unref()
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
