// Turns this meshlet's claims into containers. Desired = its live claims; running = containers
// labelled with its DID; the pure reconcile() says what to start, stop and keep, and this loop only
// applies that. The same loop adopts containers after a restart (labels carry the workload and spec
// hash), and never kills work it cannot prove is unwanted: a container whose workload is merely
// unknown (PDS unreachable) keeps running until the record is known to be deleted.
// Starting replicas is services/replica-starter.ts, the batch gate and fencing services/batch-gate.ts,
// exits and restarts services/restart-supervisor.ts.
import type { FenceOptions } from './batch-gate.js'
import { reconcile, specHash, type DesiredReplica, type RunningReplica } from '../core/reconcile.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type AtUri, type Did, type Workload, type WorkloadStatus } from '../core/types.js'
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { StatusReporter } from './status-reporter.js'
import type { Timeline } from './timeline.js'
import { BatchGate } from './batch-gate.js'
import { ReplicaStarter } from './replica-starter.js'
import { RestartSupervisor } from './restart-supervisor.js'
import { secretVersions } from '../core/secrets.js'
import type { SecretKeys } from '../ports/secret-keys.js'
import type { ArtifactStore } from '../ports/artifact-store.js'
import type { GuestImagePulls } from './guest-image-pulls.js'
import type { RegistryPolicy } from '../core/registry-policy.js'
import type { HealthProbe } from '../ports/health-probe.js'
import { HealthMonitor } from './health-monitor.js'
import { VersionMemory } from './version-memory.js'

/** Deletions remembered beyond those that still have a container or status here. */
const MAX_REMEMBERED_DELETIONS = 1000

export interface RunnerOptions {
  view: CommuneView
  runtime: ContainerRuntime
  status: StatusReporter
  clock: Clock
  log: Logger
  meshlet: Did
  /** This meshlet's owner (binds and image policy depend on whose workload it is). */
  owner: Did
  allowedBinds: string[]
  registryPolicy?: RegistryPolicy
  pulledImages?: GuestImagePulls
  pidsLimit?: number
  stopTimeoutS?: number
  maxParallelStarts?: number
  /** Full reconcile sweep period; events trigger passes sooner. */
  sweepMs?: number
  /** Stage timestamps for the bench (pulled, created, started, running status landed). */
  timeline?: Timeline
  /** The scheduler's start permission for this meshlet's claim (Decision.start): batch replicas start only when allowed. */
  startGate?: (uri: AtUri) => { allowed: boolean; reason: string } | undefined
  /** Fencing: when this meshlet's last heartbeat landed (epoch ms, own clock) and its lease. */
  fence?: FenceOptions
  /** Secrets (issue 13): this meshlet's sealing keys, to open the copies its workloads mount. */
  secretKeys?: SecretKeys
  /** Binaries from a URL (issue 13). */
  artifacts?: ArtifactStore
  // issue 12 (health): probes replicas whose workload declares a health check (services/health-monitor.ts)
  healthProbe?: HealthProbe
}

const FINAL = new Set(['exited', 'failed'])

export class RunnerService {
  private passScheduled = false
  private passRunning: Promise<void> | undefined
  private abort = new AbortController()
  private readonly gate: BatchGate
  /** Starts run beside the passes, at most maxParallelStarts at once. */
  private readonly starter: ReplicaStarter
  private readonly restarts: RestartSupervisor
  /** issue 12 (health) */
  readonly health: HealthMonitor | undefined
  /** issue 12 (rollout): the versions of each workload this meshlet ran */
  readonly versions = new VersionMemory()
  private sweep: NodeJS.Timeout | undefined
  private stopped = false
  /** No pass before start(): during the initial backfill the view is still partial. */
  private started = false
  /** Workloads whose records are known to be deleted (delete event, or confirmed by their PDS). */
  private readonly deleted = new Set<AtUri>()
  /** Released in a drain: their containers keep running until another meshlet runs them (make before break). */
  private readonly handingOver = new Set<AtUri>()
  engineUp = true
  /** When the engine was last lost. */
  private engineLostAt: number | undefined
  private readonly view: CommuneView
  private readonly runtime: ContainerRuntime
  private readonly status: StatusReporter
  private readonly clock: Clock
  private readonly log: Logger

