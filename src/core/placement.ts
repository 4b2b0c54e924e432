// Claims and convergence (PROTOCOL §3, "converge when peers saw different bid sets"). Peers close
// their bid windows at different times with different bids, so winners CLAIM a slot by writing
// their status record, and who runs what is computed from claims with the same ordering as bids.
// Only verifiable claims count (docs/protocol.md, "Claims, completions, replica numbers"), and
// batch replicas start only once a quorum of the electorate acked them ("Batch: at most once").
import { ackCount, hasRenounced, isAckGated, settledHolder, tallyAcks, type AckTally, type Settlement } from './acks.js'
import { backingProblem, countingBids, isEnded, replicaProblem, statusKeyProblem } from './claims.js'
import { placementOutcomes } from './placement-outcomes.js'
import { preferHolders } from './volumes.js'
import { classifyBids, compareStrings, dedupeByUri, orderBids, rankByPriority, slotCount, tieNote, type BidOutcome, type BidVerifier, type EligibleMeshlet } from './selection.js'
import { CLAIM_STATES, type Bid, type Did, type Workload, type WorkloadStatus } from './types.js'

/** The workload fields placement reads (delivery defaults to at-most-once). */
export type PlacementWorkload = Pick<Workload, 'uri' | 'cid' | 'replicas' | 'kind'> & Partial<Pick<Workload, 'delivery'>>

import type { Eviction, LostSlot, Renumbering, StartGate } from './placement-types.js'
export type { Eviction, LostSlot, Renumbering, StartGate }

export interface Placement {
  /** Live claims that hold a replica number, in claim rank order. */
  kept: WorkloadStatus[]
  /** Services: kept claims that hold another number than their status names (a subset of `kept`). */
  renumbered: Renumbering[]
  /** Meshlet -> the replica number its kept claim holds (its status's number, or its renumbering). */
  assigned: Map<Did, number>
  /** Live claims that must release (stop, status stopped): their replica number is held by another. */
  evicted: WorkloadStatus[]
  /** `evicted` with the release message for each. */
  evictions: Eviction[]
  /** Batch replicas that ended (exited, failed after start) with a kept claim: they hold their number for good. */
  completed: WorkloadStatus[]
  /** Batch at-most-once: numbers whose quorum holder lapsed or ended before completing (not re-run). */
  lost: LostSlot[]
  /** Batch at-most-once: live claims for a number that no claim holds for good yet; they wait (neither kept nor evicted). */
  contending: WorkloadStatus[]
  /** Replica numbers in use (kept, completed, lost), ascending: new claimers take others. */
  taken: number[]
  /** replicas - taken (never negative). */
  openSlots: number
  /** The first `openSlots` candidates: they should claim now. */
  next: Bid[]
  /** Valid bids from meshlets with no status for the current cid in rank order, then (last resort) those that yielded; `next` is their head. */
  candidates: Bid[]
  /** True when some open slot has no candidate (openSlots > next.length): waiting for capacity. */
  queued: boolean
  /** Start permission per meshlet holding a kept or contending claim. */
  gates: Map<Did, StartGate>
  /** Batch at-most-once: the acks of the electorate. */
  tally?: AckTally
  /** One reason per meshlet (claims first), plus ignored records. */
  outcomes: BidOutcome[]
}

/**
 * Status messages with which decide.ts releases a replica because of the PROTOCOL (a lost claim
 * conflict, a lapsed eligibility, a replacement while away, a drain), as opposed to the owner
 * stopping it or a failure. A meshlet that yielded this way is a last-resort candidate again.
 */
export const YIELD_MESSAGE_PREFIXES = ['lost claim conflict', 'no longer eligible', 'replaced while this meshlet was away', 'draining', 'start failed:', "preempted by the machine's owner", /* issue 12 (rollout) */ 'rollout:'] as const

/** A `stopped` status whose message says the protocol took the replica away (see YIELD_MESSAGE_PREFIXES). */
export function isYielded(status: WorkloadStatus): boolean {
  return status.state === 'stopped' && typeof status.message === 'string' && YIELD_MESSAGE_PREFIXES.some((p) => status.message!.startsWith(p))
}

/** A status for the workload's current cid in a claim state (pending/pulling/starting/running). */
export function isClaimState(status: WorkloadStatus): boolean {
  return CLAIM_STATES.includes(status.state)
}

/**
 * A LIVE CLAIM in the loose sense (no bid check): the status references the current cid, its
 * state is in CLAIM_STATES and its meshlet is eligible. A dead peer's heartbeat lapses, it drops
 * out of `eligible`, and its claims die with it: that is failover.
 */
