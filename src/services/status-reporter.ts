// The one place that writes this meshlet's workloadStatus records (PROTOCOL §4). A status is both the
// claim on a replica slot (scheduler) and the replica's state (runner); keeping them in one writer
// means a transition never drops the claim fields (bid, priority, replica).
import { CLAIM_STATES, NSID, type AtUri, type StatusState, type StrongRef, type Workload, type WorkloadStatus } from '../core/types.js'
import { encodeStatus, statusRkey } from '../core/encode.js'
import { STATUS_LEASE_MS, STATUS_RENEW_MS } from '../core/liveness.js'
import { collectable, nextHistory, statusBidUris } from '../core/status-history.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { RecordWriter } from './record-writer.js'
import type { HealthReport } from '../core/health-types.js'
import { endpointsFor, type PublishedPort } from '../core/host-ports.js'

export interface StatusPatch {
  state: StatusState
  containerId?: string
  /** Pinned image; kept across transitions of the same version when a patch leaves it out. */
  imageDigest?: string
  exitCode?: number
  oomKilled?: boolean
  message?: string
  startedAt?: string
  // issue 12 (health)
  health?: HealthReport
  /** Services (issue 12, apps): the container's published ports; the status lists them as endpoints. Kept while the container is the same. */
  ports?: PublishedPort[]
}

export class StatusReporter {
  private renewTimer: NodeJS.Timeout | undefined
  private collecting = false
  /** issue 12 (health): rewrites a patch for a checked workload (running only once healthy). */
  private healthGate: ((w: Workload, patch: StatusPatch) => StatusPatch) | undefined

  constructor(
    private readonly view: CommuneView,
    private readonly writer: RecordWriter,
    private readonly clock: Clock,
    private readonly meshlet: string,
    /** Told when a history past MAX_STATUS_HISTORY entries loses its oldest ones (their usage leaves the ledger). */
    private readonly onHistoryFull?: (workloadUri: AtUri, dropped: number) => void,
    /** Services (issue 12, apps): the host name endpoints carry (the meshlet's advertised address). */
    private readonly advertisedHost?: () => string,
  ) {}

  own(workloadUri: AtUri): WorkloadStatus | undefined {
    return this.view.statusesFor(workloadUri).find((s) => s.meshlet === this.meshlet)
  }

  claim(workload: Workload, claim: { bid: StrongRef; priority: number; replica: number }): Promise<StrongRef> {
    return this.write(workload, { state: 'pending', message: 'claimed; waiting to start' }, { ...claim, fresh: true })
  }

  /**
   * Placement moved this meshlet's service claim to free replica number `replica` (docs/protocol.md,
   * "Claims, completions, replica numbers"): the same claim and state under the new number. The
   * runner then recreates the container so MESHLET_REPLICA matches.
   */
  renumber(workload: Workload, replica: number): Promise<StrongRef> {
    const cur = this.own(workload.uri)
    if (!cur?.bid || cur.priority === undefined || cur.workload.cid !== workload.cid || cur.replica === replica) return Promise.resolve({ uri: cur?.uri ?? '', cid: cur?.cid ?? '' })
    const patch: StatusPatch = { state: cur.state, containerId: cur.containerId, exitCode: cur.exitCode, oomKilled: cur.oomKilled, message: cur.message, startedAt: cur.startedAt, health: cur.health }
    return this.write(workload, patch, { bid: cur.bid, priority: cur.priority, replica, fresh: false })
  }

  release(workload: Workload, reason: string): Promise<StrongRef> {
    return this.update(workload, { state: 'stopped', message: reason, containerId: this.own(workload.uri)?.containerId })
  }

  /** issue 12 (health): set by the health monitor; every update of a checked workload passes through it. */
  setHealthGate(gate: (w: Workload, patch: StatusPatch) => StatusPatch): void {
    this.healthGate = gate
  }

  /** A state transition of this meshlet's replica; no write when nothing a reader sees changed. */
  async update(workload: Workload, patch: StatusPatch): Promise<StrongRef> {
    if (this.healthGate) patch = this.healthGate(workload, patch)
    const cur = this.own(workload.uri)
    if (
      cur &&
      cur.workload.cid === workload.cid &&
      cur.state === patch.state &&
      cur.containerId === patch.containerId &&
      cur.exitCode === patch.exitCode &&
      cur.message === patch.message &&
      cur.health?.state === patch.health?.state &&
      (patch.ports === undefined || JSON.stringify(cur.endpoints ?? []) === JSON.stringify(this.endpoints(patch) ?? []))
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
      due.push(this.write(w, { state: s.state, containerId: s.containerId, imageDigest: s.imageDigest, exitCode: s.exitCode, oomKilled: s.oomKilled, message: s.message, startedAt: s.startedAt, health: s.health }))
    }
    await Promise.all(due)
    return due.length
  }