  constructor(private readonly opts: RunnerOptions) {
    const { view, runtime, status, clock, log } = opts
    this.view = view
    this.runtime = runtime
    this.status = status
    this.clock = clock
    this.log = log
    const mark = () => this.mark()
    this.gate = new BatchGate({ view, runtime, status, clock, log, startGate: opts.startGate, fence: opts.fence })
    this.starter = new ReplicaStarter({
      view,
      runtime,
      status,
      clock,
      log,
      gate: this.gate,
      meshlet: opts.meshlet,
      owner: opts.owner,
      allowedBinds: opts.allowedBinds,
      registryPolicy: opts.registryPolicy,
      pulledImages: opts.pulledImages,
      pidsLimit: opts.pidsLimit,
      maxParallelStarts: opts.maxParallelStarts,
      timeline: opts.timeline,
      signal: this.abort.signal,
      mark,
      secretKeys: opts.secretKeys,
      artifacts: opts.artifacts,
    })
    this.restarts = new RestartSupervisor({ runtime, status, clock, log, mark })
    // issue 12 (health)
    if (opts.healthProbe) {
      this.health = new HealthMonitor({ probe: opts.healthProbe, runtime, status, clock, log, mark, stopTimeoutS: opts.stopTimeoutS })
      status.setHealthGate((w, patch) => this.health!.gate(w, patch))
    }
  }

  /**
   * The workload's record is known to be gone (delete event, rejected version, or its PDS says so):
   * its containers here may be stopped and its status records cleaned up on the next pass.
   */
  workloadDeleted(uri: AtUri): void {
    this.deleted.add(uri)
  }

  /** A valid version of the workload came back: it is no longer deleted. */
  workloadRestored(uri: AtUri): void {
    this.deleted.delete(uri)
  }

  /** Released in a drain: keep its container running until the handover ends (make before break). */
  handOver(uri: AtUri): void {
    this.handingOver.add(uri)
  }

  /** The drain is over (handed over, or out of time): containers of released replicas (or of `uri` alone) may stop. */
  endHandover(uri?: AtUri): void {
    if (uri === undefined) this.handingOver.clear()
    else this.handingOver.delete(uri)
  }

  start(): void {
    this.started = true
    void this.watchLoop()
    this.sweep = setInterval(() => this.mark(), this.opts.sweepMs ?? 3000)
    this.sweep.unref()
    this.gate.startWatchdog(() => this.runtime.list({ meshletDid: this.opts.meshlet }))
    this.mark()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    if (this.sweep) clearInterval(this.sweep)
    this.gate.stopWatchdog()
    this.restarts.stop()
    this.health?.stop()
    this.starter.stop()
    await this.processAll()
  }

  mark(): void {
    if (this.passScheduled || this.stopped || !this.started) return
    this.passScheduled = true
    setImmediate(() => {
      this.passScheduled = false
      if (this.passRunning) {
        void this.passRunning.then(() => this.mark())
        return
      }
      this.passRunning = this.pass()
        .catch((err) => this.log.error({ err: describeError(err) }, 'reconcile pass failed'))
        .finally(() => {
          this.passRunning = undefined
        })
    })
  }

  /** Resolves when no pass is pending or running and no container is being started. */
  async processAll(): Promise<void> {
    while (this.passScheduled || this.passRunning || this.starter.busy) {
      if (this.passRunning) await this.passRunning
      else if (this.starter.active) await this.starter.startEnded()
      else await new Promise((r) => setImmediate(r))
    }
  }

  /** The container of this meshlet's replica of a workload, if any. */
  async containerFor(uri: AtUri): Promise<ContainerInfo | undefined> {
    const all = await this.runtime.list({ meshletDid: this.opts.meshlet })
    return all.find((c) => c.labels.workloadUri === uri && c.state !== 'removing')
  }

