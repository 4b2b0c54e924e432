// Free riders (docs/protocol.md): an owner far in debt is served after others, and a meshlet may
// refuse owners below a minimum of its own. Local policy on top of the shared ledger: it decides
// what THIS peer offers, never what others must accept, so peers need not agree on it.
import { DEBT_LIMIT } from './epoch.js'
import type { Did } from './types.js'

/** Whether an owner's balance is beyond the debt limit (below -DEBT_LIMIT unit-seconds). */
export function inDebt(balance: bigint): boolean {
  return balance < -BigInt(DEBT_LIMIT)
}

/** "owner in debt: balance B, below -360000", or undefined. */
export function debtNote(balance: bigint): string | undefined {
  return inDebt(balance) ? `owner in debt: balance ${balance}, below -${DEBT_LIMIT}` : undefined
}

/**
 * The order in which a peer commits capacity: workloads of owners in debt after all others, each
 * part keeping its input order. `self` (this meshlet's owner) is never in debt to itself.
 */
export function debtorsLast<T>(items: readonly T[], ownerOf: (item: T) => Did | undefined, balanceOf: (owner: Did) => bigint, self: Did): T[] {
  const first: T[] = []
  const last: T[] = []
  for (const item of items) {
    const owner = ownerOf(item)
    ;(owner !== undefined && owner !== self && inDebt(balanceOf(owner)) ? last : first).push(item)
  }
  return [...first, ...last]
}

/**
 * Why this meshlet refuses an owner, or undefined: its balance is below the meshlet's published
 * minimum (`minOwnerBalance`; none = no minimum). Its own owner is never refused.
 */
export function ownerRefusal(owner: Did, balance: bigint, minOwnerBalance: number | undefined, self: Did): string | undefined {
  if (owner === self || minOwnerBalance === undefined || balance >= BigInt(minOwnerBalance)) return undefined
  return `owner ${owner} has balance ${balance}, below this meshlet's minimum ${minOwnerBalance}`
}