export function isLiveClaim(status: WorkloadStatus, workload: Pick<Workload, 'uri' | 'cid'>, eligible: ReadonlyMap<Did, EligibleMeshlet>): boolean {
  return status.workload?.uri === workload.uri && status.workload.cid === workload.cid && isClaimState(status) && eligible.has(status.meshlet)
}

/** A batch replica of the current cid that ran to an end (no check of its claim: see resolvePlacement for that). */
export function isCompleted(status: WorkloadStatus, workload: Pick<Workload, 'uri' | 'cid' | 'kind'>): boolean {
  return isEnded(status, workload)
}

/**
 * Replica number for a new claim: the position-th (from 0) integer >= 0 not in `used` (numbers,
 * or statuses' `replica`), so several `next` claimers of one round do not all pick the same one.
 */
export function replicaIndexFor(used: readonly (WorkloadStatus | number)[], position = 0): number {
  const set = new Set<number>()
  for (const u of used) {
    const r = typeof u === 'number' ? u : u.replica
    // Stryker disable next-line ConditionalExpression: an undefined in the set never matches an integer i below
    if (typeof r === 'number') set.add(r)
  }
  let skip = Math.max(0, Math.floor(position))
  for (let i = 0; ; i++) {
    if (set.has(i)) continue
    if (skip === 0) return i
    skip--
  }
}

export function claimPriority(s: WorkloadStatus): number {
  const p = s.priority
  return Number.isFinite(p) ? (p as number) : 0
}

/**
 * Rule 5, placement from claims. Given all bids and all statuses that reference the workload:
 * - A status counts only at its canonical rkey (statusRkey); others are `invalid`.
 * - A claim-state or ended status counts only if backed by its meshlet's counting bid (same uri,
 *   same priority; counting = valid among eligible + electorate, earliest, not a decline) and its
 *   replica is in [0, replicas); else `invalid` ("claim without a counting bid", ...).
 * - Batch at-most-once ({@link isAckGated}): the electorate's acks settle a replica number for a
 *   meshlet ({@link settledHolder}). An ended status COMPLETES its number only if it holds it
 *   for good; a settled number whose holder lapsed or ended otherwise is LOST (not re-run).
 *   Other batch: an ended backed status completes its number.
 * - LIVE CLAIMS (eligible, backed) in rank order (priority desc, tiebreak, DID), settled holders
 *   first, then (at-most-once) by acks for their number desc: a claim whose number is free takes it (KEPT); a claim whose number is taken is EVICTED
 *   ("lost claim conflict: replica N is held by did:..."), except (batch at-most-once) while the
 *   number is not settled: then it CONTENDS (waits, neither kept nor evicted); and except
 *   (services) while some number is free: then it is RENUMBERED to the lowest free one, in rank
 *   order, and kept (`renumbered`, `assigned`).
 * - openSlots = replicas - numbers taken (kept, completed, lost); CANDIDATES: valid bids of
 *   meshlets with no status for the cid in rank order, then those that YIELDED; NEXT = first openSlots.
 * Invariant: kept claims have distinct numbers in [0, replicas), so kept + completed + lost <= replicas.
 */
