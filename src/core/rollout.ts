// Rolling updates (issue 12 part 3; docs/protocol.md "Rolling updates"). Claims stay per cid; this
// says when a meshlet that holds an OLDER version of a workload may let it go, from records every
// peer sees, so that at least replicas - maxParallel replicas (old or new) stay healthy. Pure.
import { statusKeyProblem } from './claims.js'
import type { Bid, Cid, Did, Workload, WorkloadStatus } from './types.js'
import { CLAIM_STATES } from './types.js'

export interface UpdatePolicy {
  maxParallel: number
  minHealthyMs: number
  autoRevert: boolean
}

export const UPDATE_BOUNDS = {
  maxParallel: { min: 1, max: 64, default: 1 },
  minHealthyMs: { min: 0, max: 3_600_000, default: 0 },
} as const

/** Release messages of a rollout start with this (a yield: placement.ts YIELD_MESSAGE_PREFIXES). */
export const ROLLOUT_PREFIX = 'rollout:'

export type RolloutWorkload = Pick<Workload, 'uri' | 'cid' | 'replicas'> & { update?: UpdatePolicy }

export interface RolloutInput {
  workload: RolloutWorkload
  /** Every status that references the workload uri. */
  statuses: readonly WorkloadStatus[]
  /** Every bid that references the workload uri (old claims must name one of their own meshlet). */
  bids: readonly Bid[]
  eligible: ReadonlyMap<Did, unknown>
  /** Kept claims of the current cid (placement.kept). */
  kept: readonly WorkloadStatus[]
  now: number
}

export interface Rollout {
  /** Old holders, in leave order (replica asc, DID asc). */
  old: WorkloadStatus[]
  healthyNew: number
  healthyOld: number
  /** How many old holders may leave now (never negative). */
  budget: number
  /** Why the current version failed, when it did. */
  failed?: string
  /** The version the old holders run (the smallest cid among them when several), when any. */
  previous?: Cid
  /** When a kept claim of the current cid passes minHealthyMs (epoch ms), if one is waiting. */
  wakeAt?: number
}

/** State running, and healthy when it carries a health report. */
export function isHealthy(s: Pick<WorkloadStatus, 'state' | 'health'>): boolean {
  return s.state === 'running' && (s.health === undefined || s.health.state === 'healthy')
}

function startedAtMs(s: WorkloadStatus): number {
  const t = Date.parse(s.startedAt ?? '')
  return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY
}

/** A claim-state status of an older version, canonical, from an eligible meshlet, standing on a bid of its own for that version. */
function isOldHolder(s: WorkloadStatus, input: RolloutInput): boolean {
  const w = input.workload
  if (s.workload?.uri !== w.uri || s.workload.cid === w.cid || !CLAIM_STATES.includes(s.state)) return false
  if (!input.eligible.has(s.meshlet) || statusKeyProblem(s, w.uri) !== undefined) return false
  if (typeof s.replica !== 'number' || !Number.isInteger(s.replica) || s.replica < 0) return false
  return input.bids.some((b) => b.uri === s.bid?.uri && b.meshlet === s.meshlet && b.workload.uri === w.uri && b.workload.cid === s.workload.cid && b.decline === undefined)
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The meshlets that hold an older version of a rolling workload (live claim, canonical, backed by
 * their own bid for that version, eligible). Placement asks them first for the new version, so a
 * version rolls in place where it still fits: no needless moves. Empty without an `update` policy.
 */
export function oldVersionHolders(w: RolloutWorkload, statuses: readonly WorkloadStatus[], bids: readonly Bid[], eligible: ReadonlyMap<Did, unknown>): Set<Did> {
  if (!w.update) return new Set()
  const input: RolloutInput = { workload: w, statuses, bids, eligible, kept: [], now: 0 }
  return new Set(statuses.filter((s) => isOldHolder(s, input)).map((s) => s.meshlet))
}

/** The rollout as every peer computes it. Undefined when the workload has no `update` policy. */
export function rolloutOf(input: RolloutInput): Rollout | undefined {
  const w = input.workload
  const policy = w.update
  if (!policy) return undefined
  const byUri = new Map<string, WorkloadStatus>()
  for (const s of input.statuses) byUri.set(s.uri, s)
  const statuses = [...byUri.values()]
  const old = statuses.filter((s) => isOldHolder(s, input)).sort((a, b) => a.replica! - b.replica! || cmp(a.meshlet, b.meshlet))
  let wakeAt: number | undefined
  let healthyNew = 0
  for (const s of input.kept) {
    if (s.workload.cid !== w.cid || !isHealthy(s)) continue
    const at = startedAtMs(s) + policy.minHealthyMs
    if (input.now >= at) healthyNew++
    else if (Number.isFinite(at)) wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at)
  }
  const healthyOld = old.filter(isHealthy).length
  const budget = Math.max(0, healthyNew + healthyOld - (w.replicas - policy.maxParallel))
  const out: Rollout = { old, healthyNew, healthyOld, budget }
  const failedStatus = statuses
    .filter((s) => s.workload?.uri === w.uri && s.workload.cid === w.cid && s.state === 'failed' && input.bids.some((b) => b.uri === s.bid?.uri && b.meshlet === s.meshlet && b.workload.cid === w.cid))
    .sort((a, b) => cmp(a.meshlet, b.meshlet))[0]
  if (failedStatus) out.failed = `${failedStatus.meshlet} failed: ${failedStatus.message ?? 'no message'}`
  // A meshlet that reverted keeps the failed claim in its history: the evidence outlives the status.
  const backed = (m: Did, bidUri: string) => input.bids.some((b) => b.uri === bidUri && b.meshlet === m && b.workload.cid === w.cid)
  const reverted = statuses
    .filter((s) => s.workload?.uri === w.uri && (s.history ?? []).some((h) => h.cid === w.cid && h.state === 'failed' && backed(s.meshlet, h.bid.uri)))
    .sort((a, b) => cmp(a.meshlet, b.meshlet))[0]
  if (!out.failed && reverted) out.failed = `${reverted.meshlet} failed on it and reverted`
  if (old.length > 0) out.previous = old.map((s) => s.workload.cid).sort(cmp)[0]
  if (wakeAt !== undefined) out.wakeAt = wakeAt
  return out
}