  async running(): Promise<ContainerInfo[]> {
    return this.runtime.list({ meshletDid: this.opts.meshlet })
  }

  private async watchLoop(): Promise<void> {
    let backoff = 500
    while (!this.stopped) {
      try {
        await this.runtime.ping()
        this.engineAnswered()
        backoff = 500
        this.mark()
        await this.runtime.watch((e) => {
          // Another meshlet's container on a shared engine (devnet, bench) never changes this plan:
          // no pass for it (a burst on 3 peers would otherwise make each peer list 3x as often).
          if (e.labels.meshletDid !== this.opts.meshlet) return
          this.log.debug({ id: e.id.slice(0, 12), action: e.action, workload: e.labels.workloadUri }, 'container event')
          this.mark()
        }, this.abort.signal)
      } catch (err) {
        if (this.engineUp) {
          this.log.warn({ err: describeError(err) }, 'container engine unavailable; containers are left as they are')
          this.engineLostAt = this.clock.now()
        }
        this.engineUp = false
      }
      if (this.stopped) break
      await new Promise((r) => setTimeout(r, backoff).unref())
      backoff = Math.min(backoff * 2, 5000)
    }
  }

  private async pass(): Promise<void> {
    let containers: ContainerInfo[]
    try {
      containers = await this.runtime.list({ meshletDid: this.opts.meshlet })
    } catch (err) {
      if (this.engineUp) {
        this.log.warn({ err: describeError(err) }, 'cannot list containers')
        this.engineLostAt = this.clock.now()
      }
      this.engineUp = false
      return
    }
    // A sweep may be first to see the engine back: it must not read what the engine stopped as crashes.
    this.engineAnswered()
    await this.gate.apply(containers)
    const mine = new Map<AtUri, WorkloadStatus>()
    for (const s of this.view.statusesBy(this.opts.meshlet)) mine.set(s.workload.uri, s)

    const desired: DesiredReplica[] = []
    // issue 12 (rollout): old versions this meshlet still holds whose record it no longer has: left alone
    const unknownOld = new Set<string>()
    for (const s of mine.values()) {
      const current = this.view.workload(s.workload.uri)
      if (current && s.workload.cid === current.cid) this.versions.remember(current)
      const w = current && s.workload.cid !== current.cid ? this.oldVersion(current, s) : current
      if (current && !w && current.update && CLAIM_STATES.includes(s.state)) unknownOld.add(`${s.workload.uri}\n${s.workload.cid}`)
      if (!w || s.workload.cid !== w.cid) continue
      const hasContainer = containers.some((c) => c.labels.workloadUri === w.uri && c.labels.workloadCid === w.cid)
      // Live claims are desired; a finished replica stays desired while its container exists, so its logs remain readable.
      if ((CLAIM_STATES.includes(s.state) && !this.gate.isFenced(w.uri)) || (FINAL.has(s.state) && hasContainer)) {
        desired.push({ workload: w, replica: s.replica ?? 0, specHash: specHash(w, secretVersions(w, (o, n) => this.view.secret(o, n))) })
      }
    }
    // Never touch containers of workloads we cannot see and do not know to be deleted.
    const considered = containers.filter((c) => (this.view.workload(c.labels.workloadUri) || this.deleted.has(c.labels.workloadUri) || mine.get(c.labels.workloadUri)?.state === 'stopped') && !unknownOld.has(`${c.labels.workloadUri}\n${c.labels.workloadCid}`))
    const running: RunningReplica[] = considered.map((c) => ({
      id: c.id,
      workloadUri: c.labels.workloadUri,
      workloadCid: c.labels.workloadCid,
      specHash: c.labels.specHash,
      replica: c.labels.replica,
      state: c.state,
    }))
    const plan = reconcile(desired, running)

    for (const s of plan.stop) {
      const uri = s.running.workloadUri
      if (this.handingOver.has(uri) && !this.deleted.has(uri)) continue
      this.log.info({ workload: uri, container: s.running.id.slice(0, 12) }, `stopping container: ${s.reason}`)
      try {
        await this.runtime.stop(s.running.id, this.opts.stopTimeoutS ?? 10)
        await this.runtime.remove(s.running.id)
      } catch (err) {
        this.log.warn({ err: describeError(err), workload: uri }, 'could not stop container')
        continue
      }
    }
    // Status records of deleted workloads go once their containers are gone. A REJECTED workload
    // keeps its status: it is how the owner learns why the record is not scheduled. One that ran
    // under a bid stays too, retired as stopped: the ledger counts its usage after the deletion.
    for (const s of mine.values()) {
      const uri = s.workload.uri
      if (!this.deleted.has(uri) || this.view.workload(uri) || this.view.rejection(uri)) continue
      if (containers.some((c) => c.labels.workloadUri === uri) && !plan.stop.some((x) => x.running.workloadUri === uri)) continue
      // (History entries prove usage of earlier versions: such a status stays as well.)
      if ((s.bid && s.startedAt) || s.history?.length) {
        if (CLAIM_STATES.includes(s.state)) await this.status.retire(s, 'workload deleted').catch((err) => this.log.warn({ err: describeError(err), uri }, 'could not retire status record'))
        continue
      }
      await this.status.remove(uri).catch((err) => this.log.warn({ err: describeError(err), uri }, 'could not delete status record'))
    }
    // Every deleted or rejected workload of the commune lands in `deleted`: forget, oldest first,
    // those that left nothing on this meshlet, so the set cannot grow without bound.
    for (const uri of this.deleted) {
      if (this.deleted.size <= MAX_REMEMBERED_DELETIONS) break
      if (!mine.has(uri) && !containers.some((c) => c.labels.workloadUri === uri)) this.deleted.delete(uri)
    }

    // Starts are not awaited here: a claim that lands while other containers start gets its slot at
    // once instead of after the whole batch (a burst would otherwise start in waves, one per pass).
    this.starter.enqueue(plan.start)
    for (const k of plan.keep) await this.check(k.desired.workload, containers.find((c) => c.id === k.running.id)!)
  }

