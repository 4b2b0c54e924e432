// Issue 12 (rollout): `meshlet rollout status <uri>` from public records alone, like explain: the
// rollout every peer computes (core/rollout.ts) and each version's replicas with their health.
import { buildClusterGraph, type ClusterGraph } from '../core/cluster.js'
import { eligibility } from '../core/eligibility.js'
import { Ledger } from '../core/ledger.js'
import { resolvePlacement } from '../core/placement.js'
import { isHealthy, rolloutOf } from '../core/rollout.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type AtUri, type Cid, type Did, type Profile } from '../core/types.js'
import type { PublicRecordReader } from '../ports/public-records.js'
import { ownerOf, readCluster, type ExplainOptions } from './explain.js'

export interface RolloutReplica {
  meshlet: Did
  cid: Cid
  state: string
  replica?: number
  health?: string
  healthy: boolean
  message?: string
}

export interface RolloutReport {
  uri: AtUri
  found: boolean
  /** The owner's current version. */
  cid?: Cid
  replicas?: number
  update?: { maxParallel: number; minHealthyMs: number; autoRevert: boolean }
  /** none (no update policy) | rolling | complete | halted | reverted */
  phase: 'none' | 'rolling' | 'complete' | 'halted' | 'reverted' | 'missing'
  summary: string
  healthyNew: number
  oldHolders: number
  failed?: string
  /** The version the commune runs instead of the owner's, after autoRevert. */
  revertedTo?: Cid
  replicasByVersion: RolloutReplica[]
}

export async function rolloutReport(uri: AtUri, reader: PublicRecordReader, opts: ExplainOptions): Promise<RolloutReport> {
  const { view, graph } = await readCluster(ownerOf(uri), reader, opts)
  return rolloutFromView(uri, view, graph, opts.now)
}

export function rolloutFromView(uri: AtUri, view: CommuneView, graph: ClusterGraph | undefined, now: number): RolloutReport {
  const w = view.workload(uri)
  const empty = { uri, healthyNew: 0, oldHolders: 0, replicasByVersion: [] }
  if (!w) return { ...empty, found: false, phase: 'missing', summary: `no workload record at ${uri}${view.rejection(uri) ? `: ${view.rejection(uri)!.reason}` : ''}` }
  const g = graph ?? buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() })
  const profiles = new Map<Did, Profile>(view.profiles().map((p) => [p.meshlet, p]))
  // As explain: every meshlet with a profile counts as alive (no receipt history from public records).
  const elig = eligibility({ workload: w, graph: g, profiles, monoNow: 0, lastReceived: (m) => (profiles.has(m) ? 0 : undefined), defaultLeaseMs: 1 })
  const ledger = new Ledger({ workloads: view.workloads(), bids: view.allBids(), statuses: view.allStatuses(), profiles: view.profiles(), ownerOf: (m) => g.ownerOf(m), now })
  const bids = view.bidsFor(uri)
  const statuses = view.statusesFor(uri)
  const placement = resolvePlacement(w, bids, statuses, elig.electorate, ledger.verifyBid, elig.electorate)
  const replicasByVersion: RolloutReplica[] = statuses
    .filter((s) => CLAIM_STATES.includes(s.state) || s.state === 'failed')
    .map((s) => ({ meshlet: s.meshlet, cid: s.workload.cid, state: s.state, ...(s.replica !== undefined ? { replica: s.replica } : {}), ...(s.health ? { health: s.health.state } : {}), healthy: isHealthy(s), ...(s.message ? { message: s.message } : {}) }))
    .sort((a, b) => (a.cid === w.cid ? 0 : 1) - (b.cid === w.cid ? 0 : 1) || (a.meshlet < b.meshlet ? -1 : 1))
  const base = { uri, found: true, cid: w.cid, replicas: w.replicas, replicasByVersion }
  const r = rolloutOf({ workload: w, statuses, bids, eligible: elig.electorate, kept: placement.kept, now })
  const healthyHere = placement.kept.filter(isHealthy).length
  if (!r) return { ...base, phase: 'none', summary: `no update policy: a new version replaces the old at once (${healthyHere}/${w.replicas} healthy)`, healthyNew: healthyHere, oldHolders: 0 }
  const out = { ...base, update: w.update!, healthyNew: r.healthyNew, oldHolders: r.old.length }
  if (r.failed) {
    const back = replicasByVersion.find((x) => x.cid !== w.cid && CLAIM_STATES.includes(x.state as never))?.cid
    if (w.update!.autoRevert) return { ...out, phase: 'reverted', failed: r.failed, ...(back ? { revertedTo: back } : {}), summary: `failed, reverted${back ? ` to ${back}` : ''}: ${r.failed}` }
    return { ...out, phase: 'halted', failed: r.failed, summary: `halted: the new version failed (${r.failed}); ${r.old.length} old replica(s) keep running` }
  }
  if (r.old.length > 0) return { ...out, phase: 'rolling', summary: `rolling: ${r.healthyNew}/${w.replicas} new healthy, ${r.old.length} old still running, ${r.budget} may leave now (maxParallel ${w.update!.maxParallel})` }
  return { ...out, phase: 'complete', summary: `complete: ${r.healthyNew}/${w.replicas} healthy on ${w.cid}` }
}

export function formatRollout(x: RolloutReport): string {
  const lines = [`${x.uri}`, `  ${x.summary}`]
  if (x.cid) lines.push(`  owner's version ${x.cid}${x.update ? `, update maxParallel ${x.update.maxParallel}, minHealthyMs ${x.update.minHealthyMs}, autoRevert ${x.update.autoRevert}` : ''}`)
  if (x.replicasByVersion.length) {
    lines.push('  replicas')
    for (const r of x.replicasByVersion) lines.push(`    ${r.cid === x.cid ? 'new' : 'old'} ${r.cid.slice(-12)}  replica ${r.replica ?? '?'}  ${r.meshlet}  ${r.state}${r.health ? ` (${r.health})` : ''}${r.message ? `  ${r.message}` : ''}`)
  }
  return lines.join('\n') + '\n'
}
