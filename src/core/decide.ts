// The per-peer brain: given what this peer sees about one workload, what should it publish now?
// Pure and idempotent (same input, same answer), so the scheduler loop can re-run it on every
// record, wake-up and restart, and the simulation can run thousands of peers' worth of it.
import { ackCount, countingRecord, isAckGated, mergeAcks, mergeRenounced, renounceFor, validAcks, validRenounced } from './acks.js'
import { claimPriority, isClaimState, isYielded, replicaIndexFor, resolvePlacement, type Placement, type StartGate } from './placement.js'
import { bidWindow, classifyBids, compareStrings, dedupeByUri, slotCount, type BidOutcome, type BidVerifier, type EligibleMeshlet } from './selection.js'
import type { Ack, Bid, CapacitySnapshot, Did, StrongRef, Workload, WorkloadStatus } from './types.js'
import { statusBidUris } from './status-history.js'
import { oldVersionHolders, rolloutDecision } from './rollout.js'
import { sampleFor, sampledOutReason } from './sample.js'
import { FULL_VIEW_RELEASE, holdBack, missingRepo } from './full-view.js'

export interface DecideSelf {
  meshlet: Did
  owner: Did
  draining: boolean
  /** This meshlet restarted after its heartbeat lapsed: yield claims others have replaced. */
  recovering: boolean
}

/** What this meshlet would say if asked now: a bid (from feasibility + priority) or a decline. */
export type Offer = { kind: 'bid'; priority: number; capacity: CapacitySnapshot } | { kind: 'decline'; reason: string }

export interface DecideInput {
  workload: Workload
  /** Every bid record that references workload.uri (any cid, any meshlet). */
  bids: Bid[]
  /** Every status record that references workload.uri. */
  statuses: WorkloadStatus[]
  eligible: ReadonlyMap<Did, EligibleMeshlet>
  /**
   * Eligible by linkage, membership and constraints, ignoring liveness: the same set on every peer
   * (batch acks count against it). Defaults to `eligible`.
   */
  electorate?: ReadonlyMap<Did, EligibleMeshlet>
  /** Recomputes what bids claim (priority) from public records; see BidVerifier. */
  verifyBid?: BidVerifier
  /** When this peer first saw this cid (epoch ms). */
  firstSeenAt: number
  now: number
  self: DecideSelf
  offer: Offer
  /**
   * Decline budget spent (core/decline-budget.ts): a decline `offer` is not written, except where
   * a batch at-most-once member needs a record to ack in. Withdrawals still happen.
   */
  quietDecline?: boolean
  /** Volumes (issue 12, apps): meshlets whose profile says they hold this workload's volumes; their bids rank first (core/volumes.ts). */
  preferred?: ReadonlySet<Did>
  /** issue 16 (sampled bidding): true = every eligible meshlet offers, as before sampling (the simulation's baseline). */
  allBid?: boolean
  /**
   * Repos whose bids or statuses about this workload this peer's view gave up to its caps
   * (CommuneView.droppedFor). If one of them is in the electorate (or is this meshlet), the view
   * cannot tell who holds what: the peer then only withdraws and releases (core/full-view.ts). A
   * stranger's dropped records change nothing, so a flood still costs only its sender.
   */
  dropped?: ReadonlySet<Did>
}

export type PeerAction =
  | { type: 'bid'; priority: number; capacity: CapacitySnapshot }
  | { type: 'decline'; reason: string }
  /** Delete this meshlet's own bid/decline record with this rkey. */
  | { type: 'withdraw'; rkey: string; reason: string }
  /** Write the status record (state pending) claiming a slot. */
  | { type: 'claim'; bid: StrongRef; priority: number; replica: number }
  /**
   * Services: re-write this meshlet's own status (same state, bid, priority) with `replica` as its
   * number: placement moved its claim to a free number instead of evicting it.
   */
  | { type: 'renumber'; replica: number; reason: string }
  /** Stop this meshlet's replica and write its status as stopped with `reason` as message. */
  | { type: 'release'; reason: string }
  /**
   * Batch at-most-once: re-put this meshlet's own counting bid/decline record (same rkey, every
   * other field unchanged) with `acks` as its acks list (the old entries plus the new ones) and,
   * when present, `renounced` as its renounced list (old plus new: see {@link splitGraceMs}).
   */
  | { type: 'ack'; rkey: string; acks: Ack[]; reason: string; renounced?: number[] }
  /** issue 12 (rollout): autoRevert: re-write this meshlet's status as the claim of version `cid` from its history. */
  | { type: 'revert'; cid: string; bid: StrongRef; priority: number; replica: number; reason: string }

