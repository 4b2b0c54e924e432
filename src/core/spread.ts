// Burst spread (issue 16, part 2). Two halves:
// - AGREED: a bid's fit drops by SPREAD_STEP points per replica its bidder already had in hand
//   (bids in open windows, claims not running yet), as published in the bid's own capacity snapshot
//   (`pendingReplicas`), so a peer taking on a burst ranks lower for the next workload of it. Every
//   verifier recomputes it from the snapshot (core/priority.ts fitParts) and checks its bound
//   (core/bid-verify.ts).
// - LOCAL: the order in which one peer bids on a batch of new workloads. The penalty grows with every
//   bid of the batch, so if all peers took the workloads in the same order the i-th workload would
//   cost every peer the same and the few points of fair share would hand the whole burst to one
//   peer. Each peer takes first the workloads a rendezvous hash gives it (spreadKey), so the
//   cheapest bid for each workload comes from a different peer. Nobody checks this order: it only
//   decides which of its own bids a peer writes first.
import { fnv1a64Hex } from './hash.js'
import type { Cid, Did } from './types.js'

/** Points of fit one pending replica costs. */
export const SPREAD_STEP = 10
/** The most the spread term takes off a fit. */
export const SPREAD_MAX = 200
/** The largest pendingReplicas a bid may name (the lexicon's bound). */
export const PENDING_REPLICAS_MAX = 65_536

/**
 * min(SPREAD_MAX, SPREAD_STEP x pendingReplicas), an integer in [0, 200]. None named (bids written
 * before this term) counts as 0, so older bids keep their priority; a value out of bounds makes the
 * bid invalid in bid-verify before this is reached, and scores 0 here.
 */
export function spreadPenalty(pendingReplicas: number | undefined): number {
  if (typeof pendingReplicas !== 'number' || !Number.isSafeInteger(pendingReplicas) || pendingReplicas <= 0) return 0
  return Math.min(SPREAD_MAX, SPREAD_STEP * Math.min(pendingReplicas, PENDING_REPLICAS_MAX))
}

/** Why a bid's pendingReplicas is out of bounds, or undefined when it is fine (or not named). */
export function pendingReplicasProblem(pendingReplicas: unknown): string | undefined {
  if (pendingReplicas === undefined) return undefined
  if (typeof pendingReplicas === 'number' && Number.isSafeInteger(pendingReplicas) && pendingReplicas >= 0 && pendingReplicas <= PENDING_REPLICAS_MAX) return undefined
  return `capacity pendingReplicas ${String(pendingReplicas)} is not a whole number within 0..${PENDING_REPLICAS_MAX}`
}

/**
 * A meshlet's rendezvous key for one workload version, lower first: fnv1a64Hex(did|cid|did). Not
 * the selection tiebreak (cid|did): FNV barely mixes the last bytes into the top bits, so DIDs that
 * differ only at the end (peer01, peer02) would rank in the same order for most workloads. Here
 * whatever varies (the DID, the cid) is followed by enough bytes to mix it.
 */
export function spreadKey(cid: Cid, did: Did): string {
  return fnv1a64Hex(`${did}|${cid}|${did}`)
}

/** Above this many (workload, candidate) pairs, the order falls back to the own tiebreak key alone. */
export const SPREAD_ORDER_MAX_PAIRS = 200_000

/**
 * The order one peer evaluates a batch of workloads in (local, unchecked): first those where `self`
 * ranks best among `candidates` on spreadKey (its rendezvous rank: how many candidates sort before
 * it), then by its own key, then by uri. `candidates` are
 * the meshlets that might bid (self included or not); a large batch (more than
 * SPREAD_ORDER_MAX_PAIRS pairs) uses the own key alone, which still differs per peer.
 */
export function spreadOrder<T extends { uri: string; cid: Cid }>(workloads: readonly T[], self: Did, candidates: readonly Did[]): T[] {
  const others = candidates.filter((d) => d !== self)
  const rendezvous = workloads.length * others.length <= SPREAD_ORDER_MAX_PAIRS
  const keyed = workloads.map((w) => {
    const own = spreadKey(w.cid, self)
    let rank = 0
    if (rendezvous) for (const d of others) if (spreadKey(w.cid, d) < own) rank++
    return { w, rank, own }
  })
  keyed.sort((a, b) => a.rank - b.rank || (a.own < b.own ? -1 : a.own > b.own ? 1 : 0) || (a.w.uri < b.w.uri ? -1 : a.w.uri > b.w.uri ? 1 : 0))
  return keyed.map((k) => k.w)
}
