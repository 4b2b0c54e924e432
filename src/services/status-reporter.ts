// The one place that writes this meshlet's workloadStatus records (PROTOCOL §4). A status is both the
// claim on a replica slot (scheduler) and the replica's state (runner); keeping them in one writer
// means a transition never drops the claim fields (bid, priority, replica).
import { NSID, type AtUri, type StatusState, type StrongRef, type Workload, type WorkloadStatus } from '../core/types.js'
import { encodeStatus, statusRkey } from '../adapters/atproto/encode.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { RecordWriter } from './record-writer.js'

export interface StatusPatch {
  state: StatusState
  containerId?: string
  exitCode?: number
  oomKilled?: boolean
  message?: string
  startedAt?: string
}

export class StatusReporter {
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
      encodeStatus({ workload: s.workload, state: 'stopped', bid: s.bid, priority: s.priority, replica: s.replica, containerId: s.containerId, exitCode: s.exitCode, oomKilled: s.oomKilled, message, startedAt: s.startedAt, updatedAt: now }),
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
        exitCode: patch.exitCode,
        oomKilled: patch.oomKilled,
        message: patch.message?.slice(0, 2048),
        startedAt,
        updatedAt: now,
      }),
      // The status rkey comes from the workload: no status of ours in the view means no record yet.
      { isNew: cur === undefined },
    )
  }
}