export type DecisionPhase = 'bidding' | 'placed' | 'queued' | 'ineligible'

export interface Decision {
  phase: DecisionPhase
  /** In order; apply them in order (a withdraw before the bid that replaces it). */
  actions: PeerAction[]
  /** Meshlets holding a kept live claim, in claim rank order (completed batch replicas are not holders). */
  holders: Did[]
  outcomes: BidOutcome[]
  /** This meshlet's own outcome, when it bid, declined or holds a status. */
  self?: BidOutcome
  /** When to evaluate again even if no record arrives (the window's close), epoch ms. */
  wakeAt?: number
  /**
   * Present when this meshlet holds a kept (or contending) claim: whether its container may start
   * now. Batch at-most-once replicas start only once a quorum of the electorate acked them
   * (reason "waiting for acks 1/2 for replica 0" until then); everything else starts at once.
   */
  start?: StartGate
  /** issue 16 (sampled bidding): set while this eligible meshlet is outside the open rings (it offers nothing, commits nothing): why. */
  sampledOut?: string
  /** Set when actions were held back because this peer's view of the workload is incomplete (DecideInput.dropped): why. */
  heldBack?: string
}


/**
 * Batch at-most-once: how long a pending claim that does not lead a split for its number waits
 * before it may renounce the number (acks.ts, renounceFor): 2 bid windows, at least 3 s, so most
 * acks landed (renouncing early is safe, but may give the number to a claimer with fewer acks).
 */
export function splitGraceMs(w: Pick<Workload, 'bidWindowMs'>): number {
  const win = Number.isFinite(w.bidWindowMs) && w.bidWindowMs > 0 ? Math.floor(w.bidWindowMs) : 0
  return Math.max(3_000, 2 * win)
}

/**
 * After this many more graces a claim that does not qualify itself renounces for ANY qualifying
 * rival (acks.ts, renounceFor `late`): by then every view is complete in practice, so the
 * best-ranked qualifying claimer sees itself qualify and is not among them.
 */
export const LATE_SPLIT_GRACES = 4

/** Lexicon limit of a decline reason (bytes of UTF-8). */
export const DECLINE_MAX_BYTES = 512
/** Lexicon bounds of a priority. */
export const PRIORITY_WIRE_MAX = 1_000_000

