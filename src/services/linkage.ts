// This meshlet's own identity records (PROTOCOL §1): meshletOwner and membership once at start
// (refreshed when they differ), and the profile, re-published every lease/3 as the heartbeat
// that keeps its claims alive. One write per interval per meshlet, however many workloads it runs.
import { NSID, type Did, type KeyValue } from '../core/types.js'
import { encodeMembership, encodeMeshletOwner, encodeProfile } from '../adapters/atproto/encode.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { HostMonitor } from './host-monitor.js'
import type { RecordWriter } from './record-writer.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'

export interface LinkageOptions {
  meshlet: Did
  owner: Did
  members: Did[]
  endpoint: string
  roles: string[]
  labels: KeyValue[]
  capabilities: string[]
  leaseMs: number
  version: string
}

export class LinkagePublisher {
  private timer: NodeJS.Timeout | undefined
  heartbeats = 0

  constructor(
    private readonly view: CommuneView,
    private readonly writer: RecordWriter,
    private readonly host: HostMonitor,
    private readonly clock: Clock,
    private readonly opts: LinkageOptions,
    private readonly log: Logger,
  ) {}

  /** The XRPC URL is known only once the server listens (port 0 in tests). */
  setEndpoint(url: string): void {
    this.opts.endpoint = url
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

  async heartbeat(): Promise<void> {
    const host = await this.host.snapshot()
    await this.writer.put(
      NSID.profile,
      'self',
      encodeProfile({
        endpoint: this.opts.endpoint,
        roles: this.opts.roles,
        labels: this.opts.labels,
        capabilities: this.opts.capabilities,
        cpuMillis: host.cpuMillisTotal,
        memoryMb: host.memoryMbTotal,
        storageMb: host.storageMbAvailable,
        version: this.opts.version,
        leaseMs: this.opts.leaseMs,
        updatedAt: new Date(this.clock.now()).toISOString(),
      }),
    )
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
