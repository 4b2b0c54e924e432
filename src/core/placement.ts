// Claims and convergence (PROTOCOL §3, "converge when peers saw different bid sets"). Peers close
// their bid windows at different times with different bids, so winners CLAIM a slot by writing
// their status record, and who runs what is computed from claims with the same ordering as bids.
import {
  classifyBids,
  compareStrings,
  declineAndInvalidOutcomes,
  dedupeByUri,
  orderBids,
  rankByPriority,
  rankLabel,
  slotCount,
  tieNote,
  type BidOutcome,
  type BidVerifier,
  type EligibleMeshlet,
} from './selection.js'
import { CLAIM_STATES, type Bid, type Did, type Workload, type WorkloadStatus } from './types.js'

/** The workload fields placement reads. */
export type PlacementWorkload = Pick<Workload, 'uri' | 'cid' | 'replicas' | 'kind'>

export interface Eviction {
  status: WorkloadStatus
  /** What the evicted peer writes as its status message: "lost claim conflict to did:... (priority a vs b)". */
  reason: string
}

export interface Placement {
  /** Live claims that hold a slot, in claim rank order. */
  kept: WorkloadStatus[]
  /** Live claims beyond the slots: those peers must release (stop, status stopped). */
  evicted: WorkloadStatus[]
  /** `evicted` with the release message for each. */
  evictions: Eviction[]
  /** Batch replicas that exited 0 for the current cid: they hold their slot for good. */
  completed: WorkloadStatus[]
  /** replicas - completed - kept (never negative). */
  openSlots: number
  /** The first `openSlots` candidates: they should claim now. */
  next: Bid[]
  /** Valid bids from meshlets with no status for the current cid in rank order, then (last resort) those that yielded; `next` is their head. */
  candidates: Bid[]
  /** True when some open slot has no candidate (openSlots > next.length): waiting for capacity. */
  queued: boolean
  /** One reason per meshlet (claims first), plus ignored records. */
  outcomes: BidOutcome[]
}

/**
 * Status messages with which decide.ts releases a replica because of the PROTOCOL (a lost claim
 * conflict, a lapsed eligibility, a replacement while away, a drain), as opposed to the owner
 * stopping it or a failure. A meshlet that yielded this way is a last-resort candidate again.
 */
export const YIELD_MESSAGE_PREFIXES = ['lost claim conflict', 'no longer eligible', 'replaced while this meshlet was away', 'draining', 'start failed:'] as const

/** A `stopped` status whose message says the protocol took the replica away (see YIELD_MESSAGE_PREFIXES). */
export function isYielded(status: WorkloadStatus): boolean {
  return status.state === 'stopped' && typeof status.message === 'string' && YIELD_MESSAGE_PREFIXES.some((p) => status.message!.startsWith(p))
}

/** A status for the workload's current cid in a claim state (pending/pulling/starting/running). */
export function isClaimState(status: WorkloadStatus): boolean {
  return CLAIM_STATES.includes(status.state)
}

/**
 * A LIVE CLAIM: the status references the current cid, its state is in CLAIM_STATES and its
 * meshlet is eligible. A dead peer's heartbeat lapses, it drops out of `eligible`, and its
 * claims die with it: that is failover.
 */
export function isLiveClaim(status: WorkloadStatus, workload: Pick<Workload, 'uri' | 'cid'>, eligible: ReadonlyMap<Did, EligibleMeshlet>): boolean {
  return status.workload?.uri === workload.uri && status.workload.cid === workload.cid && isClaimState(status) && eligible.has(status.meshlet)
}

/** A COMPLETED slot: a batch replica of the current cid that ran to an end (it is not re-run). */
export function isCompleted(status: WorkloadStatus, workload: Pick<Workload, 'uri' | 'cid' | 'kind'>): boolean {
  if (workload.kind !== 'batch' || status.workload?.uri !== workload.uri || status.workload.cid !== workload.cid) return false
  // A batch replica that RAN is done, whatever its exit code (batch jobs are not re-run, here or
  // elsewhere); one that never started (failed without a container: bad image, pull error) is not,
  // so the slot goes to the next bidder.
  return status.state === 'exited' || (status.state === 'failed' && status.containerId !== undefined)
}

/**
 * Replica index for a new claim: the lowest integer >= 0 not used by kept claims' `replica`.
 * `position` > 0 gives the position-th free index, so several `next` claimers of one round
 * (next[position]) do not all pick the same index.
 */