/** Cut `s` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(s: string, maxBytes: number): string {
  let bytes = 0
  let out = ''
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    if (bytes + n > maxBytes) break
    bytes += n
    out += ch
  }
  return out
}

function offerAction(offer: Offer): PeerAction {
  if (offer.kind === 'decline') return { type: 'decline', reason: truncateUtf8(offer.reason || 'cannot run it', DECLINE_MAX_BYTES) }
  // Out-of-range priorities would be rejected by the lexicon and make this peer silently absent.
  const p = Number.isFinite(offer.priority) ? Math.min(PRIORITY_WIRE_MAX, Math.max(0, Math.round(offer.priority))) : 0
  return { type: 'bid', priority: p, capacity: offer.capacity }
}

function selfOutcome(outcomes: BidOutcome[], self: Did): BidOutcome | undefined {
  return outcomes.find((o) => o.meshlet === self && o.outcome !== 'invalid') ?? outcomes.find((o) => o.meshlet === self)
}

/**
 * Rule 9. What this peer should do about one workload now. In order:
 * 1. Hygiene: withdraw own bid/decline records that reference an older cid.
 * 2. Not in `eligible` -> phase 'ineligible'; no bid; if it holds a claim for the current cid ->
 *    release "no longer eligible: ...".
 * 3. Window open ({@link bidWindow}) and no status of its own for the current cid (holding one
 *    means its window already closed) -> phase 'bidding'; if it has no record for the current
 *    cid, one action: bid or decline per `offer`; wakeAt = closesAt. (issue 16) With sampled
 *    bidding only members of the open rings offer (here and in the "no record" rule below); the
 *    others set `sampledOut` and wake when their ring is due (core/sample.ts).
 * 4. Window closed -> {@link resolvePlacement}:
 *    - draining and it holds a live claim -> release "draining: ..." (others take the slot; the
 *      offer of a draining meshlet is a decline, so it does not come back while draining);
 *    - recovering and it holds a live claim while at least (replicas - completed) OTHER live
 *      claims exist -> release "replaced while this meshlet was away";
 *    - evicted -> release "lost claim conflict: replica N is held by did:...";
 *    - renumbered (services) -> renumber: re-write its status with the free number it now holds;
 *    - in `next`: offer bid -> claim with its bid's strongRef and priority, replica index =
 *      replicaIndexFor(placement.taken, its position in next), unless its bid is a late offer
 *      still in its own window ({@link lateOfferWait}: wakeAt); offer decline -> withdraw all its records
 *      for the cid and decline (it can no longer run it);
 *    - no record and no status for the cid (offline during the window, newly joined) and
 *      openSlots > 0 -> bid or decline now;
 *    - queued, its earliest record is a decline, no status, and the offer is now a bid ->
 *      withdraw its records and bid again (re-offer when capacity frees: nothing is dropped).
 *    In the last two rules a status that only says it yielded ({@link isYielded}) counts as none.
 *    Batch: drain/recovery never release a claim that may have started (past pending, or start
 *    allowed). Records its own status references, and current records carrying acks, are never
 *    withdrawn. Batch at-most-once: a member of the electorate adds acks (action `ack`, see
 *    {@link ackAction}) once it heard every live member or a grace passed; a member with no
 *    record offers anyway; a pending claim that does not lead a split renounces its number
 *    (an `ack` action carrying `renounced`, then a release). `Decision.start` gates the runner.
 *    Release reasons start with YIELD_MESSAGE_PREFIXES (placement.ts): write them verbatim as the
 *    status message, since other peers read them to know the meshlet may take a slot again.
 * After a restart with recovering=true, publish its releases BEFORE renewing its heartbeat: a
 * repo's commits arrive in order, so no peer sees the stale claim live again and evicts for it.
 *    phase 'queued' when placement.queued, else 'placed'.
 * Idempotent: the same input always yields the same actions; the caller must apply them (or
 * mark them in flight) before evaluating again. wakeAt is set while the window (or a late offer's own
 * window) is open, and (batch at-most-once) while an ack or a renunciation waits for its grace.
 */
