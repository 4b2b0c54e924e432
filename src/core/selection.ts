// Bid validity, ordering and winner selection (PROTOCOL §3). Pure: every peer that runs this on
// the same public records gets the same answer, whatever order the records arrived in.
import { tiebreak } from './hash.js'
import type { AtUri, Bid, Cid, Did, Workload } from './types.js'

/** A meshlet allowed to run a workload (linkage, membership, constraints, fresh heartbeat), computed elsewhere. */
export interface EligibleMeshlet {
  meshlet: Did
  owner: Did
}

export type BidOutcomeKind = 'won' | 'lost' | 'invalid' | 'declined'

/**
 * Why a meshlet (or one of its records) won or did not: what `getWorkloadStatus` shows ("why not me?").
 * There is one outcome per meshlet that bid, declined or holds a status, plus one per extra
 * record that was ignored (duplicates, older versions, ineligible senders).
 */
export interface BidOutcome {
  meshlet: Did
  priority?: number
  outcome: BidOutcomeKind
  reason: string
  /** The record this outcome is about (a bid/decline uri, or a status uri for claims), when there is one. */
  record?: AtUri
}

/**
 * Checks what a bid claims against public records (docs/protocol.md, Verifiability): returns
 * undefined when the bid holds up, else the reason it does not (shown as "invalid: <reason>").
 * Applied to bids only, never to declines. Without one, every well-formed bid is taken as published.
 */
export type BidVerifier = (bid: Bid) => string | undefined

/** The workload fields selection reads. */
export type SelectionWorkload = Pick<Workload, 'uri' | 'cid' | 'replicas'>

export interface BidClassification {
  /** One valid bid per meshlet (its earliest record for the current cid, not a decline), sorted by meshlet DID. */
  valid: Bid[]
  /** Meshlets whose earliest record for the current cid is a decline, sorted by meshlet DID. */
  declined: Bid[]
  /** Records that do not count, each with a reason starting "invalid: ", sorted by meshlet then rkey. */
  invalid: { bid: Bid; reason: string }[]
}

export interface Selection {
  /** All valid bids in rank order (see {@link rankByPriority}). */
  ordered: Bid[]
  /** The first `replicas` of `ordered`. */
  winners: Bid[]
  /** A reason for every meshlet and every ignored record: winners, then losers in rank order, then declines, then invalid records. */
  outcomes: BidOutcome[]
}

/** Replica slots a workload asks for: `replicas` as a non-negative integer (garbage counts as 0). */
export function slotCount(workload: Pick<Workload, 'replicas'>): number {
  const r = workload.replicas
  return Number.isFinite(r) && r > 0 ? Math.floor(r) : 0
}

const NOT_ELIGIBLE = 'is not an eligible runner for this workload (linkage, membership, constraints or heartbeat)'

/** Code-unit string order (not locale order), so every peer and language sorts the same way. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** One record per uri, whatever the input repeats; a differing duplicate resolves to the greater record cid. */
export function dedupeByUri<T extends { uri: AtUri; cid?: Cid }>(records: readonly T[]): T[] {
  const byUri = new Map<AtUri, T>()
  for (const r of records) {
    const prev = byUri.get(r.uri)
    if (!prev || compareStrings(r.cid ?? '', prev.cid ?? '') > 0) byUri.set(r.uri, r)
  }
  return [...byUri.values()]
}

function isValidPriority(p: unknown): p is number {
  return typeof p === 'number' && Number.isSafeInteger(p) && p >= 0
}

/**
 * Rule 1, bid validity. A record counts only if it references the workload's current uri AND cid
 * (else invalid: "bid references an older version of the workload") and its meshlet is in
 * `eligible` (else invalid: "not eligible"). Per meshlet, among its records for the current cid,
 * the EARLIEST rkey (TIDs sort lexicographically = chronologically) is the one that counts: a
 * decline there means the meshlet declined; otherwise it is the meshlet's valid bid. Its other
 * records are invalid ("duplicate bid"). A peer re-offers or withdraws by deleting its record.
 * A bid (not a decline) whose priority is not a non-negative integer is invalid.
 */
