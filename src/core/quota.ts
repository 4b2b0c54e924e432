// Per-owner quotas (docs/protocol.md, Quotas): how much of one meshlet a single guest owner may
// hold, so one member cannot fill every machine with tiny containers. Local policy like the
// free-rider minimum: it decides what THIS peer offers (a decline with the reason), never which
// bids others accept, and it is published in the profile so peers can explain the decline.
import type { Did, Resources } from './types.js'

export interface GuestQuotaPolicy {
  /** Replicas one guest owner may hold here at once (claims, running, open bids). */
  maxContainers: number
  /** Share of this meshlet's CPU and memory one guest owner may hold, in percent (1..100). */
  sharePercent: number
}

export const DEFAULT_GUEST_QUOTA: GuestQuotaPolicy = { maxContainers: 32, sharePercent: 50 }

/** The absolute limits one guest owner gets on a meshlet offering `totals` (integers, rounded down). */
export interface GuestQuota {
  maxContainers: number
  cpuMillis: number
  memoryMb: number
}

export function guestQuota(policy: GuestQuotaPolicy, totals: { cpuMillis: number; memoryMb: number }): GuestQuota {
  const pct = Math.min(100, Math.max(0, Math.trunc(policy.sharePercent)))
  return {
    maxContainers: Math.max(0, Math.trunc(policy.maxContainers)),
    // Integer arithmetic only: totals are below 2^31 and pct at most 100, so the product is exact.
    cpuMillis: Math.floor((Math.max(0, Math.trunc(totals.cpuMillis)) * pct) / 100),
    memoryMb: Math.floor((Math.max(0, Math.trunc(totals.memoryMb)) * pct) / 100),
  }
}

/** What one owner already holds on this meshlet. */
export interface OwnerUsage {
  containers: number
  cpuMillis: number
  memoryMb: number
}

/**
 * Why this meshlet declines another replica of `owner` needing `need`, or undefined. Its own owner
 * is never limited. A workload is admitted while usage + need stays within every limit.
 */
export function quotaRefusal(owner: Did, self: Did, usage: OwnerUsage, need: Resources, quota: GuestQuota): string | undefined {
  if (owner === self) return undefined
  if (usage.containers + 1 > quota.maxContainers) {
    return `over quota: owner ${owner} already holds ${usage.containers} of the ${quota.maxContainers} containers this meshlet allows one guest owner`
  }
  if (usage.cpuMillis + need.cpuMillis > quota.cpuMillis) {
    return `over quota: owner ${owner} would hold ${usage.cpuMillis + need.cpuMillis} of the ${quota.cpuMillis} CPU millicores this meshlet allows one guest owner (${usage.cpuMillis} held, ${need.cpuMillis} needed)`
  }
  if (usage.memoryMb + need.memoryMb > quota.memoryMb) {
    return `over quota: owner ${owner} would hold ${usage.memoryMb + need.memoryMb} of the ${quota.memoryMb} MiB of memory this meshlet allows one guest owner (${usage.memoryMb} held, ${need.memoryMb} needed)`
  }
  return undefined
}

/** Sums what each owner holds from (owner, resources) pairs, one pair per replica. */
export function usageByOwner(held: Iterable<{ owner: Did; resources: Resources }>): Map<Did, OwnerUsage> {
  const out = new Map<Did, OwnerUsage>()
  for (const { owner, resources } of held) {
    const u = out.get(owner) ?? { containers: 0, cpuMillis: 0, memoryMb: 0 }
    u.containers += 1
    u.cpuMillis += resources.cpuMillis
    u.memoryMb += resources.memoryMb
    out.set(owner, u)
  }
  return out
}