export function decideWorkload(input: DecideInput): Decision {
  const { workload: w, self, eligible, offer } = input
  const electorate = input.electorate ?? eligible
  const bids = dedupeByUri(input.bids.filter((b) => b.workload?.uri === w.uri))
  const statuses = input.statuses.filter((s) => s.workload?.uri === w.uri)
  const actions: PeerAction[] = []
  const gated = isAckGated(w)
  const quiet = offer.kind === 'decline' && input.quietDecline === true

  const own = bids.filter((b) => b.meshlet === self.meshlet).sort((a, b) => compareStrings(a.rkey, b.rkey))
  const ownAll = statuses.filter((s) => s.meshlet === self.meshlet)
  // The ledger replays claims from the bids they reference: never delete one of those. Nor a
  // record carrying acks for the current cid: an ack is a promise that must stay visible.
  const keep = new Set(ownAll.flatMap(statusBidUris))
  const removable = (b: Bid): boolean => !keep.has(b.uri) && !(b.workload.cid === w.cid && (b.acks?.length ?? 0) > 0)
  for (const b of own) {
    if (b.workload.cid !== w.cid && removable(b)) actions.push({ type: 'withdraw', rkey: b.rkey, reason: `bid was for an older version of the workload (cid ${b.workload.cid})` })
  }
  const ownCurrent = own.filter((b) => b.workload.cid === w.cid)
  const ownStatuses = ownAll.filter((s) => s.workload.cid === w.cid)
  const holdsClaim = ownStatuses.some(isClaimState)
  // No status, or only one saying the protocol took its replica away: it may still offer.
  const mayOffer = ownStatuses.every(isYielded)

  // Asked first: volume holders (input.preferred) and, while a version rolls, the holders of the old one.
  const oldHolders = oldVersionHolders(w, statuses, bids, eligible)
  const preferred = oldHolders.size > 0 ? new Set([...(input.preferred ?? []), ...oldHolders]) : input.preferred
  const placement = resolvePlacement(w, bids, statuses, eligible, input.verifyBid, electorate, preferred)
  // issue 16 (sampled bidding): only members of the open rings offer; their answers close the window (core/sample.ts).
  const sample = input.allBid ? undefined : sampleFor(w, bids, statuses, eligible, preferred, input.firstSeenAt, input.now, input.verifyBid)
  const sampled = sample === undefined || sample.members.has(self.meshlet)
  const ringWake = sampled ? undefined : sample?.nextAt
  const holders = placement.kept.map((s) => s.meshlet)
  const missing = missingRepo(input.dropped, self.meshlet, electorate, eligible)
  const result = (phase: DecisionPhase, outcomes: BidOutcome[], wakeAt?: number): Decision => {
    const { actions: out, heldBack } = holdBack(actions, missing)
    const d: Decision = { phase, actions: out, holders, outcomes }
    if (heldBack) d.heldBack = heldBack
    const mine = selfOutcome(outcomes, self.meshlet)
    if (mine) d.self = mine
    // Time does not complete the view: waking for what was held back would only hold it back again.
    if (wakeAt !== undefined && !heldBack) d.wakeAt = wakeAt
    const gate = placement.gates.get(self.meshlet)
    if (gate) d.start = gate
    if (!sampled && sample && ownCurrent.length === 0 && ownStatuses.length === 0) d.sampledOut = sampledOutReason(sample, self.meshlet)
    return d
  }

  if (!eligible.has(self.meshlet)) {
    if (holdsClaim) {
      actions.push({ type: 'release', reason: 'no longer eligible: this meshlet is not an eligible runner for the workload any more (linkage, membership, constraints or heartbeat)' })
    }
    return result('ineligible', placement.outcomes)
  }

  const window = bidWindow(w, bids, eligible, input.firstSeenAt, input.now, input.verifyBid, sample?.members)
  if (!window.closed && ownStatuses.length === 0) {
    if (ownCurrent.length === 0 && !quiet && sampled) actions.push(offerAction(offer))
    return result('bidding', provisional(placement), ringWake === undefined ? window.closesAt : Math.min(window.closesAt, ringWake))
  }

  // issue 12 (rollout): old holders leave in turn; a failed version with autoRevert is reverted (core/rollout.ts)
  const roll = rolloutDecision({ workload: w, statuses, bids, eligible, kept: placement.kept, now: input.now, self: self.meshlet, inNext: placement.next.some((b) => b.meshlet === self.meshlet) })
  if (roll?.revert) {
    actions.push({ type: 'revert', ...roll.revert })
    return result('placed', placement.outcomes)
  }
  const eviction = placement.evictions.find((e) => e.status.meshlet === self.meshlet)
  const renumbering = placement.renumbered.find((n) => n.status.meshlet === self.meshlet)
  const kept = placement.kept.some((s) => s.meshlet === self.meshlet)
  const nextPos = placement.next.findIndex((b) => b.meshlet === self.meshlet)
  const slots = Math.max(0, slotCount(w) - placement.completed.length - placement.lost.length)
  const othersLive = placement.kept.length + placement.evicted.length - (kept || eviction ? 1 : 0)
  const mine = ownStatuses.find(isClaimState)
  // A batch replica that may have started is never handed over: it runs to its end.
  const mayHaveStarted = w.kind === 'batch' && mine !== undefined && (mine.state !== 'pending' || placement.gates.get(self.meshlet)?.allowed === true)
  // Split acks: a pending claim on an unsettled number renounces it, once the grace has passed, for
  // a better-ranked rival that could settle (acks.ts, renounceFor), so a silent member cannot stall it.
  const rivals = gated && mine !== undefined && !mayHaveStarted && placement.tally ? [...placement.kept, ...placement.contending].filter((s) => s.replica === mine.replica) : []
  const renounceAt = rivals.length > 1 ? claimedAt(mine!) + splitGraceMs(w) : undefined
  let renounce: number | undefined
  let yieldTo: Did | undefined
  let wakeAt: number | undefined
  if (renounceAt !== undefined && Number.isFinite(renounceAt) && !self.draining && !self.recovering && !eviction) {
    const lateAt = renounceAt + LATE_SPLIT_GRACES * splitGraceMs(w)
    const late = input.now >= lateAt
    yieldTo = renounceFor(placement.tally!, w.cid, mine!.replica!, self.meshlet, rivals.map((s) => ({ meshlet: s.meshlet, priority: claimPriority(s) })), late)
    if (input.now < renounceAt) wakeAt = renounceAt
    else if (yieldTo !== undefined) renounce = mine!.replica
    else if (!late) wakeAt = lateAt
  }

  if (self.draining && (kept || eviction) && !(kept && mayHaveStarted)) {
    actions.push({ type: 'release', reason: 'draining: handing this replica over to another meshlet' })
  } else if (self.recovering && kept && othersLive >= slots && !(gated && mayHaveStarted)) {
    actions.push({ type: 'release', reason: `replaced while this meshlet was away: ${othersLive} other live claim(s) hold all ${slots} slot(s)` })
  } else if (eviction) {
    actions.push({ type: 'release', reason: eviction.reason })
  } else if (renumbering) {
    actions.push({ type: 'renumber', replica: renumbering.to, reason: renumbering.reason })
  } else if (renounce !== undefined) {
    const t = placement.tally!
    actions.push({ type: 'release', reason: `lost claim conflict: renounced replica ${renounce} to ${yieldTo} (split acks ${ackCount(t, renounce, yieldTo!)} vs ${ackCount(t, renounce, self.meshlet)} of ${t.electorateSize}), still unsettled after ${splitGraceMs(w)} ms` })
  } else if (nextPos >= 0) {
    const bid = placement.next[nextPos]
    const late = offer.kind === 'bid' ? (lateOfferWait(w, bid, bids, eligible, input.firstSeenAt, input.now, input.verifyBid, sample?.members) ?? holderWait(w, preferred, bids, eligible, self.meshlet, window.closesAt, input.now)) : undefined
    if (late !== undefined) {
      wakeAt = wakeAt === undefined ? late : Math.min(wakeAt, late)
    } else if (roll?.holdClaim !== undefined) {
      // issue 12 (rollout): not its turn to leave the old version, or the version failed
    } else if (offer.kind === 'bid') {
      actions.push({ type: 'claim', bid: { uri: bid.uri, cid: bid.cid }, priority: bid.priority, replica: replicaIndexFor([...placement.taken, ...ownRenounced(w, bids, self.meshlet)], nextPos) })
    } else if (ownCurrent.every(removable)) {
      for (const b of ownCurrent) actions.push({ type: 'withdraw', rkey: b.rkey, reason: `can no longer run it: ${offer.reason}` })
      if (!quiet) actions.push(offerAction(offer))
    }
  } else if (mayOffer && ownCurrent.length === 0 && ((placement.openSlots > 0 && sampled) || (gated && electorate.has(self.meshlet) && placement.kept.length > 0))) {
    // (Batch at-most-once: a member with no record offers anyway, so it has a record to ack in;
    // that decline is written even past the decline budget.)
    const mustAck = gated && electorate.has(self.meshlet) && placement.kept.length > 0
    if (!quiet || mustAck) actions.push(offerAction(offer))
    // issue 16 (sampled bidding): a widened ring may be the only late offerer: no other record wakes it to claim.
    if (sample && sample.rings.rings.length > 1 && offer.kind === 'bid' && Number.isFinite(w.bidWindowMs) && w.bidWindowMs > 0) wakeAt = input.now + Math.floor(w.bidWindowMs)
  } else if (mayOffer && placement.queued && offer.kind === 'bid' && isDeclined(w, ownCurrent, eligible) && ownCurrent.every(removable)) {
    for (const b of ownCurrent) actions.push({ type: 'withdraw', rkey: b.rkey, reason: 'capacity freed: re-offering' })
    actions.push(offerAction(offer))
  }
  if (roll?.release !== undefined && !actions.some((a) => a.type === 'release' || a.type === 'claim')) actions.push({ type: 'release', reason: roll.release })
  // A full view (core/full-view.ts) in which its own service claim does not count (a record it
  // stands on was not kept) cannot tell whether a rival holds the replica: it lets go.
  if (missing && mine && !kept && !gated && !actions.some((a) => a.type === 'release')) actions.push({ type: 'release', reason: `lost claim conflict: ${FULL_VIEW_RELEASE}` })
  if (roll?.wakeAt !== undefined) wakeAt = wakeAt === undefined ? roll.wakeAt : Math.min(wakeAt, roll.wakeAt)
  if (ringWake !== undefined && placement.openSlots > 0) wakeAt = wakeAt === undefined ? ringWake : Math.min(wakeAt, ringWake)
  // A member acks only once it has heard every member it deems alive (a bid or decline each), or a
  // grace after its window: acking the first claim seen splits the acks when windows close early.
  const heardAll = [...eligible.keys()].every((m) => !electorate.has(m) || bids.some((b) => b.meshlet === m && b.workload.cid === w.cid))
  const ackAt = window.closesAt + splitGraceMs(w)
  const mayAck = electorate.has(self.meshlet) && (heardAll || input.now >= ackAt)
  if (gated && electorate.has(self.meshlet) && !mayAck && placement.kept.length > 0) wakeAt = wakeAt === undefined ? ackAt : Math.min(wakeAt, ackAt)
  if (gated && (mayAck || renounce !== undefined)) {
    const ack = ackAction(w, bids, self.meshlet, placement, actions, mayAck, renounce)
    // The renunciation must land before the release (a repo's commits arrive in order).
    if (ack) actions.splice(renounce !== undefined ? actions.findIndex((a) => a.type === 'release') : actions.length, 0, ack)
  }
  return result(placement.queued ? 'queued' : 'placed', placement.outcomes, wakeAt)
}

