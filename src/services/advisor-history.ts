// The advisor's history (issue 15) from public records: for each workload of the commune, each
// replica's wait beyond its bid window (until a meshlet started it, or until now) and the reasons
// meshlets declined it. Public records keep no queue log, so this is what they can show: the wait
// of the current version of each workload still on record.
import type { ClusterGraph } from '../core/cluster.js'
import type { Demand } from '../core/advisor.js'
import { runsFor } from '../core/eligibility.js'
import type { CommuneView } from '../core/view.js'
import type { Did } from '../core/types.js'

/** A wait shorter than this past the bid window is a start taking its time (a pull), not a lack of machines. */
export const MIN_WAIT_MS = 60_000

export function demandHistory(view: CommuneView, graph: ClusterGraph, owners: readonly Did[], now: number, minWaitMs = MIN_WAIT_MS): Demand[] {
  const shown = new Set(owners)
  const out: Demand[] = []
  for (const w of view.workloads()) {
    if (!shown.has(w.owner)) continue
    const from = Date.parse(w.createdAt) + w.bidWindowMs
    const declines = view.bidsFor(w.uri).filter((b) => b.workload.cid === w.cid && b.decline !== undefined).map((b) => b.decline!)
    // When each replica began: a status's startedAt (else its last update), earliest first.
    const started = view
      .statusesFor(w.uri)
      .filter((s) => s.workload.cid === w.cid && runsFor(graph, s.meshlet, w.owner) && s.state !== 'pending' && s.state !== 'failed')
      .map((s) => Date.parse(s.startedAt ?? s.updatedAt))
      .filter((t) => Number.isFinite(t))
      .sort((a, b) => a - b)
    for (let replica = 0; replica < w.replicas; replica++) {
      const to = Math.min(started[replica] ?? now, now)
      if (!(to - from >= minWaitMs)) continue
      out.push({ workload: w.replicas > 1 ? `${w.name}#${replica}` : w.name, cpuMillis: w.resources.cpuMillis, memoryMb: w.resources.memoryMb, roles: w.constraints.roles, capabilities: w.constraints.capabilities, from, to, declines })
    }
  }
  return out
}
