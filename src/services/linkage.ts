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
}

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
  private rejoining = false
  private readonly hooks: RejoinHooks | undefined
  private readonly view: CommuneView
  private readonly writer: RecordWriter
  private readonly host: HostMonitor
  private readonly clock: Clock
  private readonly log: Logger

  constructor(private readonly opts: LinkageOptions) {
    ;({ view: this.view, writer: this.writer, host: this.host, clock: this.clock, log: this.log, rejoin: this.hooks } = opts)
  }

  /** Was this meshlet away longer than its lease? (read from its own profile before refreshing it) */
  wasAway(): boolean {
    const p = this.view.profile(this.opts.meshlet)
    if (!p) return false
    return Date.parse(p.updatedAt) + (p.leaseMs ?? this.opts.leaseMs) < this.clock.now()
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
    return this.lastBeatAt !== undefined && now > this.lastBeatAt + this.opts.leaseMs
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
    if (silentMs <= (this.opts.leaseMs * 2) / 3) return undefined
    return `no heartbeat has reached its PDS for ${silentMs} ms (lease ${this.opts.leaseMs} ms)`
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
    } finally {
      this.beating = false
    }
  }

  private async beat(): Promise<void> {
    const host = await this.host.snapshot()
    const volumes = await this.opts.volumes?.()
    const updatedAt = this.clock.now()
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
        leaseMs: this.opts.leaseMs,
        minOwnerBalance: this.opts.minOwnerBalance,
        guestQuota: guestQuota(this.opts.guestQuota ?? DEFAULT_GUEST_QUOTA, { cpuMillis: host.cpuMillisTotal, memoryMb: host.memoryMbTotal }),
        isolation: this.opts.isolation?.(),
        sealingKey: this.opts.sealingKey,
        guestPolicy: this.opts.guestPolicy?.(),
        updatedAt: new Date(updatedAt).toISOString(),
        volumes,
      }),
    )
    this.lastBeatAt = Math.max(this.lastBeatAt ?? 0, updatedAt)
    this.heartbeats++
  }

  startHeartbeat(): void {
    const every = Math.max(250, Math.floor(this.opts.leaseMs / 3))
    this.timer = setInterval(() => {
      this.heartbeat().catch((err) => this.log.warn({ err: describeError(err) }, 'heartbeat failed (will retry; containers keep running)'))
    }, every)
    this.timer.unref()
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
