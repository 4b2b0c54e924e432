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
  /** When each open problem was first seen: peers starting together publish their records seconds apart. */
  private firstSeen = new Map<string, number>()
  private graceTimer?: NodeJS.Timeout
  /** A problem is reported once it outlived this (ms): a fair chance for the missing record to arrive. */
  graceMs = 20_000

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

  /**
   * Owners this meshlet serves: its owner, and owners of the active cluster that its OWN membership
   * list names (consent per machine: a sibling meshlet's list does not count).
   */
  servedOwners(): Did[] {
    const listed = new Set(this.graph.membersOf(this.self.meshlet))
    return [this.self.owner, ...this.graph.activeCluster(this.self.owner).filter((o) => listed.has(o))]
  }

  /** May `did` call this meshlet? The owners it serves and their verified meshlets. */
  isMember(did: Did): boolean {
    const owners = new Set(this.servedOwners())
    if (owners.has(did)) return true
    const owner = this.graph.ownerOf(did)
    return owner !== undefined && owners.has(owner)
  }

  /** Call once the initial backfill is complete: from now on, unverified links are logged. */
  startReporting(): void {
    this.reporting = true
    this.scheduleGrace()
  }

  private scheduleGrace(): void {
    if (this.graceTimer) return
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined
      this.reportProblems()
    }, this.graceMs + 100)
    this.graceTimer.unref()
  }

  /** Logs problems that lasted the grace period, once each, with what the person can do about them. */
  private reportProblems(): void {
    if (!this.reporting) return
    const now = Date.now()
    const open = new Set<string>()
    let waiting = false
    for (const p of this.graph.problems()) {
      const key = `${p.did}|${p.reason}`
      open.add(key)
      const since = this.firstSeen.get(key) ?? now
      this.firstSeen.set(key, since)
      if (now - since < this.graceMs) waiting = true
      else if (!this.reportedProblems.has(key)) {
        this.reportedProblems.add(key)
        this.log.warn({ did: p.did, forSec: Math.floor((now - since) / 1000) }, `not verified: ${p.reason}${problemHint(p.reason)}`)
      }
    }
    for (const key of this.firstSeen.keys()) if (!open.has(key)) this.firstSeen.delete(key)
    if (waiting) this.scheduleGrace()
  }

  /** Rebuild after a linkage change; returns true when the active cluster changed. */
  async refresh(): Promise<boolean> {
    this.graph = this.build()
    this.reportProblems()
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

/** What to do about an unverified link, for the log line a person reads. */
export function problemHint(reason: string): string {
  if (/has no meshletOwner record yet/.test(reason)) return ' (that meshlet publishes it when its peer starts: start it with `meshlet run --did <meshlet> --owner <owner>`)'
  if (/does not list it as a meshlet|does not claim/.test(reason)) return ' (the owner writes the link with `meshlet link --owner <owner> --meshlet <meshlet>`)'
  if (/but no meshlet of .* lists/.test(reason)) return " (membership is mutual: the other owner's peers must list this owner in --cluster-members, or this one stops listing them)"
  return ''
}