/**
 * A LATE OFFER (made after this peer's bid window for the cid closed: a slot opened when a holder
 * lapsed or yielded, and every peer that waited in line offers at once) waits a window of its own
 * before it claims: until `bidWindowMs` after the offer's createdAt (this peer's own clock, like
 * `now`), or until every eligible meshlet has an offer for the cid. Otherwise each late offerer sees
 * only its own offer, claims, and one of them is evicted a moment later: with one replica that is
 * a second copy started for nothing. Local restraint only; no other peer checks it. Returns when to
 * claim (epoch ms) while it must wait, else undefined.
 */
function lateOfferWait(w: Workload, own: Bid, bids: Bid[], eligible: ReadonlyMap<Did, EligibleMeshlet>, firstSeenAt: number, now: number, verify?: BidVerifier, answerers?: ReadonlySet<Did>): number | undefined {
  const windowMs = Number.isFinite(w.bidWindowMs) && w.bidWindowMs > 0 ? w.bidWindowMs : 0
  const offeredAt = Date.parse(own.createdAt)
  // (An offer dated after `now` means this clock stepped back: no wait rather than a stall.)
  if (windowMs === 0 || !Number.isFinite(offeredAt) || offeredAt < firstSeenAt + windowMs || offeredAt > now) return undefined
  const until = offeredAt + windowMs
  if (now >= until) return undefined
  return bidWindow(w, bids, eligible, offeredAt, now, verify, answerers).reason === 'all-answered' ? undefined : until
}