export function resolvePlacement(
  workload: PlacementWorkload,
  bids: readonly Bid[],
  statuses: readonly WorkloadStatus[],
  eligible: ReadonlyMap<Did, EligibleMeshlet>,
  verify?: BidVerifier,
  electorate?: ReadonlyMap<Did, EligibleMeshlet>,
  /** Volumes (issue 12): meshlets holding the workload's volumes, ranked first among bidders (core/volumes.ts). */
  preferred?: ReadonlySet<Did>,
): Placement {
  const replicas = slotCount(workload)
  // Stryker disable next-line StringLiteral: isAckGated only asks whether delivery is 'at-least-once'
  const gated = isAckGated({ kind: workload.kind, delivery: workload.delivery ?? 'at-most-once' })
  const classified = classifyBids(workload, bids, eligible, verify)
  const ordered = preferHolders(orderBids(workload.cid, classified.valid), preferred)
  const voters = electorate ?? eligible
  // A lapsed meshlet's bid is not "valid" among the eligible, yet its claim may still be backed
  // (a lost quorum holder): back claims with bids valid among eligible + electorate.
  // Stryker disable next-line ConditionalExpression: reclassifying against the same map gives the same result (the branch only saves work)
  const backers = voters === eligible ? classified : classifyBids(workload, bids, new Map([...voters, ...eligible]), verify)
  const counting = countingBids(backers.valid)
  const tally = gated ? tallyAcks(workload, replicas, bids, voters) : undefined
  const settle = new Map<number, Settlement>()
  if (tally) {
    // Stryker disable next-line EqualityOperator: no ack for a number >= replicas counts (validAcks), so i = replicas never settles
    for (let i = 0; i < replicas; i++) {
      const st = settledHolder(tally, workload.cid, i)
      if (st) settle.set(i, st)
    }
  }

  // One status per meshlet: the one at the canonical rkey (a status record's uri names its repo
  // and rkey, so at most one per meshlet survives).
  const invalid: { status: WorkloadStatus; reason: string }[] = []
  const current = new Map<Did, WorkloadStatus>()
  for (const s of dedupeByUri(statuses)) {
    if (s.workload?.uri !== workload.uri) continue
    const keyProblem = statusKeyProblem(s, workload.uri)
    if (keyProblem) invalid.push({ status: s, reason: keyProblem })
    else if (s.workload.cid === workload.cid) current.set(s.meshlet, s)
  }

  const ended: WorkloadStatus[] = []
  const live: WorkloadStatus[] = []
  const lapsed: WorkloadStatus[] = []
  const yielded = new Map<Did, WorkloadStatus>()
  const done: WorkloadStatus[] = []
  for (const meshlet of [...current.keys()].sort()) {
    const s = current.get(meshlet)!
    const isEnd = isEnded(s, workload)
    if (isEnd || isClaimState(s)) {
      const problem = backingProblem(s, counting.get(meshlet)) ?? replicaProblem(s, replicas)
      if (problem) invalid.push({ status: s, reason: problem })
      else if (isEnd) ended.push(s)
      else (eligible.has(meshlet) ? live : lapsed).push(s)
    } else if (isYielded(s)) yielded.set(meshlet, s)
    else done.push(s)
  }

  // Numbers held for good: completions, then (at-most-once) settled numbers nobody can run again.
  const takenBy = new Map<number, string>()
  const completed: WorkloadStatus[] = []
  for (const s of ended) {
    const r = s.replica!
    const st = settle.get(r)
    if (gated && st?.meshlet !== s.meshlet) {
      invalid.push({ status: s, reason: `invalid: completion of replica ${r} without a quorum of acks (${ackCount(tally!, r, s.meshlet)}/${tally!.quorum})` })
    } else if (takenBy.has(r)) done.push(s)
    else {
      completed.push(s)
      takenBy.set(r, `${s.meshlet} (completed)`)
    }
  }
  const lost: LostSlot[] = []
  for (const [r, st] of settle) {
    if (takenBy.has(r)) continue
    const s = current.get(st.meshlet)
    if (s && live.includes(s) && s.replica === r) continue // kept below
    const how = st.by === 'quorum' ? `a quorum of acks ${st.acks}/${tally!.quorum}` : `an unbeatable lead of acks (${st.acks} of ${tally!.electorateSize})`
    const what = !s ? 'has no status' : lapsed.includes(s) ? 'lapsed (no longer an eligible runner)' : `${s.state}${s.message ? `: ${s.message}` : ''}`
    lost.push({ replica: r, meshlet: st.meshlet, ...(s ? { status: s } : {}), reason: `lost: replica ${r} was held by ${st.meshlet} with ${how}, which ${what}; not re-run (delivery at-most-once)` })
    takenBy.set(r, `${st.meshlet} (lost)`)
  }

  const ranked = rankByPriority(live, workload.cid, (s) => s.meshlet, claimPriority)
  const holder = new Map<number, WorkloadStatus>()
  const keptSet = new Set<WorkloadStatus>()
  const take = (s: WorkloadStatus): void => {
    keptSet.add(s)
    holder.set(s.replica!, s)
    takenBy.set(s.replica!, s.meshlet)
  }
  for (const s of ranked) if (settle.get(s.replica!)?.meshlet === s.meshlet && !takenBy.has(s.replica!)) take(s)
  const contending: WorkloadStatus[] = []
  const evictions: Eviction[] = []
  const conflicts: { status: WorkloadStatus; reason: string }[] = []
  // At-most-once: among claims for an unsettled number the one with the most acks is kept (then
  // rank), so members pile onto the front-runner instead of a late higher bid splitting the vote.
  const assignOrder = tally ? [...ranked].sort((a, b) => ackCount(tally, b.replica!, b.meshlet) - ackCount(tally, a.replica!, a.meshlet)) : ranked
  for (const s of assignOrder) {
    if (keptSet.has(s)) continue
    const r = s.replica!
    if (tally && hasRenounced(tally, r, s.meshlet)) {
      // It gave the number up (split acks): it never starts it, whatever the acks say.
      evictions.push({ status: s, reason: `lost claim conflict: renounced replica ${r} (split acks led by ${holder.get(r)?.meshlet ?? 'another claim'})` })
      continue
    }
    if (!takenBy.has(r)) {
      take(s)
      continue
    }
    // At-most-once: acks for it may be on their way, and evicting it would strand them (the number
    // could then never reach a quorum for anyone): it waits until the number settles.
    if (gated && !settle.has(r)) {
      contending.push(s)
      continue
    }
    const h = holder.get(r)
    const st = settle.get(r)
    const detail = st ? (st.by === 'quorum' ? `quorum of acks ${st.acks}/${tally!.quorum}` : `unbeatable lead of acks ${st.acks} of ${tally!.electorateSize}`) : h ? `priority ${claimPriority(h)} vs ${claimPriority(s)}${tieNote(claimPriority(h), claimPriority(s))}` : ''
    conflicts.push({ status: s, reason: `replica ${r} is held by ${h ? h.meshlet : takenBy.get(r)}${detail ? ` (${detail})` : ''}` })
  }
  // Services: a conflicting claim takes the lowest free number (in claim rank order) instead of
  // being evicted, so a claim race costs one status write, not a release, a re-offer and a new
  // claim elsewhere. Free = no live claim took it on its own number above, so every peer that sees
  // the same claims assigns the same numbers, and re-writing a status with its new number changes nothing.
  // Batch keeps evictions: its numbers are gated by acks (at most once).
  const free = workload.kind === 'service' ? Array.from({ length: replicas }, (_, i) => i).filter((i) => !takenBy.has(i)) : []
  const renumbered: Renumbering[] = []
  for (const c of conflicts) {
    const to = free.shift()
    if (to === undefined) {
      evictions.push({ status: c.status, reason: `lost claim conflict: ${c.reason}` })
      continue
    }
    keptSet.add(c.status)
    holder.set(to, c.status)
    takenBy.set(to, c.status.meshlet)
    renumbered.push({ status: c.status, from: c.status.replica!, to, reason: `renumbered: ${c.reason}; takes free replica ${to}` })
  }
  const kept = ranked.filter((s) => keptSet.has(s))
  const assigned = new Map<Did, number>(kept.map((s) => [s.meshlet, s.replica!]))
  for (const n of renumbered) assigned.set(n.status.meshlet, n.to)

  const gates = new Map<Did, StartGate>()
  for (const s of [...kept, ...contending]) {
    const r = assigned.get(s.meshlet) ?? s.replica!
    if (!tally) {
      gates.set(s.meshlet, { replica: r, allowed: keptSet.has(s), reason: 'starts at once (no acks needed)' })
      continue
    }
    const st = settle.get(r)
    const n = ackCount(tally, r, s.meshlet)
    if (st?.meshlet === s.meshlet) {
      const why = st.by === 'quorum' ? `quorum of acks ${n}/${tally.quorum} for replica ${r}` : `split acks for replica ${r} resolved for it: ${n} of ${tally.electorateSize} acks, no rival can overtake it`
      gates.set(s.meshlet, { replica: r, allowed: true, reason: why })
    } else {
      // Stryker disable next-line OptionalChaining,StringLiteral: a contending number is always held by a kept claim (settled ones are never contended)
      const rival = keptSet.has(s) ? '' : `; contending with ${holder.get(r)?.meshlet ?? '?'}`
      gates.set(s.meshlet, { replica: r, allowed: false, reason: `waiting for acks ${n}/${tally.quorum} for replica ${r}${rival}` })
    }
  }

  invalid.sort((a, b) => compareStrings(a.status.meshlet, b.status.meshlet) || compareStrings(a.status.uri, b.status.uri))
  const taken = [...takenBy.keys()].sort((a, b) => a - b)
  const openSlots = Math.max(0, replicas - taken.length)
  const candidates = [...ordered.filter((b) => !current.has(b.meshlet)), ...ordered.filter((b) => yielded.has(b.meshlet))]
  const next = candidates.slice(0, openSlots)
  const outcomes = placementOutcomes({ replicas, ordered, classified, kept, ranked, renumbered, completed, contending, evictions, lost, lapsed, yielded, done, invalid, current, next, openSlots, gates })
  return {
    kept,
    renumbered,
    assigned,
    evicted: evictions.map((e) => e.status),
    evictions,
    completed,
    lost,
    contending,
    taken,
    openSlots,
    next,
    candidates,
    queued: openSlots > next.length,
    gates,
    ...(tally ? { tally } : {}),
    outcomes,
  }
}
