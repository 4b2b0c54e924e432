// The peer's side of the XRPC contract (src/ports/control-plane.ts): read models built from the view,
// the scheduler's last decisions ("why not me?") and the runtime; control actions go through the
// same records and loops as everything else, so a control call and a record change behave alike.
import { runHistory } from './run-history.js'
import { AtUri as AtUriParser } from '@atproto/syntax'
import { CLAIM_STATES, type AtUri, type Did } from '../core/types.js'
import { isYielded } from '../core/placement.js'
import { volumeHolders } from '../core/volumes.js'
import { runsFor } from '../core/eligibility.js'
import type { CommuneView } from '../core/view.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'
import {
  WorkloadNotFoundError,
  type CapacityView,
  type ControlPlane,
  type LogsView,
  type WorkloadStatusView,
  type WorkloadView,
} from '../ports/control-plane.js'
import type { ClusterService } from './cluster.js'
import type { SchedulerService } from './scheduler.js'
import type { RunnerService } from './runner.js'
import type { StatusReporter } from './status-reporter.js'
import type { HostMonitor } from './host-monitor.js'
import { EVICTED_REASON, type EvictionStore } from '../ports/eviction-store.js'
import { purgeVolumes, type PurgeResult } from './volume-purge.js'
import type { HintIntake } from './hint-intake.js'

/**
 * The status message of a replica its owner paused. The lexicon's states have no "paused" (the
 * container still holds its slot), so the public record says it in the message and every peer
 * reports it the same way.
 */
export const PAUSED_MESSAGE = 'paused by its owner'

/** A claim-state status reads as "paused" when its owner froze the container. */
function shownState(s: { state: string; message?: string }): string {
  return s.state === 'running' && s.message === PAUSED_MESSAGE ? 'paused' : s.state
}

export interface PeerControlDeps {
  meshlet: Did
  owner: Did
  view: CommuneView
  cluster: ClusterService
  scheduler: SchedulerService
  runner: RunnerService
  status: StatusReporter
  host: HostMonitor
  runtime: ContainerRuntime
  /** Workloads the owner evicted from this machine. */
  evictions: EvictionStore
  /** Drain then stop the whole peer (wired by the composition root). */
  shutdown: (drain: boolean) => Promise<number>
  /** when (issue 14): the wall clock the run history is read on (default Date.now). */
  now?: () => number
  /** notify (issue 16): where hints go (absent: hints are refused, --notify off). */
  hints?: () => HintIntake | undefined
}

export class PeerControl implements ControlPlane {
  readonly meshletDid: Did
  readonly ownerDid: Did

  constructor(private readonly d: PeerControlDeps) {
    this.meshletDid = d.meshlet
    this.ownerDid = d.owner
  }

  isClusterMember(did: Did): boolean {
    return this.d.cluster.isMember(did)
  }

  workloadOwner(uri: AtUri): Did | undefined {
    const w = this.d.view.workload(uri)
    if (w) return w.owner
    if (this.d.view.rejection(uri) || this.d.view.statusesFor(uri).length > 0) return safeHost(uri)
    return undefined
  }

  async capacity(): Promise<CapacityView> {
    const host = await this.d.host.snapshot()
    let cpu = 0
    let mem = 0
    let running = 0
    for (const s of this.d.view.statusesBy(this.d.meshlet)) {
      const w = this.d.view.workload(s.workload.uri)
      if (!w || w.cid !== s.workload.cid || !CLAIM_STATES.includes(s.state)) continue
      cpu += w.resources.cpuMillis
      mem += w.resources.memoryMb
      if (s.state === 'running') running++
    }
    return {
      meshlet: this.d.meshlet,
      cpuMillis: host.cpuMillisTotal,
      memoryMb: host.memoryMbTotal,
      cpuMillisFree: Math.max(0, host.cpuMillisTotal - cpu),
      memoryMbFree: Math.max(0, Math.min(host.memoryMbAvailable, host.memoryMbTotal - mem)),
      cpuMillisCommitted: cpu,
      memoryMbCommitted: mem,
      loadPermille: host.loadPermille,
      onBattery: host.onBattery,
      batteryPermille: host.batteryPermille,
      thermal: host.thermal,
      running,
      accepting: !this.d.scheduler.isDraining,
    }
  }

  listWorkloads(filter: { owner?: Did; runningOnly?: boolean; limit: number }): WorkloadView[] {
    const out: WorkloadView[] = []
    for (const w of this.d.view.workloads()) {
      if (filter.owner && w.owner !== filter.owner) continue
      const v = this.localView(w.uri)!
      if (filter.runningOnly && !CLAIM_STATES.includes(v.state as never)) continue
      out.push(v)
    }
    if (!filter.runningOnly) {
      for (const r of this.d.view.rejections()) {
        if (r.collection !== 'commune.scheduler.workload') continue
        if (filter.owner && r.did !== filter.owner) continue
        out.push({ uri: r.uri, owner: r.did, name: '(invalid)', image: '', state: 'rejected', message: r.reason })
      }
    }
    return out.sort((a, b) => (a.uri < b.uri ? -1 : 1)).slice(0, filter.limit)
  }

