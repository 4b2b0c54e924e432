// Ledger time and constants (docs/protocol.md, "The ledger"): protocol constants, not settings,
// because every peer must compute the same balances from the same records.
import type { Workload } from './types.js'

/** One ledger epoch: balances are computed at epoch boundaries, which bids name. */
export const EPOCH_MS = 3_600_000
/** A claim-state status keeps earning this long after its last renewal (updatedAt). */
export const STATUS_LEASE_MS = 1_800_000
/** Decay per epoch, as a fraction of 2^16: 63670/65536 = 2^(-1/24) to 5 digits (half-life 24 epochs). */
export const DECAY_NUM = 63_670
export const DECAY_DEN = 65_536
/** Epochs of history a balance looks back (64 half-lives; older usage is dropped). */
export const DECAY_WINDOW = 1536
/** An owner whose balance is below -DEBT_LIMIT unit-seconds (100 core-hours) is served after others. */
export const DEBT_LIMIT = 360_000

/** The ledger epoch of an instant (epoch ms): floor(t / EPOCH_MS). */
export function epochOf(t: number): number {
  return Math.floor(t / EPOCH_MS)
}

/** Start (epoch ms) of epoch k. */
export function epochStart(k: number): number {
  return k * EPOCH_MS
}

/** The epoch a bid for this workload version must name: that of its createdAt (NaN when createdAt is not a date). */
export function workloadEpoch(w: Pick<Workload, 'createdAt'>): number {
  return epochOf(Date.parse(w.createdAt))
}
