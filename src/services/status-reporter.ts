// The one place that writes this meshlet's workloadStatus records (PROTOCOL §4). A status is both the
// claim on a replica slot (scheduler) and the replica's state (runner); keeping them in one writer
// means a transition never drops the claim fields (bid, priority, replica).
import { CLAIM_STATES, NSID, type AtUri, type StatusState, type StrongRef, type Workload, type WorkloadStatus } from '../core/types.js'
import { encodeStatus, statusRkey } from '../core/encode.js'
import { STATUS_LEASE_MS, STATUS_RENEW_MS } from '../core/liveness.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { RecordWriter } from './record-writer.js'

export interface StatusPatch {
  state: StatusState
  containerId?: string
  /** Pinned image; kept across transitions of the same version when a patch leaves it out. */
  imageDigest?: string
  exitCode?: number
  oomKilled?: boolean
  message?: string
  startedAt?: string
}

export class StatusReporter {
  private renewTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly view: CommuneView,
    private readonly writer: RecordWriter,
    private readonly clock: Clock,
    private readonly meshlet: string,
  ) {}

  own(workloadUri: AtUri): WorkloadStatus | undefined {
    return this.view.statusesFor(workloadUri).find((s) => s.meshlet === this.meshlet)
  }

  claim(workload: Workload, claim: { bid: StrongRef; priority: number; replica: number }): Promise<StrongRef> {
    return this.write(workload, { state: 'pending', message: 'claimed; waiting to start' }, { ...claim, fresh: true })
  }

  release(workload: Workload, reason: string): Promise<StrongRef> {
    return this.update(workload, { state: 'stopped', message: reason, containerId: this.own(workload.uri)?.containerId })
  }

  /** A state transition of this meshlet's replica; no write when nothing a reader sees changed. */
  async update(workload: Workload, patch: StatusPatch): Promise<StrongRef> {
    const cur = this.own(workload.uri)
    if (
      cur &&
      cur.workload.cid === workload.cid &&
      cur.state === patch.state &&
      cur.containerId === patch.containerId &&
      cur.exitCode === patch.exitCode &&
      cur.message === patch.message
    ) {
      return { uri: cur.uri, cid: cur.cid ?? '' }
    }
    return this.write(workload, patch)
  }

  /**
   * Re-writes every claim-state status of this meshlet (current version) last written at least
   * STATUS_RENEW_MS ago, unchanged but for updatedAt: its lease runs on. The puts go out together
   * (RecordWriter batches puts that wait). Returns how many were renewed.
   */
  async renewDue(): Promise<number> {
    const now = this.clock.now()
    const due: Promise<StrongRef>[] = []
    for (const s of this.view.statusesBy(this.meshlet)) {
      const w = this.view.workload(s.workload.uri)
      if (!w || w.cid !== s.workload.cid || !CLAIM_STATES.includes(s.state)) continue
      const at = Date.parse(s.updatedAt)
      // Own records, own clock: an unreadable or future date is renewed too (it fixes itself).
      if (Number.isFinite(at) && at <= now && now - at < STATUS_RENEW_MS) continue
      due.push(this.write(w, { state: s.state, containerId: s.containerId, imageDigest: s.imageDigest, exitCode: s.exitCode, oomKilled: s.oomKilled, message: s.message, startedAt: s.startedAt }))
    }
    await Promise.all(due)
    return due.length
  }

  /** Renew due statuses every minute until stopRenewing (each is renewed ~STATUS_RENEW_MS after its last write). */
  startRenewing(onError: (err: unknown) => void, everyMs = 60_000): void {
    this.stopRenewing()
    this.renewTimer = setInterval(() => void this.renewDue().catch(onError), everyMs)
    this.renewTimer.unref()
  }

  stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer)
    this.renewTimer = undefined
  }

  /** Status for a workload record that failed validation, written by the owner's own meshlets. */
  rejected(ref: StrongRef, reason: string): Promise<StrongRef> {
    const cur = this.own(ref.uri)
    if (cur && cur.workload.cid === ref.cid && cur.state === 'failed' && cur.message === `invalid workload: ${reason}`) {
      return Promise.resolve({ uri: cur.uri, cid: cur.cid ?? '' })
    }
    const now = new Date(this.clock.now()).toISOString()
    return this.writer.put(NSID.workloadStatus, statusRkey(ref.uri), encodeStatus({ workload: ref, state: 'failed', message: `invalid workload: ${reason}`.slice(0, 2048), updatedAt: now }))
  }

  /**
   * The workload record is gone but this replica ran under a bid: its status stays, as `stopped`,
   * so every peer's ledger keeps the usage (docs/protocol.md, "The ledger"). Keeps the claim fields.
   */
  retire(s: WorkloadStatus, message: string): Promise<StrongRef> {
    const now = new Date(this.clock.now()).toISOString()
    return this.writer.put(
      NSID.workloadStatus,
      statusRkey(s.workload.uri),
      encodeStatus({ workload: s.workload, state: 'stopped', bid: s.bid, priority: s.priority, replica: s.replica, containerId: s.containerId, imageDigest: s.imageDigest, exitCode: s.exitCode, oomKilled: s.oomKilled, message, startedAt: s.startedAt, updatedAt: now }),
    )
  }

  remove(workloadUri: AtUri): Promise<void> {
    return this.writer.delete(NSID.workloadStatus, statusRkey(workloadUri))
  }

  private write(workload: Workload, patch: StatusPatch, claim?: { bid: StrongRef; priority: number; replica: number; fresh: boolean }): Promise<StrongRef> {
    const cur = this.own(workload.uri)
    // A claim on a new version starts clean; a transition keeps the claim it belongs to.
    const keep = cur && cur.workload.cid === workload.cid && !claim?.fresh ? cur : undefined
    const now = new Date(this.clock.now()).toISOString()
    const startedAt = patch.startedAt ?? (patch.state === 'running' ? (keep?.startedAt ?? now) : keep?.startedAt)
    return this.writer.put(
      NSID.workloadStatus,
      statusRkey(workload.uri),
      encodeStatus({
        workload: { uri: workload.uri, cid: workload.cid },
        state: patch.state,
        bid: claim?.bid ?? keep?.bid,
        priority: claim?.priority ?? keep?.priority,
        replica: claim?.replica ?? keep?.replica,
        containerId: patch.containerId,
        imageDigest: patch.imageDigest ?? keep?.imageDigest,
        exitCode: patch.exitCode,
        oomKilled: patch.oomKilled,
        message: patch.message?.slice(0, 2048),
        // A claim is a lease: a runner that stops renewing stops earning (docs/protocol.md, ledger).
        leaseMs: CLAIM_STATES.includes(patch.state) ? STATUS_LEASE_MS : undefined,
        startedAt,
        updatedAt: now,
      }),
      // The status rkey comes from the workload: no status of ours in the view means no record yet.
      { isNew: cur === undefined },
    )
  }
}