  private localView(uri: AtUri): WorkloadView | undefined {
    const w = this.d.view.workload(uri)
    if (!w) return undefined
    const own = this.d.status.own(uri)
    const decision = this.d.scheduler.decisions.get(uri)
    // A replica this meshlet yielded to the protocol (lost a claim race, drained, lapsed) is not
    // "stopped" in the owner's sense: the workload lives on elsewhere, so say where it stands.
    const yielded = own && own.workload.cid === w.cid && isYielded(own) ? own : undefined
    const current = own && own.workload.cid === w.cid && !yielded ? own : undefined
    const state = current ? shownState(current) : decision ? phaseState(decision.phase, decision.holders.length > 0 || decision.outcomes.some((o) => o.outcome === 'won')) : 'pending'
    return {
      uri: w.uri,
      cid: w.cid,
      owner: w.owner,
      name: w.name,
      image: w.image,
      replicas: w.replicas,
      state,
      containerId: current?.containerId,
      exitCode: current?.exitCode,
      message: current?.message ?? yielded?.message ?? decision?.self?.reason,
      updatedAt: current?.updatedAt,
    }
  }

  workloadStatus(uri: AtUri): WorkloadStatusView {
    const w = this.d.view.workload(uri)
    const rejection = this.d.view.rejection(uri)
    if (!w) {
      if (rejection) return { uri, state: 'failed', valid: false, problem: rejection.reason, phase: 'rejected', replicas: [], bids: [] }
      throw new WorkloadNotFoundError(uri)
    }
    const decision = this.d.scheduler.decisions.get(uri)
    // Only meshlets of the owner's cluster hold replicas: a status record that an outsider (or a
    // member's own account, not a meshlet) writes about this workload is not one.
    const graph = this.d.cluster.current()
    const inCluster = (m: Did) => runsFor(graph, m, w.owner)
    const current = this.d.view.statusesFor(uri).filter((s) => s.workload.cid === w.cid && inCluster(s.meshlet))
    const placed = current.filter((s) => CLAIM_STATES.includes(s.state)).length
    const replicas = current
      .map((s) => ({ meshlet: s.meshlet, state: shownState(s), containerId: s.containerId, message: s.message, updatedAt: s.updatedAt, ...(s.endpoints && CLAIM_STATES.includes(s.state) ? { endpoints: s.endpoints } : {}) }))
      .sort((a, b) => (a.meshlet < b.meshlet ? -1 : 1))
    const local = this.localView(uri)!
    const bids = [
      ...(decision?.outcomes ?? []),
      ...(decision?.excluded ?? []).map((e) => ({ meshlet: e.meshlet, outcome: 'invalid' as const, reason: `not eligible: ${e.reason}` })),
    ]
    const won = bids.filter((b) => b.outcome === 'won').length
    // Queued: a slot has nobody to fill it. An ineligible peer computes no 'queued' phase of its
    // own, so there the bids tell: fewer winners than replicas.
    const queued = placed < w.replicas && (decision?.phase === 'queued' || (decision?.phase === 'ineligible' && won < w.replicas))
    return {
      uri,
      cid: w.cid,
      state: local.state,
      valid: true,
      phase: decision?.phase,
      local,
      replicas,
      bids,
      self: decision?.self ?? (decision ? { meshlet: this.d.meshlet, outcome: 'invalid', reason: decision.excluded.find((e) => e.meshlet === this.d.meshlet)?.reason ?? this.linkProblem() ?? 'no bid yet' } : undefined),
      ...(queued ? { problem: queuedProblem(placed, w.replicas, bids) } : {}),
      ...(w.schedule ? { runs: runHistory(this.d.view, this.d.scheduler.decisions, w, (this.d.now ?? Date.now)()) } : {}), // when (issue 14)
      // Services (issue 12, apps)
      ...(w.volumes?.length ? { volumeHolders: [...volumeHolders(w, this.d.view.profiles())].sort() } : {}),
    }
  }

  /** Why this meshlet is not a verified meshlet of its owner (it is then never eligible), if it is not. */
  private linkProblem(): string | undefined {
    const problem = this.d.cluster.current().linkProblem(this.d.owner, this.d.meshlet)
    return problem ? `not verified: ${problem}` : undefined
  }

  private requireWorkload(uri: AtUri) {
    const w = this.d.view.workload(uri)
    if (!w) throw new WorkloadNotFoundError(uri)
    return w
  }

  async deleteWorkload(uri: AtUri): Promise<{ state: string }> {
    // The record in the owner's repo is the source of truth; this call removes the replica HERE and
    // stops this meshlet from taking it again (the owner deletes the record to stop it everywhere).
    const w = this.requireWorkload(uri)
    await this.d.status.release(w, 'deleted by its owner')
    this.d.runner.mark()
    await this.d.runner.processAll()
    return { state: 'stopped' }
  }

  // notify (issue 16)
  notify(caller: Did, records: { uri: string; cid: string }[]): number {
    return this.d.hints?.()?.receive(caller, records) ?? 0
  }