/**
 * A PREFERRED HOLDER's offer (volume holder, old-version holder: the candidates placement asks
 * first) may land after this peer's window closed on a loaded network; a claim made meanwhile is
 * kept and the holder's data or running version would be moved for nothing. So a candidate that is
 * not itself a preferred holder waits, up to a grace past its window ({@link splitGraceMs}), until
 * every eligible preferred holder has an offer (bid or decline) for the cid. Local restraint only.
 */
function holderWait(w: Workload, preferred: ReadonlySet<Did> | undefined, bids: Bid[], eligible: ReadonlyMap<Did, EligibleMeshlet>, self: Did, windowClosesAt: number, now: number): number | undefined {
  if (!preferred || preferred.size === 0 || preferred.has(self)) return undefined
  const until = windowClosesAt + splitGraceMs(w)
  if (!Number.isFinite(until) || now >= until) return undefined
  for (const m of preferred) {
    if (eligible.has(m) && !bids.some((b) => b.meshlet === m && b.workload?.cid === w.cid)) return until
  }
  return undefined
}

/**
 * The ack rule: with its window closed, a member acks (i, M) for every claim M kept for replica
 * number i in its placement, in its own counting record, unless that record already acks i
 * (once per number, never changed). Not while it withdraws that record in this same decision.
 * `renounce`: also append that number to the record's `renounced` (the split rule above).
 */
