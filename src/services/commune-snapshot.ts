// What the web view shows (issue 15), as plain JSON built from the view a peer (or the standalone
// appview) already holds: the commune (owners, their meshlets, verification and why not, capacity,
// heartbeat age, roles/labels, what each runs), the workloads with their holders, and the ledger.
// Nothing is decided here: holders are the live claims on record, the placement explanation is
// services/explain.ts on the same view, and a peer adds its own last decision (control.ts).
import type { ClusterGraph } from '../core/cluster.js'
import { Ledger } from '../core/ledger.js'
import { energyRows, type EnergyFigure, type EnergyPrice } from '../core/energy.js'
import { epochOf, epochStart } from '../core/epoch.js'
import { CLAIM_STATES, type AtUri, type Did, type Workload, type WorkloadStatus } from '../core/types.js'
import type { CommuneView } from '../core/view.js'
import type { WorkloadStatusView } from '../ports/control-plane.js'
import { runsFor } from '../core/eligibility.js'
import { advise } from '../core/advisor.js'
import { demandHistory } from './advisor-history.js'
import { explainFromView, type Explanation } from './explain.js'

export interface SnapshotDeps {
  view: CommuneView
  graph: () => ClusterGraph
  /** Owners the page is about: a peer's owner and configured members; the appview's --members. */
  owners: () => Did[]
  /** Wall clock, epoch ms. */
  now: () => number
  /** Who serves the page. */
  servedBy: { kind: 'peer' | 'appview'; meshlet?: Did; owner?: Did }
  /** A peer's own last decision for a workload ("why not me?"); absent on the appview. */
  peerStatus?: (uri: AtUri) => WorkloadStatusView | undefined
  /** appview (issue 15): --watts-per-core / --kwh-price; absent = no energy column. */
  energy?: EnergyPrice
}

export interface MeshletRow {
  did: Did
  owner: Did
  verified: boolean
  /** Why the link is not verified. */
  problem?: string
  roles: string[]
  labels: string[]
  capabilities: string[]
  cpuMillis?: number
  memoryMb?: number
  /** What this meshlet's live claims commit. */
  cpuMillisUsed: number
  memoryMbUsed: number
  endpoint?: string
  version?: string
  /** Seconds since its profile (the heartbeat) was written; absent when it has none. */
  heartbeatAgeSec?: number
  leaseMs?: number
  /** 'live' (heartbeat within its lease), 'silent' (older), 'no profile'. */
  state: 'live' | 'silent' | 'no profile'
  runs: { uri: AtUri; name: string; owner: Did; state: string; replica?: number }[]
}

export interface HolderRow {
  meshlet: Did
  state: string
  replica?: number
  message?: string
}

export interface WorkloadRow {
  uri: AtUri
  owner: Did
  name: string
  image: string
  replicas: number
  kind: string
  holders: HolderRow[]
  /** running | placing | queued | done | failed */
  summary: string
  createdAt: string
}

export interface BalanceRow {
  owner: Did
  contributed: string
  consumed: string
  balance: string
  /** Balance at each of the last hours (epochs), oldest first. */
  history: { epoch: number; balance: string }[]
  /** appview (issue 15): the energy of the CPU time consumed and contributed (with --watts-per-core). */
  energy?: { consumed: EnergyFigure; contributed: EnergyFigure }
}

export interface CommuneSnapshot {
  generatedAt: string
  servedBy: SnapshotDeps['servedBy']
  owners: { did: Did; meshlets: Did[] }[]
  meshlets: MeshletRow[]
  problems: { did: Did; reason: string }[]
  workloads: WorkloadRow[]
  rejected: { uri: AtUri; did: Did; reason: string }[]
  balances: BalanceRow[]
  /** The hardware advisor on the records at hand: what waited, why, what one more machine would run. */
  advice: { demands: number; unitSeconds: string; lacks: { reason: string; demands: number; unitSeconds: string }[]; machines: { machine: string; percent: number; absorbed: number }[] }
}

export interface WorkloadDetail {
  workload?: WorkloadRow
  explanation: Explanation
  /** This peer's own last decision about it (outcomes as this peer saw them). */
  peer?: WorkloadStatusView
}

