// Cluster graph (PROTOCOL §1): who owns which meshlet, which owners consent to each other.
// Pure: built from decoded records, answers deterministic (sorted arrays, no insertion-order leaks),
// so every peer holding the same records reaches the same cluster.

import type { Did, Membership, MeshletLink, MeshletOwnerClaim } from './types.js'

// Eligibility (core/eligibility.ts) reads this graph; the graph knows nothing of it (no cycle).

/** Repos a peer follows at most; beyond this `planTrackedRepos` reports what it left out. */
export const DEFAULT_TRACKED_REPOS_LIMIT = 512

export interface ClusterProblem {
  did: Did
  reason: string
}

export interface TrackedReposPlan {
  /** Repos to follow, sorted. */
  repos: Did[]
  /** Repos that would have been followed but exceeded the limit, sorted. Empty when nothing was cut. */
  omitted: Did[]
  limit: number
}

export interface ClusterGraphInput {
  links: readonly MeshletLink[]
  owners: readonly MeshletOwnerClaim[]
  memberships: readonly Membership[]
}

export interface ClusterGraph {
  /** The owner of a meshlet, only when the owner's link and the meshlet's meshletOwner record point at each other. */
  ownerOf(meshlet: Did): Did | undefined
  /** Verified meshlets of an owner, sorted. */
  meshletsOf(owner: Did): Did[]
  /** Every meshlet the owner's repo claims (verified or not), sorted: these repos must be read to verify them. */
  claimedBy(owner: Did): Did[]
  /** Members listed by a verified meshlet's membership record (empty when unverified or none), sorted. */
  membersOf(meshlet: Did): Did[]
  /** Owners a and b are mutually verified (an owner is trivially mutual with itself). */
  mutual(a: Did, b: Did): boolean
  /** Owners mutually verified with `owner`, excluding itself, sorted. */
  activeCluster(owner: Did): Did[]
  /** Why `meshlet` is not a verified meshlet of `owner`, or undefined when it is. */
  linkProblem(owner: Did, meshlet: Did): string | undefined
  /** Human diagnostics for everything that is not verified, sorted by did then reason. */
  problems(): ClusterProblem[]
  /** Repos this peer must follow (see planTrackedRepos), sorted. */
  trackedRepos(selfOwner: Did, configuredMembers: readonly Did[], limit?: number): Did[]
  /**
   * Repos this peer must follow: selfOwner, configured members, owners a verified meshlet of those
   * lists (their repos must be read to know whether they list back; the mutual ones are the 2-hop
   * neighbours), and every meshlet any of those owners claims. Capped at `limit`, filled in tiers
   * (self and members first, then their meshlets, then mutual owners and theirs, then unconfirmed
   * candidates), so a cut drops the least certain repos first.
   */
  planTrackedRepos(selfOwner: Did, configuredMembers: readonly Did[], limit?: number): TrackedReposPlan
}

const sorted = (xs: Iterable<Did>): Did[] => [...new Set(xs)].sort(compare)

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function addTo(map: Map<Did, Set<Did>>, key: Did, value: Did): void {
  let set = map.get(key)
  if (!set) map.set(key, (set = new Set()))
  set.add(value)
}

export function buildClusterGraph(input: ClusterGraphInput): ClusterGraph {
  return new Graph(input)
}

class Graph implements ClusterGraph {
  /** owner -> meshlets its repo claims */
  private readonly claims = new Map<Did, Set<Did>>()
  /** meshlet -> owners named by its meshletOwner record(s); more than one is a conflict */
  private readonly ownerClaims = new Map<Did, Set<Did>>()
  /** meshlet -> members; duplicate membership records for one meshlet are intersected (consent only where all agree) */
  private readonly members = new Map<Did, Set<Did>>()
  private readonly verified = new Map<Did, Did>()
  private readonly verifiedByOwner = new Map<Did, Did[]>()
  /** owner -> owners listed by at least one of its verified meshlets */
  private readonly listed = new Map<Did, Set<Did>>()
  private problemList?: ClusterProblem[]

  constructor(input: ClusterGraphInput) {
    for (const l of input.links) addTo(this.claims, l.owner, l.meshlet)
    for (const c of input.owners) addTo(this.ownerClaims, c.meshlet, c.owner)
    for (const m of input.memberships) {
      const next = new Set(m.members)
      const prev = this.members.get(m.meshlet)
      this.members.set(m.meshlet, prev ? new Set([...prev].filter((d) => next.has(d))) : next)
    }

    const byOwner = new Map<Did, Set<Did>>()
    for (const [meshlet, owners] of this.ownerClaims) {
      if (owners.size !== 1) continue
      const owner = [...owners][0]!
      if (this.claims.get(owner)?.has(meshlet)) {
        this.verified.set(meshlet, owner)
        addTo(byOwner, owner, meshlet)
      }
    }
    for (const [owner, ms] of byOwner) this.verifiedByOwner.set(owner, sorted(ms))

    for (const [meshlet, owner] of this.verified) {
      for (const member of this.members.get(meshlet) ?? []) {
        if (member !== owner) addTo(this.listed, owner, member)
      }
    }
  }