function ackAction(w: Workload, bids: Bid[], self: Did, placement: Placement, actions: PeerAction[], member: boolean, renounce?: number): PeerAction | undefined {
  const record = countingRecord(w, bids, self)
  if (!record || actions.some((a) => a.type === 'withdraw' && a.rkey === record.rkey)) return undefined
  const have = validAcks(record, slotCount(w))
  const spoiled = new Set((record.acks ?? []).map((a) => a.replica))
  const added: Ack[] = []
  const releasing = actions.some((a) => a.type === 'release')
  for (const s of member ? placement.kept : []) {
    if (s.meshlet === self && releasing) continue // never ack a claim it is giving up
    if (!have.has(s.replica!) && !spoiled.has(s.replica!)) added.push({ replica: s.replica!, meshlet: s.meshlet })
  }
  const why = added.map((a) => `replica ${a.replica} -> ${a.meshlet}`)
  if (renounce !== undefined) why.push(`renounced replica ${renounce}`)
  if (why.length === 0) return undefined
  const out: PeerAction = { type: 'ack', rkey: record.rkey, acks: mergeAcks(record.acks ?? [], added), reason: why.join(', ') }
  if (renounce !== undefined || record.renounced) out.renounced = mergeRenounced(record.renounced ?? [], renounce !== undefined ? [renounce] : [])
  return out
}

/** Numbers this meshlet renounced (never claimed again: its claim on them would only be evicted). */
function ownRenounced(w: Workload, bids: Bid[], self: Did): number[] {
  return isAckGated(w) ? [...validRenounced(countingRecord(w, bids, self), slotCount(w))] : []
}

/** When this meshlet's claim was written (its own clock, like `now`); unparseable: never renounce early. */
function claimedAt(s: WorkloadStatus): number {
  const t = Date.parse(s.startedAt ?? s.updatedAt ?? '')
  return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY
}

/** Whether this meshlet's counting record for the current cid is a decline. */
function isDeclined(w: Workload, ownCurrent: Bid[], eligible: ReadonlyMap<Did, EligibleMeshlet>): boolean {
  if (ownCurrent.length === 0) return false
  return classifyBids(w, ownCurrent, eligible).declined.length > 0 // declines are never verified
}

/** While this peer's window is open, "next in line" is only provisional: say so. */
function provisional(p: Placement): BidOutcome[] {
  const next = new Set(p.next.map((b) => b.meshlet))
  return p.outcomes.map((o) => (next.has(o.meshlet) && o.outcome === 'won' ? { ...o, reason: `bid window open: ${o.reason}` } : o))
}
