// Scale simulation (issue 16 part 5): many peers, many workloads, sampled bidding or today's
// all-bid. Counts the records each workload costs, time to placement (virtual), agreement and
// the heap per tracked workload. Each peer is its own owner (a commune of people with a machine
// each), so the owner-first pin adds one meshlet, not a fifth of the commune.
import type { AtUri, Did, Workload, WorkloadStatus } from '../../src/core/types.js'
import type { PeerAction } from '../../src/core/decide.js'
import type { EligibleMeshlet } from '../../src/core/selection.js'
import { Simulation, median, type Peer, type SimOptions } from './harness.js'

export interface ScaleOptions extends SimOptions {
  workloads: number
  /** Virtual ms between two workload publications. */
  spacingMs: number
  /** Replicas of workload i: 1 + (i mod maxReplicas). */
  maxReplicas: number
  /** Peers whose holders are compared with every other's (all when undefined). */
  checkPeers?: number
}

export class ScaleSimulation extends Simulation {
  /** Per workload: bid/decline records created (acks and withdrawals apart), status writes. */
  readonly bidRecords = new Map<AtUri, number>()
  readonly statusWrites = new Map<AtUri, number>()
  withdrawals = 0
  // With nobody dead, eligibility is the same map for every peer: build it once per workload.
  private readonly eligibleCache = new Map<AtUri, Map<Did, EligibleMeshlet>>()

  constructor(readonly scale: ScaleOptions) {
    super(scale)
    let i = 0
    for (const p of this.peers.values()) p.owner = `did:plc:owner${i++}`
  }

  override eligibleFor(peer: Peer, uri: AtUri): Map<Did, EligibleMeshlet> {
    if (peer.dead.size > 0) return super.eligibleFor(peer, uri)
    return this.electorateFor(uri)
  }

  override electorateFor(uri: AtUri): Map<Did, EligibleMeshlet> {
    let m = this.eligibleCache.get(uri)
    if (!m) this.eligibleCache.set(uri, (m = super.electorateFor(uri)))
    return m
  }

  protected override publish(peer: Peer, w: Workload, actions: PeerAction[]): void {
    for (const a of actions) {
      if (a.type === 'bid' || a.type === 'decline') this.bidRecords.set(w.uri, (this.bidRecords.get(w.uri) ?? 0) + 1)
      else if (a.type === 'withdraw') this.withdrawals++
      else if (a.type !== 'ack') this.statusWrites.set(w.uri, (this.statusWrites.get(w.uri) ?? 0) + 1)
    }
    super.publish(peer, w, actions)
  }

  protected override putStatus(peer: Peer, w: Workload, value: WorkloadStatus): void {
    this.statusWrites.set(w.uri, (this.statusWrites.get(w.uri) ?? 0) + 1)
    super.putStatus(peer, w, value)
  }

  publishAll(): void {
    for (let i = 0; i < this.scale.workloads; i++) this.publishWorkload(i * this.scale.spacingMs, i, 1 + (i % this.scale.maxReplicas))
  }
}

export interface ScaleReport {
  peers: number
  workloads: number
  policy: 'sampled' | 'all-bid'
  /** Mean bid/decline records per workload, and the largest. */
  bidsPerWorkload: number
  maxBids: number
  /** Mean status writes per workload (claims, running, releases). */
  statusPerWorkload: number
  placementP50: number
  placementP99: number
  /** Workloads whose holders differ between peers, or whose count is not min(replicas, able). */
  disagreements: string[]
  doubleHolders: number
  evictions: number
  decisions: number
  wallMs: number
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

/** Compare every (or checkPeers) peer's holders, and count workloads whose settled holders repeat a meshlet or a replica number. */
export function measure(sim: ScaleSimulation, wallMs: number): ScaleReport {
  const live = [...sim.peers.values()].filter((p) => p.alive).map((p) => p.did)
  const checked = sim.scale.checkPeers === undefined ? live : live.filter((_, i) => i % Math.max(1, Math.floor(live.length / sim.scale.checkPeers!)) === 0)
  const disagreements: string[] = []
  const placed: number[] = []
  let doubleHolders = 0
  for (const [uri, truth] of sim.workloads) {
    const holders = sim.holdersSeenBy(checked[0], uri)
    for (const d of checked.slice(1)) {
      const h = sim.holdersSeenBy(d, uri)
      if (h.join(',') !== holders.join(',')) {
        disagreements.push(`${uri}: ${d} sees ${h.join(',')} vs ${holders.join(',')}`)
        break
      }
    }
    const want = sim.expectedCopies(uri)
    if (holders.length !== want) disagreements.push(`${uri}: ${holders.length} holders, want ${want}`)
    const p = sim.peers.get(checked[0])!
    const numbers = p.view.statusesFor(uri).filter((s) => holders.includes(s.meshlet) && s.workload.cid === truth.workload.cid).map((s: WorkloadStatus) => s.replica)
    if (new Set(holders).size !== holders.length || new Set(numbers).size !== numbers.length) doubleHolders++
    if (holders.length > 0) placed.push(Math.max(...holders.map((h) => sim.claimedAt.get(`${h}|${uri}`)!)) - truth.publishedAt)
  }
  const n = sim.workloads.size
  const bids = [...sim.bidRecords.values()]
  return {
    peers: sim.peers.size,
    workloads: n,
    policy: sim.opts.allBid ? 'all-bid' : 'sampled',
    bidsPerWorkload: bids.reduce((a, b) => a + b, 0) / n,
    maxBids: Math.max(0, ...bids),
    statusPerWorkload: [...sim.statusWrites.values()].reduce((a, b) => a + b, 0) / n,
    placementP50: median(placed),
    placementP99: quantile(placed, 0.99),
    disagreements,
    doubleHolders,
    evictions: sim.evictions,
    decisions: sim.decisions,
    wallMs,
  }
}

/** Build, run and measure one scale simulation. */
export function runScale(opts: ScaleOptions): { sim: ScaleSimulation; report: ScaleReport } {
  const t0 = performance.now()
  const sim = new ScaleSimulation(opts)
  sim.publishAll()
  sim.run()
  return { sim, report: measure(sim, Math.round(performance.now() - t0)) }
}

export function scaleDefaults(peers: number, workloads: number, over: Partial<ScaleOptions> = {}): ScaleOptions {
  return {
    seed: 0x5ca1e,
    peers,
    workloads,
    spacingMs: 20,
    maxReplicas: 3,
    maxDelayMs: 800,
    lateProbability: 0.002,
    lateExtraMs: 3000,
    bidWindowMs: 1500,
    leaseMs: 4000,
    declineProbability: 0.3,
    excludeProbability: 0.1,
    priorityRange: 1000,
    ...over,
  }
}

export function reportLine(r: ScaleReport): string {
  return `| ${r.peers} | ${r.workloads} | ${r.policy} | ${r.bidsPerWorkload.toFixed(1)} (max ${r.maxBids}) | ${r.statusPerWorkload.toFixed(1)} | ${r.placementP50} / ${r.placementP99} | ${r.disagreements.length} | ${r.doubleHolders} | ${r.evictions} | ${(r.wallMs / 1000).toFixed(1)} |`
}

export const REPORT_HEADER = '| peers | workloads | policy | bid records / workload | status writes / workload | placement p50 / p99 (virtual ms) | disagreements | double holders | evictions | wall s |\n|---|---|---|---|---|---|---|---|---|---|'