  ownerOf(meshlet: Did): Did | undefined {
    return this.verified.get(meshlet)
  }

  meshletsOf(owner: Did): Did[] {
    return [...(this.verifiedByOwner.get(owner) ?? [])]
  }

  claimedBy(owner: Did): Did[] {
    return sorted(this.claims.get(owner) ?? [])
  }

  membersOf(meshlet: Did): Did[] {
    if (!this.verified.has(meshlet)) return []
    return sorted(this.members.get(meshlet) ?? [])
  }

  mutual(a: Did, b: Did): boolean {
    if (a === b) return true
    return (this.listed.get(a)?.has(b) ?? false) && (this.listed.get(b)?.has(a) ?? false)
  }

  activeCluster(owner: Did): Did[] {
    return sorted([...(this.listed.get(owner) ?? [])].filter((other) => other !== owner && this.mutual(owner, other)))
  }

  linkProblem(owner: Did, meshlet: Did): string | undefined {
    if (this.verified.get(meshlet) === owner) return undefined
    const claimed = this.claims.get(owner)?.has(meshlet) ?? false
    const named = sorted(this.ownerClaims.get(meshlet) ?? [])
    if (named.length > 1) return `${meshlet} has conflicting meshletOwner records (${named.join(', ')}); none is trusted`
    if (!claimed && named[0] === owner) {
      return `${meshlet} claims owner ${owner}, but ${owner} does not list it as a meshlet (possible spoof; not verified)`
    }
    if (!claimed) return `${owner} does not claim ${meshlet} as a meshlet`
    if (named.length === 0) return `${owner} claims meshlet ${meshlet}, but ${meshlet} has no meshletOwner record yet`
    return `${owner} claims meshlet ${meshlet}, but ${meshlet} names ${named[0]} as its owner`
  }

  problems(): ClusterProblem[] {
    if (this.problemList) return this.problemList.map((p) => ({ ...p }))
    const out = new Map<string, ClusterProblem>()
    const add = (did: Did, reason: string) => out.set(`${did}\n${reason}`, { did, reason })

    for (const [meshlet, owners] of this.ownerClaims) {
      if (owners.size > 1) {
        add(meshlet, `${meshlet} has conflicting meshletOwner records (${sorted(owners).join(', ')}); none is trusted`)
        continue
      }
      for (const owner of owners) {
        if (!this.claims.get(owner)?.has(meshlet)) add(meshlet, this.linkProblem(owner, meshlet)!)
      }
    }
    for (const [owner, meshlets] of this.claims) {
      for (const meshlet of meshlets) {
        // Conflicts were reported on the meshlet already.
        if (this.verified.get(meshlet) !== owner && (this.ownerClaims.get(meshlet)?.size ?? 0) <= 1) {
          add(owner, this.linkProblem(owner, meshlet)!)
        }
      }
    }
    for (const meshlet of this.members.keys()) {
      if (!this.verified.has(meshlet)) add(meshlet, `membership of ${meshlet} is ignored: its ownership is not verified`)
    }
    for (const [a, bs] of this.listed) {
      for (const b of bs) {
        if (!this.listed.get(b)?.has(a)) add(a, `${a} lists ${b}, but no meshlet of ${b} lists ${a}`)
      }
    }
    this.problemList = [...out.values()].sort((x, y) => compare(x.did, y.did) || compare(x.reason, y.reason))
    return this.problemList.map((p) => ({ ...p }))
  }

  trackedRepos(selfOwner: Did, configuredMembers: readonly Did[], limit?: number): Did[] {
    return this.planTrackedRepos(selfOwner, configuredMembers, limit).repos
  }

  planTrackedRepos(selfOwner: Did, configuredMembers: readonly Did[], limit = DEFAULT_TRACKED_REPOS_LIMIT): TrackedReposPlan {
    const cap = Number.isFinite(limit) && limit >= 1 ? Math.floor(limit) : DEFAULT_TRACKED_REPOS_LIMIT
    const seeds = sorted([selfOwner, ...configuredMembers])
    const claimsOf = (owners: Iterable<Did>) => sorted([...owners].flatMap((o) => this.claimedBy(o)))
    const listedBySeeds = sorted(seeds.flatMap((s) => [...(this.listed.get(s) ?? [])]))
    const mutualOwners = listedBySeeds.filter((o) => seeds.some((s) => this.mutual(s, o)))
    const candidates = listedBySeeds.filter((o) => !mutualOwners.includes(o))

    const tiers: Did[][] = [
      [selfOwner],
      sorted(configuredMembers),
      claimsOf(seeds),
      mutualOwners,
      claimsOf(mutualOwners),
      candidates,
      claimsOf(candidates),
    ]
    const taken = new Set<Did>()
    const omitted = new Set<Did>()
    for (const tier of tiers) {
      for (const did of tier) {
        if (taken.has(did)) continue
        if (taken.size < cap) taken.add(did)
        else omitted.add(did)
      }
    }
    for (const did of taken) omitted.delete(did)
    return { repos: sorted(taken), omitted: sorted(omitted), limit: cap }
  }
}
