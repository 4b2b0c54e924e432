// Sampled bidding (issue 16, docs/protocol.md "Sampled bidding"): only a deterministic sample of
// the eligible meshlets offers for a workload, so the records written per workload stay
// O(replicas + k) whatever the commune's size. Pure: every peer with the same view computes the
// same rings. The sample is the honest peers' OFFER POLICY, not a validity rule: a bid from
// outside it is still valid and counted (validity is what every peer can check; membership would
// depend on each peer's liveness view).
import { isAckGated } from './acks.js'
import { sha256Hex } from './hash.js'
import { isClaimState } from './placement.js'
import { classifyBids, compareStrings, slotCount, type BidVerifier, type EligibleMeshlet } from './selection.js'
import type { Bid, Cid, Did, Workload, WorkloadStatus } from './types.js'

/**
 * Candidates asked per replica (ring size = replicas x SAMPLE_K). Two, as in Sparrow's power of
 * two choices: with one candidate per slot a single decline or a slow peer costs a whole widening
 * step; with two the best of a pair is usually a good fit, and Bacalhau's over-ask shows more
 * buys little once declines widen the sample anyway.
 */
export const SAMPLE_K = 2
/**
 * A ring never has fewer members than this: communes of up to 12 eligible meshlets (the friends
 * and small communities meshlet is for) bid exactly as before, and a ring of 12 is still a small
 * constant against a commune of hundreds.
 */
export const SAMPLE_MIN_RING = 12

export type SampleWorkload = Pick<Workload, 'uri' | 'cid' | 'replicas' | 'owner' | 'bidWindowMs' | 'kind' | 'delivery'>

/** Members per ring: max(SAMPLE_MIN_RING, replicas x SAMPLE_K). */
export function ringSize(w: Pick<Workload, 'replicas'>): number {
  return Math.max(SAMPLE_MIN_RING, slotCount(w) * SAMPLE_K)
}

/**
 * Whether a workload is sampled. Batch at-most-once is not: its acks are a quorum of the whole
 * electorate, so every member needs a record of its own to ack in (docs/protocol.md, Batch).
 */
export function isSampled(w: Pick<Workload, 'kind' | 'delivery'>): boolean {
  return !isAckGated(w)
}

/** The sample key of a meshlet for one workload version: SHA-256 of `${cid}|${did}`, 64 hex digits; lower is asked first. */
export function sampleKey(cid: Cid, did: Did): string {
  return sha256Hex(`${cid}|${did}`)
}

// Hashing every candidate on every evaluation costs ~1 ms at 1,000 peers; keys of the recent cids
// are kept (a bounded memo: the same value as recomputing, so still a pure function). The key's
// first 13 hex digits (52 bits) as a number sort the candidates; equal prefixes compare in full.
const MEMO_CIDS = 512
interface Key {
  n: number
  hex: string
}
const memo = new Map<Cid, Map<Did, Key>>()

function keyOf(cid: Cid, did: Did): Key {
  let m = memo.get(cid)
  if (!m) {
    if (memo.size >= MEMO_CIDS) memo.delete(memo.keys().next().value!)
    memo.set(cid, (m = new Map()))
  }
  let k = m.get(did)
  if (k === undefined) {
    const hex = sampleKey(cid, did)
    m.set(did, (k = { n: parseInt(hex.slice(0, 13), 16), hex }))
  }
  return k
}

/** Candidates in sample order: sampleKey ascending, then DID (a full SHA-256 collision only). */
export function sampleOrder(cid: Cid, candidates: Iterable<Did>): Did[] {
  const keyed: { d: Did; k: Key }[] = []
  for (const d of candidates) keyed.push({ d, k: keyOf(cid, d) })
  keyed.sort((a, b) => a.k.n - b.k.n || compareStrings(a.k.hex, b.k.hex) || compareStrings(a.d, b.d))
  return keyed.map((x) => x.d)
}

export interface Rings {
  /** rings[0] = the pinned candidates plus the first ringSize in sample order; then ringSize each. Every eligible meshlet is in exactly one ring. */
  rings: Did[][]
  ringOf: Map<Did, number>
}

/**
 * The rings of one workload version over `eligible`. Ring 0 = the first ringSize(w) candidates in
 * sample order PLUS every pinned one (counted once): the candidates the protocol already prefers.
 * Later rings take the rest in sample order, ringSize each. Pinned meshlets that are not eligible
 * are ignored. At most ringSize eligible: one ring of all of them, in DID order (nothing hashed).
 */
export function sampleRings(w: Pick<Workload, 'cid' | 'replicas'>, eligible: ReadonlyMap<Did, EligibleMeshlet>, pinned: Iterable<Did> = []): Rings {
  const size = ringSize(w)
  if (eligible.size <= size) {
    // One ring holds everybody (a small commune): no hashing, DID order.
    const all = [...eligible.keys()].sort(compareStrings)
    return { rings: [all], ringOf: new Map(all.map((d) => [d, 0])) }
  }
  const order = sampleOrder(w.cid, eligible.keys())
  const pin = new Set([...pinned].filter((d) => eligible.has(d)))
  const rings: Did[][] = [order.slice(0, size)]
  for (const d of rings[0]) pin.delete(d)
  rings[0].push(...sampleOrder(w.cid, pin))
  const rest = order.slice(size).filter((d) => !pin.has(d))
  for (let i = 0; i < rest.length; i += size) rings.push(rest.slice(i, i + size))
  const ringOf = new Map<Did, number>()
  rings.forEach((ring, r) => ring.forEach((d) => ringOf.set(d, r)))
  return { rings, ringOf }
}

