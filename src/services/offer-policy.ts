// What this meshlet offers for one feasible workload (bid or decline), and when a decline goes
// unwritten: the local policies a peer applies on its own (eviction, free riders, guest image
// registries, guest quotas, decline budget; docs/protocol.md). Split from the scheduler loop, which
// only gathers the inputs once per pass and applies the result.
import type { Offer } from '../core/decide.js'
import { bidPriority } from '../core/priority.js'
import { PENDING_REPLICAS_MAX } from '../core/spread.js'
import { workloadEpoch, type Ledger } from '../core/ledger.js'
import { debtNote, ownerRefusal } from '../core/free-riders.js'
import { DEFAULT_GUEST_QUOTA, guestQuota, quotaRefusal, type GuestQuotaPolicy } from '../core/quota.js'
import { DECLINE_BUDGET_PER_OWNER } from '../core/decline-budget.js'
import { guestImageRefusal, type RegistryPolicy } from '../core/registry-policy.js'
import type { AtUri, CapacitySnapshot, Did, HostSnapshot, Profile, Resources, Workload } from '../core/types.js'
import { EVICTED_REASON } from '../ports/eviction-store.js'
import type { ClusterService } from './cluster.js'

/** The scheduler's local policies (each field documented on SchedulerOptions). */
export interface OfferPolicy {
  self: { meshlet: Did; owner: Did }
  minOwnerBalance?: number
  guestQuota?: GuestQuotaPolicy
  declineBudget?: number
  registryPolicy?: RegistryPolicy
  isEvicted?: (uri: AtUri) => boolean
  /** Secrets (issue 13): why this meshlet lacks a sealed copy the workload needs (core/secrets.ts missingSecret), or undefined. */
  missingSecret?: (workload: Workload) => string | undefined
}

/** What one owner holds here besides the workload in question (counted against its guest quota). */
export interface OwnerUsage {
  containers: number
  cpuMillis: number
  memoryMb: number
}

/**
 * Resources this meshlet has committed to workloads other than `workload` (all owners), and the
 * share of them that `workload`'s owner holds.
 */
export function committedBesides(workload: Workload, committed: Map<AtUri, Resources>, ownerOf: (uri: AtUri) => Did | undefined): { committed: Resources; usage: OwnerUsage } {
  let cpu = 0
  let mem = 0
  const usage: OwnerUsage = { containers: 0, cpuMillis: 0, memoryMb: 0 }
  for (const [uri, r] of committed) {
    if (uri === workload.uri) continue
    cpu += r.cpuMillis
    mem += r.memoryMb
    if (ownerOf(uri) === workload.owner) {
      usage.containers++
      usage.cpuMillis += r.cpuMillis
      usage.memoryMb += r.memoryMb
    }
  }
  return { committed: { cpuMillis: cpu, memoryMb: mem }, usage }
}

/**
 * This meshlet's offer for a feasible workload: a decline when the owner is below this meshlet's
 * minimum balance, else a bid whose capacity (bounded by its published profile totals), epoch and
 * priority are exactly what every verifier recomputes. `note` flags an owner in debt.
 */
export function offerFor(
  workload: Workload,
  free: CapacitySnapshot,
  usage: OwnerUsage,
  ctx: { profiles: Map<Did, Profile>; host: HostSnapshot; graph: ReturnType<ClusterService['current']>; ledger: Ledger; pendingReplicas?: number },
  policy: OfferPolicy,
): { offer: Offer; note?: string } {
  const { self, minOwnerBalance } = policy
  if (policy.isEvicted?.(workload.uri)) return { offer: { kind: 'decline', reason: EVICTED_REASON } }
  const noSecret = policy.missingSecret?.(workload)
  if (noSecret) return { offer: { kind: 'decline', reason: noSecret } }
  const ownerBalance = ctx.ledger.currentBalance(workload.owner).balance
  const refusal = ownerRefusal(workload.owner, ownerBalance, minOwnerBalance, self.owner)
  if (refusal) return { offer: { kind: 'decline', reason: refusal } }
  if (workload.owner !== self.owner) {
    const imageRefusal = guestImageRefusal(workload.image, policy.registryPolicy)
    if (imageRefusal) return { offer: { kind: 'decline', reason: imageRefusal } }
  }
  const epoch = workloadEpoch(workload)
  if (!Number.isSafeInteger(epoch) || epoch < 0) return { offer: { kind: 'decline', reason: `workload createdAt ${workload.createdAt} is not a usable date` } }
  const profile = ctx.profiles.get(self.meshlet)
  const totals = profile ? { cpuMillis: profile.cpuMillis, memoryMb: profile.memoryMb } : { cpuMillis: ctx.host.cpuMillisTotal, memoryMb: ctx.host.memoryMbTotal }
  const overQuota = quotaRefusal(workload.owner, self.owner, usage, workload.resources, guestQuota(policy.guestQuota ?? DEFAULT_GUEST_QUOTA, totals))
  if (overQuota) return { offer: { kind: 'decline', reason: overQuota } }
  // The bid names the totals it is computed against: it stays verifiable if the profile changes later.
  const capacity: CapacitySnapshot = { ...free, cpuMillisFree: Math.min(free.cpuMillisFree, totals.cpuMillis), memoryMbFree: Math.min(free.memoryMbFree, totals.memoryMb), cpuMillisTotal: totals.cpuMillis, memoryMbTotal: totals.memoryMb }
  // burst spread (issue 16): what this meshlet has in hand and not running yet lowers its fit (core/spread.ts)
  if (ctx.pendingReplicas !== undefined) capacity.pendingReplicas = Math.min(PENDING_REPLICAS_MAX, Math.max(0, ctx.pendingReplicas))
  const balance = ctx.ledger.balanceAt(ctx.graph.ownerOf(self.meshlet) ?? self.owner, epoch).balance
  const { priority } = bidPriority({ balance, capacity, totals, need: workload.resources })
  const note = workload.owner === self.owner ? undefined : debtNote(ownerBalance)
  return { offer: { kind: 'bid', priority, capacity }, ...(note ? { note } : {}) }
}

/**
 * Decline budget: past it, a guest owner's workloads are declined without a record (the outcome
 * still says why, in the returned note), so spam does not cost this meshlet one PDS write per
 * record. `spent`: decline records this meshlet keeps (or is writing) for the owner. Undefined when
 * the decline (if any) is written.
 */
export function quietDeclineNote(workload: Workload, offer: Offer, spent: number, policy: OfferPolicy): string | undefined {
  const budget = policy.declineBudget ?? DECLINE_BUDGET_PER_OWNER
  if (offer.kind !== 'decline' || workload.owner === policy.self.owner || spent < budget) return undefined
  return `declined without a record: this meshlet already keeps ${spent} decline records for ${workload.owner}'s workloads (budget ${budget})`
}
