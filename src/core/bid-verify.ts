// Checking what a bid claims against public records (docs/protocol.md, "Priorities, recomputed"):
// its epoch and resources against the workload, its capacity against the bidder's published
// totals, and its priority against the one every peer recomputes from the ledger. Pure.
import { workloadEpoch } from './epoch.js'
import { bidPriority, type PriorityParts } from './priority.js'
import { pendingReplicasProblem } from './spread.js'
import type { BidVerifier } from './selection.js'
import type { Bid, Did, Profile, Resources, Workload } from './types.js'

// Date.parse per check is measurable at 10,000 bids a pass; createdAt strings repeat across bids.
const epochCache = new Map<string, number>()

export function sameResources(a: Resources, b: Resources): boolean {
  return a.cpuMillis === b.cpuMillis && a.memoryMb === b.memoryMb && (a.storageMb ?? 0) === (b.storageMb ?? 0)
}

export function formatResources(r: Resources): string {
  return `${r.cpuMillis}m/${r.memoryMb}MiB${r.storageMb ? `/${r.storageMb}MiB disk` : ''}`
}

/** What checking a bid needs to know, all from public records. */
export interface BidCheckContext {
  /** The workload record, when the version the bid names (uri and cid) is the one on record. */
  workload?: Pick<Workload, 'uri' | 'cid' | 'resources' | 'createdAt'>
  /** The bidder's profile (its published totals bound its capacity). */
  profile?: Pick<Profile, 'cpuMillis' | 'memoryMb'>
  /** The bidder's verified owner. */
  owner?: Did
  /** Ledger balance of an owner at an epoch boundary. */
  balanceAt: (owner: Did, epoch: number) => bigint
}

export type BidCheck = { ok: true; parts: PriorityParts; epoch: number; balance: bigint } | { ok: false; reason: string; parts?: PriorityParts }

// Stryker disable next-line ConditionalExpression: the typeof only narrows the type; Number.isSafeInteger is false for non-numbers
const isNat = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/**
 * A bid (not a decline) holds up when, in this order:
 * - it names an epoch, equal to epochOf(workload.createdAt) while that version is on record;
 * - it carries `resources`, equal to the workload's while that version is on record;
 * - it carries a capacity whose cpuMillisFree / memoryMbFree are within the totals it names (or, for a
 *   bid that names none, the bidder's current profile totals);
 * - the bidder has a verified owner;
 * - its priority equals bidPriority(balance(owner, epoch), capacity, totals, resources).
 * Otherwise the reason (the selection hook prefixes "invalid: ").
 */
export function checkBid(bid: Bid, ctx: BidCheckContext): BidCheck {
  const w = ctx.workload && ctx.workload.uri === bid.workload?.uri && ctx.workload.cid === bid.workload.cid ? ctx.workload : undefined
  if (!isNat(bid.epoch)) return { ok: false, reason: 'bid names no ledger epoch' }
  if (w) {
    let want = epochCache.get(w.createdAt)
    // Stryker disable next-line ConditionalExpression: recomputing a cached epoch gives the same epoch
    if (want === undefined) {
      // Stryker disable next-line ConditionalExpression,EqualityOperator,CallExpression: the bound only limits memory; every variant gives the same epochs
      if (epochCache.size >= 10_000) epochCache.clear() // a cache, not a store: bounded
      epochCache.set(w.createdAt, (want = workloadEpoch(w)))
    }
    if (bid.epoch !== want) return { ok: false, reason: `epoch ${bid.epoch} is not the workload's epoch ${want} (created ${w.createdAt})` }
  }
  const r = bid.resources
  if (!r || !isNat(r.cpuMillis) || !isNat(r.memoryMb)) return { ok: false, reason: 'bid carries no copy of the workload resources' }
  if (w && !sameResources(r, w.resources)) return { ok: false, reason: `resources ${formatResources(r)} differ from the workload's ${formatResources(w.resources)}` }
  const c = bid.capacity
  if (!c || !isNat(c.cpuMillisFree) || !isNat(c.memoryMbFree)) return { ok: false, reason: 'bid carries no capacity snapshot' }
  const totals = bidTotals(bid, ctx.profile)
  if (typeof totals === 'string') return { ok: false, reason: totals }
  if (c.cpuMillisFree > totals.cpuMillis) return { ok: false, reason: `capacity cpuMillisFree ${c.cpuMillisFree} exceeds the ${totals.source} ${totals.cpuMillis}` }
  if (c.memoryMbFree > totals.memoryMb) return { ok: false, reason: `capacity memoryMbFree ${c.memoryMbFree} exceeds the ${totals.source} ${totals.memoryMb}` }
  const pending = pendingReplicasProblem(c.pendingReplicas) // burst spread (issue 16)
  if (pending) return { ok: false, reason: pending }
  if (!ctx.owner) return { ok: false, reason: `${bid.meshlet} has no verified owner, so it has no ledger balance` }
  const balance = ctx.balanceAt(ctx.owner, bid.epoch)
  const parts = bidPriority({ balance, capacity: c, totals: { cpuMillis: totals.cpuMillis, memoryMb: totals.memoryMb }, need: r })
  if (bid.priority !== parts.priority) {
    return { ok: false, parts, reason: `priority ${bid.priority} does not match the recomputed ${parts.priority} = fairShare ${parts.fairShare} + fit ${parts.fit}` }
  }
  return { ok: true, parts, epoch: bid.epoch, balance }
}