export function classifyBids(workload: Pick<Workload, 'uri' | 'cid'>, bids: readonly Bid[], eligible: ReadonlyMap<Did, EligibleMeshlet>, verify?: BidVerifier): BidClassification {
  const invalid: { bid: Bid; reason: string }[] = []
  const byMeshlet = new Map<Did, Bid[]>()
  let problem: string | undefined
  for (const bid of dedupeByUri(bids)) {
    if (bid.workload?.uri !== workload.uri) {
      invalid.push({ bid, reason: `invalid: bid references another workload (${String(bid.workload?.uri)})` })
    } else if (bid.workload.cid !== workload.cid) {
      invalid.push({ bid, reason: `invalid: bid references an older version of the workload (cid ${bid.workload.cid}, current ${workload.cid})` })
    } else if (!eligible.has(bid.meshlet)) {
      invalid.push({ bid, reason: `invalid: not eligible: ${bid.meshlet} ${NOT_ELIGIBLE}` })
    } else if (bid.decline === undefined && !isValidPriority(bid.priority)) {
      invalid.push({ bid, reason: `invalid: priority must be a non-negative integer, got ${String(bid.priority)}` })
    } else if (bid.decline === undefined && verify && (problem = verify(bid)) !== undefined) {
      invalid.push({ bid, reason: `invalid: ${problem}` })
    } else {
      const list = byMeshlet.get(bid.meshlet)
      if (list) list.push(bid)
      else byMeshlet.set(bid.meshlet, [bid])
    }
  }
  const valid: Bid[] = []
  const declined: Bid[] = []
  for (const meshlet of [...byMeshlet.keys()].sort(compareStrings)) {
    const records = byMeshlet.get(meshlet)!.sort((a, b) => compareStrings(a.rkey, b.rkey) || compareStrings(a.uri, b.uri))
    const [first, ...rest] = records
    if (first.decline !== undefined) declined.push(first)
    else valid.push(first)
    for (const dup of rest) invalid.push({ bid: dup, reason: `invalid: duplicate bid (only this meshlet's earliest record, rkey ${first.rkey}, counts)` })
  }
  invalid.sort((a, b) => compareStrings(a.bid.meshlet, b.bid.meshlet) || compareStrings(a.bid.rkey, b.bid.rkey) || compareStrings(a.bid.uri, b.bid.uri))
  return { valid, declined, invalid }
}

/**
 * Rule 2, the order every peer agrees on: `priority` descending, then ascending on
 * `tiebreak(cid, meshlet)` (FNV-1a 64 of `${cid}|${did}` as 16 hex digits), then meshlet DID
 * string order as a last resort. Returns a sorted copy; the input is untouched.
 */
export function rankByPriority<T>(items: readonly T[], cid: Cid, meshletOf: (item: T) => Did, priorityOf: (item: T) => number): T[] {
  // Hash once per item, not once per comparison.
  const keyed = items.map((item) => ({ item, p: priorityOf(item), h: tiebreak(cid, meshletOf(item)), d: meshletOf(item) }))
  keyed.sort((a, b) => b.p - a.p || compareStrings(a.h, b.h) || compareStrings(a.d, b.d))
  return keyed.map((k) => k.item)
}

/** Valid bids in rank order ({@link rankByPriority} by bid priority). */
export function orderBids(cid: Cid, valid: readonly Bid[]): Bid[] {
  return rankByPriority(valid, cid, (b) => b.meshlet, (b) => b.priority)
}

/** "rank 3 of 4, replicas 2" */
export function rankLabel(index: number, total: number, replicas: number): string {
  return `rank ${index + 1} of ${total}, replicas ${replicas}`
}

/** ", equal priority broken by hash tiebreak" when two ranked entries tie on priority. */
export function tieNote(a: number, b: number): string {
  return a === b ? ', equal priority broken by hash tiebreak' : ''
}