  purgeVolumes(uri: AtUri): Promise<PurgeResult> {
    return purgeVolumes({ meshlet: this.d.meshlet, view: this.d.view, runtime: this.d.runtime }, uri)
  }

  async stopWorkload(uri: AtUri): Promise<{ state: string }> {
    const w = this.requireWorkload(uri)
    await this.d.status.release(w, 'stopped by its owner')
    this.d.runner.mark()
    await this.d.runner.processAll()
    return { state: 'stopped' }
  }

  /** This meshlet's container of the workload, or a WorkloadNotFound that says it runs elsewhere. */
  private async requireContainer(uri: AtUri) {
    const w = this.requireWorkload(uri)
    const c = await this.d.runner.containerFor(uri)
    if (!c) throw new WorkloadNotFoundError(uri, `no container of ${uri} on this meshlet ${this.d.meshlet}; ask a meshlet that holds a replica (see its status)`)
    return { w, c }
  }

  async pauseWorkload(uri: AtUri): Promise<{ state: string }> {
    const { w, c } = await this.requireContainer(uri)
    await this.d.runtime.pause(c.id)
    const own = this.d.status.own(uri)
    if (own && own.workload.cid === w.cid && own.state === 'running') {
      await this.d.status.update(w, { state: 'running', containerId: c.id, message: PAUSED_MESSAGE })
    }
    return { state: 'paused' }
  }

  async resumeWorkload(uri: AtUri): Promise<{ state: string }> {
    const { w, c } = await this.requireContainer(uri)
    await this.d.runtime.unpause(c.id)
    const own = this.d.status.own(uri)
    if (own && own.workload.cid === w.cid && own.message === PAUSED_MESSAGE) {
      // The runner's own words for a running replica, so nothing else differs after a resume.
      await this.d.status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image}` })
    }
    return { state: 'running' }
  }

  async logs(uri: AtUri, tail: number): Promise<LogsView> {
    this.requireWorkload(uri)
    const c = await this.d.runner.containerFor(uri)
    if (!c) return { uri, lines: [] }
    const tailed = await this.d.runtime.logs(c.id, { tail, maxBytes: MAX_LOG_BYTES })
    return { uri, containerId: c.id, lines: tailed, ...(tailed.truncated ? { truncated: true } : {}) }
  }

  async evictWorkload(uri: AtUri, opts: { undo: boolean }): Promise<{ evicted: boolean; state: 'stopped' | 'declined' | 'allowed' }> {
    if (opts.undo) {
      await this.d.evictions.remove(uri)
      this.d.scheduler.mark(uri)
      return { evicted: false, state: 'allowed' }
    }
    // Durable first: a crash between the two steps must not leave the workload running here later.
    await this.d.evictions.add(uri)
    const w = this.d.view.workload(uri)
    const own = this.d.status.own(uri)
    let state: 'stopped' | 'declined' = 'declined'
    if (w && own && own.workload.cid === w.cid && CLAIM_STATES.includes(own.state)) {
      await this.d.status.release(w, EVICTED_REASON)
      state = 'stopped'
    }
    this.d.runner.mark()
    await this.d.runner.processAll()
    this.d.scheduler.mark(uri)
    return { evicted: true, state }
  }

  async shutdown(opts: { drain: boolean }): Promise<{ accepted: boolean; handedOver: number }> {
    const handedOver = await this.d.shutdown(opts.drain)
    return { accepted: true, handedOver }
  }
}

/** "queued: 0 of 1 replicas placed; waiting for capacity" and why each other meshlet is not running it. */
function queuedProblem(placed: number, replicas: number, bids: { meshlet: Did; outcome: string; reason: string }[]): string {
  // One reason per meshlet: an eligibility verdict ("not eligible: silent: last record ...") says the
  // most, then its first outcome (claims come before bids).
  const reasons = new Map<Did, string>()
  for (const b of bids) if (b.outcome === 'invalid' && b.reason.startsWith('not eligible: ')) reasons.set(b.meshlet, b.reason)
  for (const b of bids) {
    if (b.outcome === 'won' || reasons.has(b.meshlet)) continue
    reasons.set(b.meshlet, b.outcome === 'declined' || b.outcome === 'invalid' || b.reason.startsWith(`${b.outcome}:`) ? b.reason : `${b.outcome}: ${b.reason}`)
  }
  const why = [...reasons].map(([m, r]) => `${m} ${r}`)
  const head = `queued: ${placed} of ${replicas} replicas placed; waiting for capacity`
  return why.length ? `${head} (${why.join('; ')})` : `${head} (no meshlet has answered yet)`
}

/** Byte cap of one getLogs answer (the newest output is kept). */
export const MAX_LOG_BYTES = 1024 * 1024

/** This meshlet's state for a workload it holds no replica of. `placed`: a slot is held (or completed) elsewhere. */
function phaseState(phase: string, placed: boolean): string {
  if (phase === 'bidding') return 'bidding'
  if (phase === 'queued') return 'queued'
  if (phase === 'ineligible') return 'ineligible'
  return placed ? 'elsewhere' : 'pending'
}

function safeHost(uri: string): Did | undefined {
  try {
    return new AtUriParser(uri).hostname
  } catch {
    return undefined
  }
}