/** The published caps on the totals a bid may name (the lexicon's bounds, as for a workload's resources). */
export const MAX_CPU_MILLIS_TOTAL = 1_048_576
export const MAX_MEMORY_MB_TOTAL = 16_777_216

/**
 * The totals a bid's priority is computed against (docs/protocol.md, "Priorities, recomputed"): the
 * ones the bid names in its capacity (the bidder's profile totals when it bid), within the
 * published caps, so a profile changed later (a RAM upgrade) or deleted does not make old bids
 * unverifiable. A bid that names none (written before totals were named) is checked against the
 * bidder's current profile, as before. Or why neither works.
 */
export function bidTotals(bid: Bid, profile: Pick<Profile, 'cpuMillis' | 'memoryMb'> | undefined): { cpuMillis: number; memoryMb: number; source: string } | string {
  const c = bid.capacity!
  const named = [c.cpuMillisTotal, c.memoryMbTotal].filter((t) => t !== undefined).length
  if (named === 2) {
    if (!isNat(c.cpuMillisTotal) || !isNat(c.memoryMbTotal) || c.cpuMillisTotal > MAX_CPU_MILLIS_TOTAL || c.memoryMbTotal > MAX_MEMORY_MB_TOTAL) {
      return `capacity totals ${String(c.cpuMillisTotal)}m/${String(c.memoryMbTotal)}MiB are not whole numbers within ${MAX_CPU_MILLIS_TOTAL}m/${MAX_MEMORY_MB_TOTAL}MiB`
    }
    return { cpuMillis: c.cpuMillisTotal, memoryMb: c.memoryMbTotal, source: 'total the bid names' }
  }
  if (named === 1) return 'capacity names only one of cpuMillisTotal and memoryMbTotal'
  if (!profile) return `${bid.meshlet} has no profile, so its capacity cannot be checked`
  return { cpuMillis: profile.cpuMillis, memoryMb: profile.memoryMb, source: "bidder's published total" }
}

/** Where a verifier finds the records a check needs. */
export interface BidVerifySource {
  workload(uri: string): Pick<Workload, 'uri' | 'cid' | 'resources' | 'createdAt'> | undefined
  profile(meshlet: Did): Pick<Profile, 'cpuMillis' | 'memoryMb'> | undefined
  ownerOf(meshlet: Did): Did | undefined
  balanceAt(owner: Did, epoch: number): bigint
}

/**
 * A BidVerifier over `source`, memoised per bid record object (records are immutable values; the
 * view hands out the same object until the record changes): decide classifies the same bids
 * several times per pass, and the ledger checks the bids its statuses stand on.
 */
export function verifyBid(source: BidVerifySource): BidVerifier & { check(bid: Bid): BidCheck } {
  const memo = new Map<Bid, BidCheck>()
  const balanceAt = (o: Did, e: number): bigint => source.balanceAt(o, e)
  const check = (bid: Bid): BidCheck => {
    let res = memo.get(bid)
    if (!res) {
      res = checkBid(bid, { workload: source.workload(bid.workload?.uri), profile: source.profile(bid.meshlet), owner: source.ownerOf(bid.meshlet), balanceAt })
      memo.set(bid, res)
    }
    return res
  }
  const verifier = ((bid: Bid) => {
    const r = check(bid)
    return r.ok ? undefined : r.reason
  }) as BidVerifier & { check(bid: Bid): BidCheck }
  verifier.check = check
  return verifier
}
