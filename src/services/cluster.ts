// Keeps the verified cluster graph current as linkage/membership records change on the firehose,
// and tells the record source which repos matter (2 hops of mutual membership, PROTOCOL §1).
import { buildClusterGraph, type ClusterGraph } from '../core/cluster.js'
import type { CommuneView } from '../core/view.js'
import type { Did } from '../core/types.js'
import type { RecordSource } from '../ports/record-source.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'

export class ClusterService {
  private graph: ClusterGraph
  private tracked: string = ''
  private reportedProblems = new Set<string>()
  private lastCluster = ''
  /** Problems are not reported while the initial backfill is still filling the view. */
  private reporting = false

  constructor(
    private readonly view: CommuneView,
    private readonly source: RecordSource,
    private readonly self: { meshlet: Did; owner: Did; configuredMembers: Did[] },
    private readonly log: Logger,
  ) {
    this.graph = this.build()
  }

  current(): ClusterGraph {
    return this.graph
  }

  /** The repos handed to the record source at the last refresh. */
  trackedRepos(): Did[] {
    return this.tracked ? this.tracked.split(',') : []
  }

  /** Owners mutually verified with this meshlet's owner (its active cluster), plus the owner itself. */
  activeOwners(): Did[] {
    return [this.self.owner, ...this.graph.activeCluster(this.self.owner)]
  }

  /** May `did` read from this meshlet? Owners of the active cluster and their verified meshlets. */
  isMember(did: Did): boolean {
    const owners = new Set(this.activeOwners())
    if (owners.has(did)) return true
    const owner = this.graph.ownerOf(did)
    return owner !== undefined && owners.has(owner)
  }

  /** Call once the initial backfill is complete: from now on, unverified links are logged. */
  startReporting(): void {
    this.reporting = true
  }

  /** Rebuild after a linkage change; returns true when the active cluster changed. */
  async refresh(): Promise<boolean> {
    this.graph = this.build()
    for (const p of this.reporting ? this.graph.problems() : []) {
      const key = `${p.did}|${p.reason}`
      if (!this.reportedProblems.has(key)) {
        this.reportedProblems.add(key)
        this.log.warn({ did: p.did }, `not verified: ${p.reason}`)
      }
    }
    const cluster = this.graph.activeCluster(this.self.owner).join(',')
    const changed = cluster !== this.lastCluster
    if (changed && this.reporting) {
      this.log.info({ owner: this.self.owner, cluster: cluster ? cluster.split(',') : [] }, 'active cluster')
      this.lastCluster = cluster
    }
    await this.syncTracked()
    return changed
  }

  private build(): ClusterGraph {
    return buildClusterGraph({ links: this.view.links(), owners: this.view.owners(), memberships: this.view.memberships() })
  }

  private async syncTracked(): Promise<void> {
    const plan = this.graph.planTrackedRepos(this.self.owner, this.self.configuredMembers)
    if (plan.omitted.length > 0) this.log.warn({ limit: plan.limit, omitted: plan.omitted.length }, 'too many repos to follow; the least certain are left out')
    const repos = new Set(plan.repos)
    repos.add(this.self.meshlet)
    repos.add(this.self.owner)
    const list = [...repos].sort()
    const key = list.join(',')
    if (key === this.tracked) return
    this.tracked = key
    this.log.debug({ repos: list.length }, 'tracking repos')
    try {
      await this.source.setRepos(list)
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'could not update tracked repos')
    }
  }
}
