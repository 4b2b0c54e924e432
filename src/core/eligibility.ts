// Who may run a workload (PROTOCOL §2): verified meshlets of its owner, and verified meshlets of
// owners mutually verified with it whose OWN membership list names it (consent per machine), alive (a record from their repo received within their lease, on this
// observer's monotonic clock: docs/protocol.md, Liveness by receipt) and matching the constraints.
// Every candidate that is left out gets a reason, so "why not here?" always has an answer.

import type { ClusterGraph } from './cluster.js'
import { matchConstraints } from './constraints.js'
import { livenessProblem } from './liveness.js'
import { suspicionProblem, type SuspectedFn } from './suspicion.js' // liveness (issue 16 part 3)
import type { Did, Profile, Workload } from './types.js'

export interface EligibleRunner {
  meshlet: Did
  owner: Did
}

export interface Exclusion {
  meshlet: Did
  reason: string
}

export interface EligibilityInput {
  workload: Workload
  graph: ClusterGraph
  /** Profiles by meshlet DID. */
  profiles: ReadonlyMap<Did, Profile>
  /**
   * The observer's MONOTONIC clock now (ms), the clock `lastReceived` is read on. Never a wall
   * clock: writer timestamps are not compared with it.
   */
  monoNow: number
  /** When this observer last received a record from the meshlet's repo (monotonic ms), if ever. */
  lastReceived: (meshlet: Did) => number | undefined
  /** Lease when the profile advertises none: alive while a record arrived within it (profiles are re-published every lease/3). */
  defaultLeaseMs: number
  /** A per-profile lease, when the profile advertises one; invalid values fall back to the default. */
  leaseMsOf?: (p: Profile) => number | undefined
  /** liveness (issue 16 part 3): this observer's suspicion book (core/suspicion.ts); absent = lease only. */
  suspected?: SuspectedFn
}

export interface EligibilityResult {
  /** Eligible runners keyed by meshlet DID, inserted in sorted DID order. */
  eligible: Map<Did, EligibleRunner>
  /**
   * Eligible by linkage, membership, profile and constraints, IGNORING liveness: a set every peer
   * computes the same from public records (batch acks need a quorum of it). Sorted by DID.
   */
  electorate: Map<Did, EligibleRunner>
  /** Sorted by meshlet DID. */
  excluded: Exclusion[]
}

export function eligibility(input: EligibilityInput): EligibilityResult {
  const { workload, graph, profiles, monoNow, defaultLeaseMs } = input
  const owner = workload.owner
  const owners = [owner, ...graph.activeCluster(owner)]
  const considered = new Set(owners)

  // Meshlet -> first claiming owner in sorted order (an unverified meshlet may be claimed twice).
  const claimedBy = new Map<Did, Did>()
  for (const o of [...owners].sort()) {
    for (const m of graph.claimedBy(o)) if (!claimedBy.has(m)) claimedBy.set(m, o)
  }

  const eligible = new Map<Did, EligibleRunner>()
  const electorate = new Map<Did, EligibleRunner>()
  const excluded: Exclusion[] = []
  for (const meshlet of [...claimedBy.keys()].sort()) {
    const verifiedOwner = graph.ownerOf(meshlet)
    if (verifiedOwner === undefined) {
      excluded.push({ meshlet, reason: `not verified: ${graph.linkProblem(claimedBy.get(meshlet)!, meshlet)}` })
      continue
    }
    if (!considered.has(verifiedOwner)) {
      excluded.push({ meshlet, reason: `belongs to ${verifiedOwner}, who is not mutually verified with ${owner}` })
      continue
    }
    if (!machineConsents(graph, meshlet, verifiedOwner, owner)) {
      excluded.push({ meshlet, reason: `its own membership list does not name ${owner} (a meshlet runs work only for its owner and the owners it lists itself)` })
      continue
    }
    const profile = profiles.get(meshlet)
    if (!profile) {
      excluded.push({ meshlet, reason: 'no profile published yet' })
      continue
    }
    const mismatch = matchConstraints(workload, { meshlet, owner: verifiedOwner, profile })
    if (mismatch) {
      excluded.push({ meshlet, reason: mismatch })
      continue
    }
    electorate.set(meshlet, { meshlet, owner: verifiedOwner })
    const stale =
      livenessProblem(input.lastReceived(meshlet), monoNow, leaseFor(profile, input.leaseMsOf, defaultLeaseMs)) ??
      suspicionProblem({ workload, graph, meshlet, owner: verifiedOwner, profile, suspected: input.suspected }) // liveness (issue 16 part 3)
    if (stale) {
      excluded.push({ meshlet, reason: stale })
      continue
    }
    eligible.set(meshlet, { meshlet, owner: verifiedOwner })
  }
  return { eligible, excluded, electorate }
}

/**
 * Consent is per machine: a meshlet runs work of its own owner, and of another owner only when its
 * OWN membership record lists that owner. A sibling meshlet's list never counts, so one meshlet's
 * leaked password cannot enrol anyone on the owner's other machines.
 */
function machineConsents(graph: ClusterGraph, meshlet: Did, meshletOwner: Did, workloadOwner: Did): boolean {
  return meshletOwner === workloadOwner || graph.membersOf(meshlet).includes(workloadOwner)
}

/**
 * May `meshlet` hold replicas of `workloadOwner`'s work? A verified meshlet whose owner is the
 * workload's owner, or is mutually verified with it and whose own membership list names it.
 */
export function runsFor(graph: ClusterGraph, meshlet: Did, workloadOwner: Did): boolean {
  const owner = graph.ownerOf(meshlet)
  return owner !== undefined && graph.mutual(workloadOwner, owner) && machineConsents(graph, meshlet, owner, workloadOwner)
}

function leaseFor(profile: Profile, leaseMsOf: EligibilityInput['leaseMsOf'], fallback: number): number {
  const own = leaseMsOf?.(profile)
  // Stryker disable next-line ConditionalExpression: narrows the type only; Number.isFinite(undefined) is false below
  if (own === undefined) return fallback
  return Number.isFinite(own) && own > 0 ? own : fallback
}