/** Outcomes for declines and invalid records, shared by selection and placement. */
export function declineAndInvalidOutcomes(c: BidClassification): BidOutcome[] {
  const out: BidOutcome[] = []
  for (const d of c.declined) {
    out.push({ meshlet: d.meshlet, outcome: 'declined', reason: `declined: ${d.decline || '(no reason given)'}`, record: d.uri })
  }
  for (const { bid, reason } of c.invalid) {
    out.push({ meshlet: bid.meshlet, ...(isValidPriority(bid.priority) && bid.decline === undefined ? { priority: bid.priority } : {}), outcome: 'invalid', reason, record: bid.uri })
  }
  return out
}

/**
 * Rule 3, winners by bids alone: the first `replicas` valid bids in rank order (rules 1 and 2).
 * Every peer that sees the same records gets the same winners. Because peers close their
 * windows with different bid sets, the running set is decided by claims ({@link resolvePlacement}
 * in placement.ts); this is the bid-level ranking it starts from. Every meshlet and ignored
 * record gets a human reason, e.g. "rank 3 of 4, replicas 2: outranked by did:plc:x
 * (priority 700 vs 650)", "declined: insufficient memory ...", "invalid: duplicate bid ...".
 */
export function selectWinners(workload: SelectionWorkload, bids: readonly Bid[], eligible: ReadonlyMap<Did, EligibleMeshlet>, verify?: BidVerifier): Selection {
  const c = classifyBids(workload, bids, eligible, verify)
  const replicas = slotCount(workload)
  const ordered = orderBids(workload.cid, c.valid)
  const winners = ordered.slice(0, replicas)
  const lastWinner = winners[winners.length - 1]
  const outcomes: BidOutcome[] = ordered.map((b, i) => {
    const rank = rankLabel(i, ordered.length, replicas)
    if (i < replicas) return { meshlet: b.meshlet, priority: b.priority, outcome: 'won', reason: `${rank}: won with priority ${b.priority}`, record: b.uri }
    const reason = lastWinner
      ? `${rank}: outranked by ${lastWinner.meshlet} (priority ${lastWinner.priority} vs ${b.priority}${tieNote(lastWinner.priority, b.priority)})`
      : `${rank}: the workload asks for no replicas`
    return { meshlet: b.meshlet, priority: b.priority, outcome: 'lost', reason, record: b.uri }
  })
  outcomes.push(...declineAndInvalidOutcomes(c))
  return { ordered, winners, outcomes }
}

export interface BidWindow {
  closed: boolean
  /** firstSeenAt + bidWindowMs: when the window closes by timeout (epoch ms). */
  closesAt: number
  reason: 'all-answered' | 'timeout' | 'open'
}

/**
 * Rule 4, the bid window of one workload version as THIS peer sees it: it closes at
 * `firstSeenAt + bidWindowMs` (firstSeenAt = when this peer first saw this cid), or EARLY as soon
 * as every eligible meshlet (with sampled bidding: every member of the open rings, `answerers`)
 * has a valid bid or a decline for the current cid ("all-answered", checked first; vacuously true
 * when nobody is eligible). A negative or non-finite window counts as 0.
 */
export function bidWindow(
  workload: Pick<Workload, 'uri' | 'cid' | 'bidWindowMs'>,
  bids: readonly Bid[],
  eligible: ReadonlyMap<Did, EligibleMeshlet>,
  firstSeenAt: number,
  now: number,
  verify?: BidVerifier,
  /** issue 16 (sampled bidding): the meshlets whose answers close the window early (core/sample.ts); default every eligible one. */
  answerers?: Iterable<Did>,
): BidWindow {
  const windowMs = Number.isFinite(workload.bidWindowMs) && workload.bidWindowMs > 0 ? workload.bidWindowMs : 0
  const closesAt = firstSeenAt + windowMs
  const c = classifyBids(workload, bids, eligible, verify)
  const answered = new Set<Did>([...c.valid, ...c.declined].map((b) => b.meshlet))
  let all = true
  for (const m of answerers ?? eligible.keys()) {
    if (!answered.has(m)) {
      all = false
      break
    }
  }
  if (all) return { closed: true, closesAt, reason: 'all-answered' }
  if (now >= closesAt) return { closed: true, closesAt, reason: 'timeout' }
  return { closed: false, closesAt, reason: 'open' }
}