  /** Renew due statuses every minute until stopRenewing (each is renewed ~STATUS_RENEW_MS after its last write). */
  startRenewing(onError: (err: unknown) => void, everyMs = 60_000): void {
    this.stopRenewing()
    this.renewTimer = setInterval(() => {
      void this.renewDue().catch(onError)
      void this.collectGarbage().catch(onError)
    }, everyMs)
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
    const { history } = nextHistory(s, false, this.clock.now())
    return this.writer.put(
      NSID.workloadStatus,
      statusRkey(s.workload.uri),
      encodeStatus({ workload: s.workload, state: 'stopped', bid: s.bid, priority: s.priority, replica: s.replica, containerId: s.containerId, imageDigest: s.imageDigest, exitCode: s.exitCode, oomKilled: s.oomKilled, message, startedAt: s.startedAt, updatedAt: now, history }),
    )
  }

  /**
   * Deletes this meshlet's statuses that no peer counts any more, with the bids they stand on
   * (docs/protocol.md, "Status history"): a claim that is over, for a workload version no longer on
   * record, whose every interval ended before forgetBefore(now), the ledger's replay floor. Every
   * peer already ignores all of it, so balances do not move. The deletes go out together (the
   * RecordWriter batches deletes into one applyWrites commit per tick). Returns how many statuses.
   */
  async collectGarbage(): Promise<number> {
    // One sweep at a time: a second one would delete again what the first has not seen land yet.
    if (this.collecting) return 0
    this.collecting = true
    try {
      return await this.collect()
    } finally {
      this.collecting = false
    }
  }

  private async collect(): Promise<number> {
    const now = this.clock.now()
    const writes: Promise<void>[] = []
    let n = 0
    for (const s of this.view.statusesBy(this.meshlet)) {
      if (!collectable(s, this.view.workload(s.workload.uri)?.cid, now)) continue
      n++
      const own = new Set(this.view.bidsFor(s.workload.uri).filter((b) => b.meshlet === this.meshlet).map((b) => b.uri))
      writes.push(this.writer.delete(NSID.workloadStatus, statusRkey(s.workload.uri)))
      for (const uri of new Set(statusBidUris(s))) {
        if (own.has(uri)) writes.push(this.writer.delete(NSID.bid, uri.slice(uri.lastIndexOf('/') + 1)))
      }
    }
    await Promise.all(writes)
    return n
  }

  remove(workloadUri: AtUri): Promise<void> {
    return this.writer.delete(NSID.workloadStatus, statusRkey(workloadUri))
  }

  private endpoints(patch: StatusPatch) {
    const host = this.advertisedHost?.()
    return patch.ports?.length && host ? endpointsFor(patch.ports, host) : undefined
  }

  private write(workload: Workload, patch: StatusPatch, claim?: { bid: StrongRef; priority: number; replica: number; fresh: boolean }): Promise<StrongRef> {
    const cur = this.own(workload.uri)
    // A claim on a new version starts clean; a transition keeps the claim it belongs to.
    const keep = cur && cur.workload.cid === workload.cid && !claim?.fresh ? cur : undefined
    // The claim it replaces joins the history, so the ledger keeps that version's usage.
    const { history, dropped } = nextHistory(cur, cur !== undefined && keep === undefined, this.clock.now())
    if (dropped > 0) this.onHistoryFull?.(workload.uri, dropped)
    const now = new Date(this.clock.now()).toISOString()
    let startedAt = patch.startedAt ?? (patch.state === 'running' ? (keep?.startedAt ?? now) : keep?.startedAt)
    // issue 12 (rollout): a rolling workload's replica that failed before it ever ran healthy still
    // enters the history when the next claim replaces it (an interval of length 0: no usage), so a
    // failed version stays visible after its meshlet reverts (docs/protocol.md, Rolling updates).
    if (startedAt === undefined && patch.state === 'failed' && patch.containerId !== undefined && workload.update) startedAt = now
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
        history,
        // issue 12 (health): a transition of the same container keeps what the last probe said
        health: patch.health ?? (patch.containerId !== undefined && keep?.containerId === patch.containerId ? keep.health : undefined),
        // Published ports answer only while the same container runs (a new one may get new host ports).
        endpoints: patch.ports ? this.endpoints(patch) : keep && patch.containerId && keep.containerId === patch.containerId && CLAIM_STATES.includes(patch.state) ? keep.endpoints : undefined,
      }),
      // The status rkey comes from the workload: no status of ours in the view means no record yet.
      { isNew: cur === undefined },
    )
  }
}