  /**
   * issue 12 (rollout): the spec of an older version this meshlet still holds a claim on (a rolling
   * workload's old holder, or a reverted one), from its memory of that record.
   */
  private oldVersion(current: Workload, s: WorkloadStatus): Workload | undefined {
    if (!current.update || !CLAIM_STATES.includes(s.state)) return undefined
    return this.versions.get(current.uri, s.workload.cid)
  }

  private engineAnswered(): void {
    if (this.engineUp) return
    this.log.info('container engine is back; reconciling')
    this.restarts.engineBounced(this.engineLostAt ?? this.clock.now(), this.clock.now())
    this.engineUp = true
  }

  /** A kept container: report adoption, and apply the restart policy when it has exited. */
  private async check(w: Workload, c: ContainerInfo): Promise<void> {
    const own = this.status.own(w.uri)
    if (!own) return
    if (this.health?.busy(c.id)) return // a health restart or release is under way
    if (c.state === 'running' && CLAIM_STATES.includes(own.state)) this.health?.observe(w, c)
    if (c.state === 'running' || c.state === 'paused' || c.state === 'restarting') {
      if (CLAIM_STATES.includes(own.state) && (own.state !== 'running' || own.containerId !== c.id)) {
        await this.status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image}`, startedAt: c.startedAt, ...(c.ports ? { ports: c.ports } : {}) })
      }
      return
    }
    if (c.state !== 'exited' && c.state !== 'dead' && c.state !== 'created') return
    if (!CLAIM_STATES.includes(own.state)) return // already final
    if (c.state === 'created') return this.starter.startCreated(w, c)
    this.health?.forget(c.id) // a restarted container proves its health again
    await this.restarts.exited(w, c)
  }
}