/** The machines the page's advisor tries (`meshlet advise --sizes` tries others). */
const ADVISOR_SIZES = [
  { name: '4 cores, 16 GiB', cpuMillis: 4000, memoryMb: 16_384 },
  { name: '8 cores, 32 GiB', cpuMillis: 8000, memoryMb: 32_768 },
]

/** Epochs (hours) of balance history shown per owner. */
const HISTORY_EPOCHS = 24

export class CommuneSnapshots {
  constructor(private readonly d: SnapshotDeps) {}

  /** Owners shown: the configured ones and everyone mutually verified with them, sorted. */
  private shownOwners(graph: ClusterGraph): Did[] {
    const set = new Set<Did>()
    for (const o of this.d.owners()) {
      set.add(o)
      for (const m of graph.activeCluster(o)) set.add(m)
    }
    return [...set].sort()
  }

  snapshot(): CommuneSnapshot {
    const { view } = this.d
    const now = this.d.now()
    const graph = this.d.graph()
    const owners = this.shownOwners(graph)
    const ownerSet = new Set(owners)
    const live = liveClaims(view, graph)
    const meshlets: MeshletRow[] = []
    for (const owner of owners) {
      for (const did of [...new Set([...graph.claimedBy(owner), ...graph.meshletsOf(owner)])].sort()) meshlets.push(this.meshletRow(did, owner, graph, now))
    }
    const workloads = view
      .workloads()
      .filter((w) => ownerSet.has(w.owner))
      .map((w) => workloadRow(w, live.get(w.uri) ?? []))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.uri < b.uri ? -1 : 1))
    const rejected = view
      .rejections()
      .filter((r) => ownerSet.has(r.did) || graph.ownerOf(r.did) !== undefined)
      .map((r) => ({ uri: r.uri, did: r.did, reason: r.reason }))
    return {
      generatedAt: new Date(now).toISOString(),
      servedBy: this.d.servedBy,
      owners: owners.map((did) => ({ did, meshlets: graph.meshletsOf(did) })),
      meshlets,
      problems: graph.problems().filter((p) => ownerSet.has(p.did) || owners.some((o) => graph.claimedBy(o).includes(p.did))),
      workloads,
      rejected,
      balances: this.balances(owners, graph, now),
      advice: this.advice(owners, graph, now),
    }
  }

  private meshletRow(did: Did, owner: Did, graph: ClusterGraph, now: number): MeshletRow {
    const { view } = this.d
    const problem = graph.linkProblem(owner, did)
    const p = view.profile(did)
    let cpu = 0
    let mem = 0
    const runs: MeshletRow['runs'] = []
    for (const s of view.statusesBy(did)) {
      const w = view.workload(s.workload.uri)
      if (!w || w.cid !== s.workload.cid || !CLAIM_STATES.includes(s.state) || !runsFor(graph, did, w.owner)) continue
      cpu += w.resources.cpuMillis
      mem += w.resources.memoryMb
      runs.push({ uri: w.uri, name: w.name, owner: w.owner, state: s.state, replica: s.replica })
    }
    const age = p ? Math.max(0, Math.floor((now - Date.parse(p.updatedAt)) / 1000)) : undefined
    const lease = p?.leaseMs ?? 15_000
    return {
      did,
      owner,
      verified: problem === undefined,
      ...(problem ? { problem } : {}),
      roles: p?.roles ?? [],
      labels: (p?.labels ?? []).map((l) => `${l.key}=${l.value}`),
      capabilities: p?.capabilities ?? [],
      cpuMillis: p?.cpuMillis,
      memoryMb: p?.memoryMb,
      cpuMillisUsed: cpu,
      memoryMbUsed: mem,
      endpoint: p?.endpoint,
      version: p?.version,
      heartbeatAgeSec: age,
      leaseMs: p?.leaseMs,
      state: !p ? 'no profile' : age! * 1000 <= lease ? 'live' : 'silent',
      runs: runs.sort((a, b) => (a.name < b.name ? -1 : 1)),
    }
  }

  private advice(owners: Did[], graph: ClusterGraph, now: number): CommuneSnapshot['advice'] {
    const history = demandHistory(this.d.view, graph, owners, now)
    const roles = [...new Set(history.flatMap((d) => d.roles))].sort()
    const a = advise(history, ADVISOR_SIZES.map((z) => ({ ...z, roles, capabilities: [] })))
    return {
      demands: a.demands,
      unitSeconds: String(a.units / 1000n),
      lacks: a.lacks.map((l) => ({ reason: l.reason, demands: l.demands, unitSeconds: String(l.units / 1000n) })),
      machines: a.machines.map((m) => ({ machine: m.machine, percent: m.percent, absorbed: m.absorbed })),
    }
  }

  private balances(owners: Did[], graph: ClusterGraph, now: number): BalanceRow[] {
    const { view } = this.d
    // Observed at the next hour boundary, so this hour's usage so far counts (a running claim counts
    // to the end of its lease); the same replay `meshlet explain` and every peer make.
    const k = epochOf(now) + 1
    const ledger = new Ledger({ workloads: view.workloads(), bids: view.allBids(), statuses: view.allStatuses(), profiles: view.profiles(), ownerOf: (m) => graph.ownerOf(m), now: epochStart(k) })
    return owners.map((owner) => {
      const b = ledger.balanceAt(owner, k)
      const history = []
      for (let e = k - HISTORY_EPOCHS + 1; e <= k; e++) history.push({ epoch: e, balance: String(ledger.balanceAt(owner, e).balance) })
      // appview (issue 15): energy cost of the CPU time behind the balance, when a draw is configured
      const energy = this.d.energy ? energyRows([owner], (o) => ledger.cpuUse(o), this.d.energy)[0] : undefined
      return { owner, contributed: String(b.contributed), consumed: String(b.consumed), balance: String(b.balance), history, ...(energy ? { energy: { consumed: energy.consumed, contributed: energy.contributed } } : {}) }
    })
  }

  /** One workload: its row, the placement explained from the same records, and this peer's own decision. */
  detail(uri: AtUri): WorkloadDetail {
    const { view } = this.d
    const now = this.d.now()
    const graph = this.d.graph()
    const explanation = explainFromView(uri, view, graph, { repos: [], unreadable: [], now })
    const w = view.workload(uri)
    let peer: WorkloadStatusView | undefined
    try {
      peer = this.d.peerStatus?.(uri)
    } catch {
      peer = undefined // not known to this peer (WorkloadNotFound): the explanation says why
    }
    return { ...(w ? { workload: workloadRow(w, liveClaims(view, graph).get(uri) ?? []) } : {}), explanation, ...(peer ? { peer } : {}) }
  }
}