export function replicaIndexFor(kept: readonly WorkloadStatus[], position = 0): number {
  const used = new Set<number>()
  for (const s of kept) if (typeof s.replica === 'number') used.add(s.replica)
  let skip = Math.max(0, Math.floor(position))
  for (let i = 0; ; i++) {
    if (used.has(i)) continue
    if (skip === 0) return i
    skip--
  }
}

function claimPriority(s: WorkloadStatus): number {
  return typeof s.priority === 'number' && Number.isFinite(s.priority) ? s.priority : 0
}

/** Among one meshlet's statuses for the current cid, the one that speaks for it (completed > live claim > other), deterministically. */
function representative(list: WorkloadStatus[], workload: PlacementWorkload): WorkloadStatus {
  const score = (s: WorkloadStatus): number => (isCompleted(s, workload) ? 2 : isClaimState(s) ? 1 : 0)
  return [...list].sort((a, b) => score(b) - score(a) || claimPriority(b) - claimPriority(a) || compareStrings(a.uri, b.uri))[0]
}

function describeStatus(s: WorkloadStatus): string {
  return `its replica is ${s.state}${s.exitCode !== undefined ? ` (exit ${s.exitCode})` : ''}${s.message ? `: ${s.message}` : ''}`
}

/**
 * Rule 5, placement from claims. Given all bids and all statuses that reference the workload:
 * - COMPLETED (batch only): status `exited` with exitCode 0 for the current cid; holds its slot forever.
 * - LIVE CLAIMS ({@link isLiveClaim}) are ranked by (status.priority ?? 0) descending, then the
 *   bid tiebreak (FNV-1a of `${cid}|${did}`), then DID. The first (replicas - completed) are KEPT;
 *   the rest are EVICTED ("lost claim conflict to <did of the last kept claim>").
 * - openSlots = replicas - completed - kept.
 * - CANDIDATES: the valid bids in rank order (selection rules 1-2) whose meshlet has NO status
 *   for the current cid, followed (last resort) by the valid bids of meshlets that YIELDED their
 *   replica to the protocol ({@link isYielded}: lost a claim conflict, lapsed, replaced while
 *   away, drained), in rank order. A meshlet that failed, exited, was stopped by its owner, or
 *   holds a claim is never a candidate again for this cid. NEXT = the first `openSlots` candidates.
 *   (Without the last-resort rule, a replica lost in a claim race could never come back: after a
 *   later failover the workload would stay below min(replicas, able runners).)
 * - queued = openSlots > next.length (a slot has nobody to fill it yet).
 * Invariant: kept.length + completed (capped at replicas) + next.length <= replicas.
 */