/**
 * The meshlets pinned into ring 0 of a workload: `preferred` (volume holders, old-version
 * holders), the meshlets holding a claim on the current version, and the owner's own meshlets
 * (owner first: the owner's machine must be able to offer, and preempt guests for it; at most
 * ringSize of them, first in sample order).
 */
export function pinnedCandidates(w: Pick<Workload, 'uri' | 'cid' | 'owner' | 'replicas'>, eligible: ReadonlyMap<Did, EligibleMeshlet>, statuses: readonly WorkloadStatus[], preferred?: ReadonlySet<Did>): Set<Did> {
  const out = new Set<Did>(preferred ?? [])
  for (const s of statuses) if (s.workload?.uri === w.uri && s.workload.cid === w.cid && isClaimState(s)) out.add(s.meshlet)
  const own = [...eligible.values()].filter((e) => e.owner === w.owner).map((e) => e.meshlet)
  // At most a ring's worth, first in sample order, so an owner of many machines does not undo the sample.
  for (const d of sampleOrder(w.cid, own).slice(0, ringSize(w))) out.add(d)
  return out
}

export type RingReason = 'enough offers' | 'declines' | 'silence' | 'all rings open'

export interface SampleState {
  rings: Rings
  /** How many rings are open (1 = ring 0 only). */
  open: number
  /** Members of the open rings: the meshlets that offer now, and whose answers close the window early. */
  members: Set<Did>
  /** Why no further ring is open (or why the last one opened). */
  reason: RingReason
  /** When the next ring opens by time if too few offers still hold (this peer's clock); absent when none would. */
  nextAt?: number
}

/**
 * Which rings are open now, as THIS peer sees it. Ring 0 is always open. While the valid offers
 * (bids from any eligible meshlet, in or out of the sample) are fewer than the slots, ring r+1
 * opens:
 * - at once when even an offer from every unanswered member of the open rings would not fill the
 *   slots ("declines": valid + unanswered < slots);
 * - else at firstSeenAt + (r+1) x bidWindowMs on this peer's clock ("silence": members that said
 *   nothing for a whole window).
 * A window of 0 opens every ring at once (nobody waits). Valid offers >= slots: nothing widens.
 */
export function openRings(w: SampleWorkload, rings: Rings, bids: readonly Bid[], eligible: ReadonlyMap<Did, EligibleMeshlet>, firstSeenAt: number, now: number, verify?: BidVerifier): SampleState {
  const members = new Set<Did>(rings.rings[0] ?? [])
  if (rings.rings.length <= 1) return { rings, open: 1, members, reason: 'all rings open' }
  const slots = slotCount(w)
  const windowMs = Number.isFinite(w.bidWindowMs) && w.bidWindowMs > 0 ? Math.floor(w.bidWindowMs) : 0
  const c = classifyBids(w, bids, eligible, verify)
  const valid = c.valid.length
  const answered = new Set<Did>([...c.valid, ...c.declined].map((b) => b.meshlet))
  let open = 1
  let reason: RingReason = 'enough offers'
  let unanswered = 0
  for (const d of members) if (!answered.has(d)) unanswered++
  while (open < rings.rings.length && valid < slots) {
    const opensAt = firstSeenAt + open * windowMs
    if (valid + unanswered < slots) reason = 'declines'
    else if (now >= opensAt) reason = 'silence'
    else return { rings, open, members, reason, nextAt: opensAt }
    for (const d of rings.rings[open]) {
      members.add(d)
      if (!answered.has(d)) unanswered++
    }
    open++
  }
  if (open >= rings.rings.length && valid < slots) reason = 'all rings open'
  return { rings, open, members, reason }
}

/** Everything decide needs: undefined when the workload is not sampled (every eligible meshlet offers, as before). */
export function sampleFor(
  w: SampleWorkload,
  bids: readonly Bid[],
  statuses: readonly WorkloadStatus[],
  eligible: ReadonlyMap<Did, EligibleMeshlet>,
  preferred: ReadonlySet<Did> | undefined,
  firstSeenAt: number,
  now: number,
  verify?: BidVerifier,
): SampleState | undefined {
  if (!isSampled(w)) return undefined
  const rings = sampleRings(w, eligible, eligible.size <= ringSize(w) ? [] : pinnedCandidates(w, eligible, statuses, preferred))
  return openRings(w, rings, bids, eligible, firstSeenAt, now, verify)
}

/** "not in the sample: ring 2 of 4, 1 ring(s) open (enough offers)": why an eligible meshlet does not offer. */
export function sampledOutReason(s: SampleState, self: Did): string {
  const ring = s.rings.ringOf.get(self)
  const where = ring === undefined ? 'not a candidate' : `ring ${ring} of ${s.rings.rings.length}`
  return `not in the sample: ${where}, ${s.open} ring(s) open (${s.reason})`
}