/**
 * Per workload, the live claims on record for its current version, by meshlets that may run it (a
 * status anyone else writes about it is not a holder: the check control.ts makes).
 */
function liveClaims(view: CommuneView, graph: ClusterGraph): Map<AtUri, WorkloadStatus[]> {
  const out = new Map<AtUri, WorkloadStatus[]>()
  for (const w of view.workloads()) {
    const claims = view.statusesFor(w.uri).filter((s) => s.workload.cid === w.cid && CLAIM_STATES.includes(s.state) && runsFor(graph, s.meshlet, w.owner))
    if (claims.length) out.set(w.uri, claims)
  }
  return out
}

function workloadRow(w: Workload, claims: WorkloadStatus[]): WorkloadRow {
  const holders = claims.map((s) => ({ meshlet: s.meshlet, state: s.state, replica: s.replica, message: s.message })).sort((a, b) => (a.replica ?? 0) - (b.replica ?? 0) || (a.meshlet < b.meshlet ? -1 : 1))
  const running = holders.filter((h) => h.state === 'running').length
  const summary = running >= w.replicas ? 'running' : holders.length > 0 ? 'placing' : 'waiting'
  return { uri: w.uri, owner: w.owner, name: w.name, image: w.image, replicas: w.replicas, kind: w.kind, holders, summary, createdAt: w.createdAt }
}