export type OldHolderStep = { action: 'stay'; reason: string } | { action: 'claim' } | { action: 'release'; reason: string }

/**
 * What old holder `self` does about the current version: leave by claiming it (when it is in
 * `next`), leave by releasing (when it is not, and the others still cover `replicas`), or stay.
 */
export function oldHolderStep(r: Rollout, w: RolloutWorkload, self: Did, inNext: boolean, keptNew: number): OldHolderStep {
  const i = r.old.findIndex((s) => s.meshlet === self)
  if (i < 0) return inNext ? { action: 'claim' } : { action: 'stay', reason: 'not an old holder' }
  if (r.failed) return { action: 'stay', reason: `rollout halted: the new version failed (${r.failed})` }
  if (i >= r.budget) return { action: 'stay', reason: `rollout: waiting for its turn (${i + 1} in line, ${r.budget} may leave now: ${r.healthyNew} new + ${r.healthyOld} old healthy, at least ${w.replicas - (w.update?.maxParallel ?? 1)} must stay)` }
  if (inNext) return { action: 'claim' }
  if (keptNew + r.old.length - 1 >= w.replicas) return { action: 'release', reason: `${ROLLOUT_PREFIX} the new version holds enough replicas (${keptNew} claims, ${r.healthyNew} healthy); stopping the old one` }
  return { action: 'stay', reason: 'rollout: the new version does not hold enough replicas yet' }
}

/**
 * autoRevert: a meshlet whose status is a claim of the failed current version, or failed for it,
 * and whose history ends with a claim of the version the old holders run, returns to that claim.
 */
export function revertClaim(r: Rollout, w: RolloutWorkload, own: WorkloadStatus | undefined): { cid: Cid; bid: { uri: string; cid: string }; priority: number; replica: number } | undefined {
  if (!w.update?.autoRevert || !r.failed || !own || own.workload.cid !== w.cid) return undefined
  if (!CLAIM_STATES.includes(own.state) && own.state !== 'failed') return undefined
  const last = own.history?.[own.history.length - 1]
  if (!last || last.cid === w.cid) return undefined
  // The version it reverts to must be the one others still run, or (none left) the one it ran last.
  if (r.previous !== undefined && last.cid !== r.previous) return undefined
  return { cid: last.cid, bid: last.bid, priority: last.priority, replica: last.replica }
}

export interface RolloutDecisionInput extends RolloutInput {
  self: Did
  /** Whether `self` is in placement.next for the current cid. */
  inNext: boolean
}

/** What decide.ts applies for a rolling workload: hold a claim back, release an old version, or revert. */
export interface RolloutDecision {
  /** Do not claim the current version now (why). */
  holdClaim?: string
  /** Release this meshlet's old-version replica with this message. */
  release?: string
  revert?: { cid: Cid; bid: { uri: string; cid: string }; priority: number; replica: number; reason: string }
  wakeAt?: number
}

export function rolloutDecision(input: RolloutDecisionInput): RolloutDecision | undefined {
  const w = input.workload
  const r = rolloutOf(input)
  if (!r) return undefined
  const own = [...input.statuses].reverse().find((s) => s.meshlet === input.self && s.workload?.uri === w.uri)
  const back = revertClaim(r, w, own)
  if (back) return { revert: { ...back, reason: `${ROLLOUT_PREFIX} reverted to version ${back.cid}: the new version failed (${r.failed})` } }
  const out: RolloutDecision = {}
  if (r.failed && w.update?.autoRevert) out.holdClaim = `rollout: not claiming a failed version (autoRevert): ${r.failed}`
  const isOld = r.old.some((s) => s.meshlet === input.self)
  if (isOld && !out.holdClaim) {
    const step = oldHolderStep(r, w, input.self, input.inNext, input.kept.filter((s) => s.workload.cid === w.cid).length)
    if (step.action === 'stay') out.holdClaim = step.reason
    else if (step.action === 'release') out.release = step.reason
    if (r.wakeAt !== undefined) out.wakeAt = r.wakeAt
  }
  return out
}
