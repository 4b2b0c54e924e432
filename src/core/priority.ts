// A bid's priority: who should run this replica. Two documented, clamped integer components
// (docs/protocol.md, "Priorities, recomputed"), computed ONLY from public records (the ledger
// balance, the bid's capacity snapshot, the bidder's profile totals, the resources asked for), so
// every peer recomputes the same number and a bid that claims another one is invalid.
// Integers only: BigInt wherever a product could pass 2^53, divisions truncate toward zero.
import type { CapacitySnapshot, Resources } from './types.js'
import { spreadPenalty } from './spread.js'

export const FAIR_SHARE_MAX = 500
export const FIT_MAX = 500
export const PRIORITY_MAX = FAIR_SHARE_MAX + FIT_MAX
/** The balance (unit-seconds) at which fairShare moves half-way to its bound: one core-hour. */
export const FAIR_SHARE_SCALE = 3600

// Below 2^44, a product with a weight <= 250 is below 2^52: exact in a double.
const FAST = 2 ** 44
const FAST_BIG = BigInt(FAST)

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n))
}

function clampBig(n: bigint, lo: bigint, hi: bigint): bigint {
  return n < lo ? lo : n > hi ? hi : n
}

/** A whole number as BigInt; anything else (NaN, fractions from a corrupt source) counts as 0 / truncates. */
function big(n: number | bigint | undefined): bigint {
  if (typeof n === 'bigint') return n
  return typeof n === 'number' && Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n
}

/**
 * Fair-share component, integer in [0, 500]: clamp(250 - trunc(250 x b / (|b| + 3600)), 0, 500),
 * with b the bidding meshlet OWNER's ledger balance (contributed - consumed, unit-seconds) at the
 * bid's epoch. Owners who consumed more than they gave (b < 0) bid HIGHER, so they pay back by
 * running others' work; a balanced owner scores 250. BigInt: b may be any size.
 */
export function fairShareScore(balance: bigint | number): number {
  // Fast path, same result: 250 x b is exact in a double while |b| < 2^44, and Math.trunc is BigInt's division.
  if (typeof balance === 'number' ? Number.isSafeInteger(balance) && Math.abs(balance) < FAST : balance > -FAST_BIG && balance < FAST_BIG) {
    const n = Number(balance)
    return clamp(250 - Math.trunc((250 * n) / (Math.abs(n) + FAIR_SHARE_SCALE)), 0, FAIR_SHARE_MAX)
  }
  const b = big(balance)
  const abs = b < 0n ? -b : b
  const t = (250n * b) / (abs + BigInt(FAIR_SHARE_SCALE)) // BigInt division truncates toward zero
  return clamp(250 - Number(t), 0, FAIR_SHARE_MAX)
}

/** The bidder's published totals (its profile's cpuMillis and memoryMb). */
export interface Totals {
  cpuMillis: number
  memoryMb: number
}

export interface FitInput {
  /** The capacity snapshot published in the bid. */
  capacity: CapacitySnapshot
  /** The bidder's profile totals. */
  totals: Totals
  /** What the replica needs: the workload's resources (or the bid's copy of them). */
  need: Pick<Resources, 'cpuMillis' | 'memoryMb'>
}

export interface FitParts {
  mem: number
  cpu: number
  load: number
  power: number
  thermal: number
  /** burst spread (issue 16): min(200, 10 x capacity.pendingReplicas), see core/spread.ts. */
  spread: number
  /** clamp(mem + cpu + load + power - thermal - spread, 0, 500) */
  fit: number
}

/** floor(weight x clamp(free - need, 0, total) / total), 0 when total <= 0. */
function headroomPoints(weight: number, free: number | undefined, need: number, total: number): number {
  // Fast path for safe integers below 2^44 (weight x total stays exact in a double); BigInt otherwise.
  if (Number.isSafeInteger(total) && Number.isSafeInteger(free) && Number.isSafeInteger(need) && total < FAST && Math.abs(free!) < FAST && Math.abs(need) < FAST) {
    if (total <= 0) return 0
    return Math.floor((weight * clamp(free! - need, 0, total)) / total)
  }
  const t = big(total)
  if (t <= 0n) return 0
  const left = clampBig(big(free) - big(need), 0n, t)
  return Number((BigInt(weight) * left) / t)
}

/** Penalty for a hot machine: 50 warm, 150 throttled, else 0. */
export function thermalPenalty(thermal: CapacitySnapshot['thermal']): number {
  return thermal === 'warm' ? 50 : thermal === 'throttled' ? 150 : 0
}

/**
 * Fit component and its parts, integers (docs/protocol.md):
 * mem = floor(200 x clamp(memoryMbFree - need.memoryMb, 0, memTotal) / memTotal),
 * cpu = floor(150 x clamp(cpuMillisFree - need.cpuMillis, 0, cpuTotal) / cpuTotal) (0 when a total is 0),
 * load = floor(100 x (1000 - min(loadPermille, 1000)) / 1000) (no loadPermille counts as 1000),
 * power = 50 unless onBattery (no onBattery counts as on battery), thermal = 50 warm / 150 throttled,
 * spread = min(200, 10 x pendingReplicas) (burst spread, core/spread.ts; none named counts as 0),
 * fit = clamp(mem + cpu + load + power - thermal - spread, 0, 500). Missing readings score as the
 * worst case, so leaving a field out never raises a priority (pendingReplicas aside: older bids name
 * none and must keep their priority; what leaving it out gains is bounded by 200).
 */
export function fitParts(input: FitInput): FitParts {
  const { capacity: c, totals, need } = input
  const mem = headroomPoints(200, c.memoryMbFree, need.memoryMb, totals.memoryMb)
  const cpu = headroomPoints(150, c.cpuMillisFree, need.cpuMillis, totals.cpuMillis)
  const loadPermille = typeof c.loadPermille === 'number' && Number.isFinite(c.loadPermille) ? clamp(Math.trunc(c.loadPermille), 0, 1000) : 1000
  const load = Math.floor((100 * (1000 - loadPermille)) / 1000)
  const power = c.onBattery === false ? 50 : 0
  const thermal = thermalPenalty(c.thermal)
  const spread = spreadPenalty(c.pendingReplicas)
  return { mem, cpu, load, power, thermal, spread, fit: clamp(mem + cpu + load + power - thermal - spread, 0, FIT_MAX) }
}

export function fitScore(input: FitInput): number {
  return fitParts(input).fit
}

export interface PriorityParts extends FitParts {
  fairShare: number
  /** fairShare + fit, in [0, 1000]. */
  priority: number
}

/**
 * A bid's priority = fairShareScore(balance) + fitScore(...), integer in [0, 1000], with its parts
 * (so a mismatch can say "recomputed 612 = fairShare 250 + fit 362"). The bidder and every
 * verifier call this same function on the same published numbers.
 */
export function bidPriority(input: FitInput & { balance: bigint | number }): PriorityParts {
  const fairShare = fairShareScore(input.balance)
  const parts = fitParts(input)
  return { ...parts, fairShare, priority: clamp(fairShare + parts.fit, 0, PRIORITY_MAX) }
}