export function resolvePlacement(
  workload: PlacementWorkload,
  bids: readonly Bid[],
  statuses: readonly WorkloadStatus[],
  eligible: ReadonlyMap<Did, EligibleMeshlet>,
  verify?: BidVerifier,
): Placement {
  const replicas = slotCount(workload)
  const classified = classifyBids(workload, bids, eligible, verify)
  const ordered = orderBids(workload.cid, classified.valid)

  // One status per meshlet for the current cid (the rkey is derived from the workload, so a
  // second one is noise; pick deterministically).
  const current = new Map<Did, WorkloadStatus[]>()
  for (const s of dedupeByUri(statuses)) {
    if (s.workload?.uri !== workload.uri || s.workload.cid !== workload.cid) continue
    const list = current.get(s.meshlet)
    if (list) list.push(s)
    else current.set(s.meshlet, [s])
  }
  const completed: WorkloadStatus[] = []
  const live: WorkloadStatus[] = []
  const lapsed: WorkloadStatus[] = []
  const yielded = new Map<Did, WorkloadStatus>()
  const done: WorkloadStatus[] = []
  for (const meshlet of [...current.keys()].sort(compareStrings)) {
    const s = representative(current.get(meshlet)!, workload)
    if (isCompleted(s, workload)) completed.push(s)
    else if (isClaimState(s)) (eligible.has(meshlet) ? live : lapsed).push(s)
    else if (isYielded(s)) yielded.set(meshlet, s)
    else done.push(s)
  }

  const claimSlots = Math.max(0, replicas - completed.length)
  const rankedClaims = rankByPriority(live, workload.cid, (s) => s.meshlet, claimPriority)
  const kept = rankedClaims.slice(0, claimSlots)
  const evicted = rankedClaims.slice(claimSlots)
  const lastKept = kept[kept.length - 1]
  const evictions: Eviction[] = evicted.map((s) => ({
    status: s,
    reason: lastKept
      ? `lost claim conflict to ${lastKept.meshlet} (priority ${claimPriority(lastKept)} vs ${claimPriority(s)}${tieNote(claimPriority(lastKept), claimPriority(s))})`
      : `lost claim conflict: all ${replicas} slots are completed`,
  }))
  const openSlots = Math.max(0, claimSlots - kept.length)
  const candidates = [...ordered.filter((b) => !current.has(b.meshlet)), ...ordered.filter((b) => yielded.has(b.meshlet))]
  const next = candidates.slice(0, openSlots)

  // Reasons: one primary outcome per meshlet, claims first, then bids in rank order.
  const outcomes: BidOutcome[] = []
  const explained = new Set<Did>()
  const add = (o: BidOutcome): void => {
    outcomes.push(o)
    explained.add(o.meshlet)
  }
  rankedClaims.forEach((s, i) => {
    const p = claimPriority(s)
    if (i < claimSlots) {
      add({ meshlet: s.meshlet, priority: p, outcome: 'won', reason: `holds replica ${s.replica ?? '?'} (${s.state}): claim rank ${i + 1} of ${rankedClaims.length}, replicas ${replicas}`, record: s.uri })
    }
  })
  for (const s of completed) {
    add({ meshlet: s.meshlet, priority: s.priority, outcome: 'won', reason: `completed: replica ${s.replica ?? '?'} exited 0 and keeps its slot`, record: s.uri })
  }
  const nextSet = new Set(next.map((b) => b.meshlet))
  const holders = kept.map((s) => s.meshlet)
  const lastNext = next[next.length - 1]
  ordered.forEach((b, i) => {
    if (explained.has(b.meshlet) || (current.has(b.meshlet) && !yielded.has(b.meshlet))) return
    const rank = rankLabel(i, ordered.length, replicas)
    const again = yielded.has(b.meshlet) ? `, taking back a replica it yielded (${yielded.get(b.meshlet)!.message})` : ''
    if (nextSet.has(b.meshlet)) {
      add({ meshlet: b.meshlet, priority: b.priority, outcome: 'won', reason: `${rank}: next in line for a free slot (priority ${b.priority})${again}`, record: b.uri })
      return
    }
    if (yielded.has(b.meshlet)) {
      add({ meshlet: b.meshlet, priority: b.priority, outcome: 'lost', reason: `${rank}: yielded its replica (${yielded.get(b.meshlet)!.message}); a last-resort candidate when no other bidder can take a free slot`, record: b.uri })
      return
    }
    const reason =
      openSlots === 0
        ? holders.length > 0
          ? `${rank}: all slots are held (by ${holders.join(', ')}); waiting in case one frees`
          : `${rank}: no open slot`
        : `${rank}: outranked by ${lastNext.meshlet} (priority ${lastNext.priority} vs ${b.priority}${tieNote(lastNext.priority, b.priority)})`
    add({ meshlet: b.meshlet, priority: b.priority, outcome: 'lost', reason, record: b.uri })
  })
  for (const e of evictions) {
    add({ meshlet: e.status.meshlet, priority: claimPriority(e.status), outcome: 'lost', reason: `evicted: ${e.reason}`, record: e.status.uri })
  }
  for (const s of lapsed) {
    add({ meshlet: s.meshlet, priority: claimPriority(s), outcome: 'lost', reason: `claim lapsed: ${s.meshlet} is no longer an eligible runner (heartbeat, linkage, membership or constraints)`, record: s.uri })
  }
  for (const s of yielded.values()) {
    if (!explained.has(s.meshlet)) add({ meshlet: s.meshlet, priority: s.priority, outcome: 'lost', reason: `yielded its replica: ${s.message}`, record: s.uri })
  }
  for (const s of done) {
    add({ meshlet: s.meshlet, priority: s.priority, outcome: 'lost', reason: `out for this version: ${describeStatus(s)}; a meshlet does not take a version again after its replica ended`, record: s.uri })
  }
  // Declines and ignored records; a declined meshlet that also holds a status is already explained.
  for (const o of declineAndInvalidOutcomes(classified)) {
    if (o.outcome === 'declined' && explained.has(o.meshlet)) continue
    outcomes.push(o)
  }

  return { kept, evicted, evictions, completed, openSlots, next, candidates, queued: openSlots > next.length, outcomes }
}
