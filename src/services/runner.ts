// Turns this meshlet's claims into containers. Desired = its live claims; running = containers
// labelled with its DID; the pure reconcile() says what to start, stop and keep, and this loop only
// applies that. The same loop adopts containers after a restart (labels carry the workload and spec
// hash), and never kills work it cannot prove is unwanted: a container whose workload is merely
// unknown (PDS unreachable) keeps running until the record is known to be deleted.
import { reconcile, specHash, type DesiredReplica, type RunningReplica } from '../core/reconcile.js'
import { restartDecision, restartsBefore, type PrestartStep } from '../core/restart.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type AtUri, type Did, type Workload, type WorkloadStatus } from '../core/types.js'
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import { containerNameFor } from '../core/container-name.js'
import { parseImageRef } from '../core/image-ref.js'
import type { StatusReporter } from './status-reporter.js'
import type { Timeline } from './timeline.js'
import { withPrestartRetries } from './prestart.js'

/** Deletions remembered beyond those that still have a container or status here. */
const MAX_REMEMBERED_DELETIONS = 1000

export interface RunnerOptions {
  meshlet: Did
  allowedBinds: string[]
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
  fence?: { leaseMs: number; lastBeatAt: () => number | undefined }
}

const FINAL = new Set(['exited', 'failed'])
/** How long before the engine was lost its shutdown may have stopped containers (stop timeouts). */
const ENGINE_STOP_WINDOW_MS = 30_000

export class RunnerService {
  private passScheduled = false
  private passRunning: Promise<void> | undefined
  private starting = new Set<AtUri>()
  /** Replicas waiting for a start slot; starts run beside the passes, at most maxParallelStarts at once. */
  private startQueue: DesiredReplica[] = []
  private activeStarts = 0
  private startWaiters: (() => void)[] = []
  private restarts = new Map<string, { count: number; lastExitAt: number; timer?: NodeJS.Timeout }>()
  private abort = new AbortController()
  private sweep: NodeJS.Timeout | undefined
  private stopped = false
  /** No pass before start(): during the initial backfill the view is still partial. */
  private started = false
  /** Workloads whose records are known to be deleted (delete event, or confirmed by their PDS). */
  readonly deleted = new Set<AtUri>()
  /** Released in a drain: their containers keep running until another meshlet runs them (make before break). */
  readonly handingOver = new Set<AtUri>()
  engineUp = true
  /** When the engine was last lost, and its last absence (lost -> back): what it stopped then was not a crash. */
  private engineLostAt: number | undefined
  private engineBounce: { lostAt: number; backAt: number } | undefined
  /** Batch replicas killed by fencing, with the `lost:` message still to report once a write lands. */
  private readonly fenced = new Map<AtUri, string>()

  constructor(
    private readonly view: CommuneView,
    private readonly runtime: ContainerRuntime,
    private readonly status: StatusReporter,
    private readonly clock: Clock,
    private readonly opts: RunnerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.started = true
    void this.watchLoop()
    this.sweep = setInterval(() => this.mark(), this.opts.sweepMs ?? 3000)
    this.sweep.unref()
    this.mark()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    if (this.sweep) clearInterval(this.sweep)
    for (const r of this.restarts.values()) if (r.timer) clearTimeout(r.timer)
    this.startQueue = []
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
    while (this.passScheduled || this.passRunning || this.activeStarts > 0 || this.startQueue.length > 0) {
      if (this.passRunning) await this.passRunning
      else if (this.activeStarts > 0) await new Promise<void>((r) => this.startWaiters.push(r))
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
    await this.applyFence(containers)
    const mine = new Map<AtUri, WorkloadStatus>()
    for (const s of this.view.statusesBy(this.opts.meshlet)) mine.set(s.workload.uri, s)

    const desired: DesiredReplica[] = []
    for (const s of mine.values()) {
      const w = this.view.workload(s.workload.uri)
      if (!w || s.workload.cid !== w.cid) continue
      const hasContainer = containers.some((c) => c.labels.workloadUri === w.uri && c.labels.workloadCid === w.cid)
      // Live claims are desired; a finished replica stays desired while its container exists, so its logs remain readable.
      if ((CLAIM_STATES.includes(s.state) && !this.fenced.has(w.uri)) || (FINAL.has(s.state) && hasContainer)) {
        desired.push({ workload: w, replica: s.replica ?? 0, specHash: specHash(w) })
      }
    }
    // Never touch containers of workloads we cannot see and do not know to be deleted.
    const considered = containers.filter((c) => this.view.workload(c.labels.workloadUri) || this.deleted.has(c.labels.workloadUri) || mine.get(c.labels.workloadUri)?.state === 'stopped')
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
      if (s.bid && s.startedAt) {
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
    for (const d of plan.start) {
      if (!this.starting.has(d.workload.uri) && !this.startQueue.some((q) => q.workload.uri === d.workload.uri)) this.startQueue.push(d)
    }
    this.pumpStarts()
    for (const k of plan.keep) await this.check(k.desired.workload, containers.find((c) => c.id === k.running.id)!)
  }

  private pumpStarts(): void {
    const limit = this.opts.maxParallelStarts ?? 4
    while (this.activeStarts < limit && this.startQueue.length > 0 && !this.stopped) {
      const d = this.startQueue.shift()!
      // Queued behind other starts: a newer version of the workload makes this one moot.
      if (this.view.workload(d.workload.uri)?.cid !== d.workload.cid) continue
      this.activeStarts++
      void this.startReplica(d).finally(() => {
        this.activeStarts--
        for (const w of this.startWaiters.splice(0)) w()
        this.pumpStarts()
      })
    }
  }

  private async startReplica(d: DesiredReplica): Promise<void> {
    const w = d.workload
    if (this.starting.has(w.uri)) return
    const own = this.status.own(w.uri)
    if (!own || !CLAIM_STATES.includes(own.state)) return
    if (w.kind === 'batch' && !(await this.mayStartBatch(w))) return
    this.starting.add(w.uri)
    try {
      const pulled = await this.prestart(w, 'pull', async () => {
        if (await this.runtime.hasImage(w.image)) return
        await this.status.update(w, { state: 'pulling', message: `pulling ${w.image}` })
        let last = 0
        await this.runtime.pull(w.image, {
          signal: this.abort.signal,
          onProgress: (p) => {
            const now = this.clock.now()
            if (now - last > 1000) {
              last = now
              this.log.debug({ workload: w.uri, status: p.status, current: p.current, total: p.total }, 'pull progress')
            }
          },
        })
        this.opts.timeline?.mark(w.uri, 'pulled')
      })
      if (!pulled) return
      // Reported while the engine creates and starts it: a PDS round trip must not hold up the start
      // (writes of one status record are serialised, so 'running' still lands after it).
      this.status.update(w, { state: 'starting', message: `starting ${w.image}` }).catch((err) => this.log.warn({ err: describeError(err), workload: w.uri }, 'could not report starting'))
      let id = ''
      const created = await this.prestart(w, 'create', async () => {
        id = await this.runtime.create({
          name: containerNameFor({ owner: w.owner, workloadUri: w.uri, replica: d.replica, meshlet: this.opts.meshlet }),
          image: w.image,
          command: w.command,
          // The replica number placement assigned (unique per version): sharded work needs it.
          env: [...w.env.filter((e) => e.name !== 'MESHLET_REPLICA'), { name: 'MESHLET_REPLICA', value: String(d.replica) }],
          cpuMillis: w.resources.cpuMillis,
          memoryMb: w.resources.memoryMb,
          pidsLimit: this.opts.pidsLimit ?? 512,
          labels: { workloadUri: w.uri, workloadCid: w.cid, specHash: d.specHash, meshletDid: this.opts.meshlet, replica: d.replica },
          allowedBinds: this.opts.allowedBinds.length ? this.opts.allowedBinds : undefined,
        })
      })
      if (!created) return
      this.opts.timeline?.mark(w.uri, 'created')
      await this.runtime.start(id)
      this.opts.timeline?.mark(w.uri, 'started')
      this.log.info({ workload: w.uri, container: id.slice(0, 12) }, `running ${w.name}`)
      await this.status.update(w, { state: 'running', containerId: id, message: `running ${w.image}` })
      this.opts.timeline?.mark(w.uri, 'reported')
    } catch (err) {
      const message = describeError(err)
      this.log.warn({ workload: w.uri, err: message }, `failed to start ${w.name}`)
      // A peer shutting down aborts its pulls: that is not the workload's failure.
      if (!this.stopped) await this.status.update(w, { state: 'failed', message }).catch(() => {})
      await this.removeLeftover(w)
    } finally {
      this.starting.delete(w.uri)
    }
  }

  /** Pull or create with retries on this peer while the claim is kept, then yield (services/prestart.ts). */
  private prestart(w: Workload, step: PrestartStep, run: () => Promise<void>): Promise<boolean> {
    const stillWanted = () => {
      const own = this.status.own(w.uri)
      return !this.stopped && own !== undefined && own.workload.cid === w.cid && CLAIM_STATES.includes(own.state) && this.view.workload(w.uri)?.cid === w.cid
    }
    return withPrestartRetries(
      step,
      run,
      {
        cleanup: () => this.removeLeftover(w),
        retrying: (message) => this.status.update(w, { state: step === 'pull' ? 'pulling' : 'starting', message }).then(() => undefined),
        yieldSlot: (message) => this.status.release(w, message).then(() => undefined),
        stillWanted,
        // An invalid reference fails the same way on every peer: report it, do not pass it around.
        permanent: () => !parseImageRef(w.image).ok,
      },
      this.log.child({ workload: w.uri }),
    )
  }

  /** Leave nothing half-made behind: a created-but-unstarted container is removed (its name is free again). */
  private async removeLeftover(w: Workload): Promise<void> {
    const leftover = await this.containerFor(w.uri).catch(() => undefined)
    if (leftover && leftover.state !== 'running') await this.runtime.remove(leftover.id).catch(() => {})
  }

  /** Batch at-most-once: start only with the scheduler's go (a quorum of acks) and a fresh own lease; until then say why. */
  private async mayStartBatch(w: Workload): Promise<boolean> {
    const fence = this.fenceProblem()
    const gate = this.opts.startGate ? this.opts.startGate(w.uri) : { allowed: true, reason: '' }
    const reason = fence ? `waiting: ${fence}` : !gate ? 'waiting for the scheduler to place it' : gate.allowed ? undefined : gate.reason
    if (reason === undefined) return true
    await this.status.update(w, { state: 'pending', message: reason }).catch((err) => this.log.debug({ err: describeError(err), workload: w.uri }, 'could not report waiting'))
    return false
  }

  /** Why this meshlet must not run batch work now (its last heartbeat landed more than lease - lease/3 ago), or undefined. */
  private fenceProblem(): string | undefined {
    const f = this.opts.fence
    const last = f?.lastBeatAt()
    if (!f || last === undefined) return undefined
    const limit = f.leaseMs - Math.floor(f.leaseMs / 3)
    const silent = this.clock.now() - last
    return silent > limit ? `no heartbeat of this meshlet landed for ${silent} ms (fence at ${limit} ms of the ${f.leaseMs} ms lease)` : undefined
  }

  /**
   * Fencing: a batch container must be dead before any peer can see this meshlet's lease lapse and
   * count its replica lost. Kill them, then report `failed` ("lost: ...", no container id: it is not
   * a completion) once a write lands again.
   */
  private async applyFence(containers: ContainerInfo[]): Promise<void> {
    const problem = this.fenceProblem()
    if (problem) {
      for (const c of containers) {
        const w = this.view.workload(c.labels.workloadUri)
        if (!w || w.kind !== 'batch' || c.state !== 'running' || this.fenced.has(w.uri)) continue
        this.log.warn({ workload: w.uri, container: c.id.slice(0, 12) }, `fencing ${w.name}: ${problem}`)
        this.fenced.set(w.uri, `lost: killed by fencing: ${problem}`)
        await this.runtime.stop(c.id, 0).catch((err) => this.log.warn({ err: describeError(err), workload: w.uri }, 'could not kill fenced container'))
      }
      return
    }
    for (const [uri, message] of this.fenced) {
      const w = this.view.workload(uri)
      if (!w) {
        this.fenced.delete(uri)
        continue
      }
      await this.status.update(w, { state: 'failed', message }).then(
        () => this.fenced.delete(uri),
        (err) => this.log.debug({ err: describeError(err), workload: uri }, 'fenced: report not written yet'),
      )
    }
  }

  /**
   * A container that exists but never started: this peer died between create and start. Nothing
   * else would start it (reconcile keeps it, startReplica only runs for missing ones), so the
   * replica would stay 'starting' forever. Start it; if that fails, remove it so the next pass
   * creates a fresh one.
   */
  private async startCreated(w: Workload, c: ContainerInfo): Promise<void> {
    if (this.starting.has(w.uri)) return // startReplica is between its create and start
    this.starting.add(w.uri)
    try {
      await this.runtime.start(c.id)
      this.log.info({ workload: w.uri, container: c.id.slice(0, 12) }, `running ${w.name} (its container was created but never started)`)
      await this.status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image}` })
    } catch (err) {
      this.log.warn({ err: describeError(err), workload: w.uri }, 'cannot start a container left created; replacing it')
      await this.runtime.remove(c.id).catch(() => {})
      this.mark()
    } finally {
      this.starting.delete(w.uri)
    }
  }

  private engineAnswered(): void {
    if (this.engineUp) return
    this.log.info('container engine is back; reconciling')
    this.engineBounce = { lostAt: this.engineLostAt ?? this.clock.now(), backAt: this.clock.now() }
    this.engineUp = true
  }

  /**
   * Did this container end while the engine was away? dockerd stops containers (each within its
   * stop timeout) before its API goes, so the window opens a little before the engine was lost.
   */
  private stoppedByEngine(finishedAt: string | undefined): boolean {
    const b = this.engineBounce
    const at = finishedAt ? Date.parse(finishedAt) : NaN
    return b !== undefined && Number.isFinite(at) && at >= b.lostAt - ENGINE_STOP_WINDOW_MS && at <= b.backAt + 1000
  }

  /** A kept container: report adoption, and apply the restart policy when it has exited. */
  private async check(w: Workload, c: ContainerInfo): Promise<void> {
    const own = this.status.own(w.uri)
    if (!own) return
    if (c.state === 'running' || c.state === 'paused' || c.state === 'restarting') {
      if (CLAIM_STATES.includes(own.state) && (own.state !== 'running' || own.containerId !== c.id)) {
        await this.status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image}`, startedAt: c.startedAt })
      }
      return
    }
    if (c.state !== 'exited' && c.state !== 'dead' && c.state !== 'created') return
    if (!CLAIM_STATES.includes(own.state)) return // already final
    if (c.state === 'created') return this.startCreated(w, c)
    const r = this.restarts.get(c.id) ?? { count: 0, lastExitAt: this.clock.now() }
    if (r.timer) return // a restart is already scheduled
    // The container list carries no exit code or OOM flag: inspect has them.
    const info = (await this.runtime.inspect(c.id).catch(() => undefined)) ?? c
    c = { ...c, exitCode: info.exitCode, oomKilled: info.oomKilled }
    if (w.kind !== 'batch' && this.stoppedByEngine(info.finishedAt)) {
      // The engine went away and stopped it (a dockerd restart without live-restore): not a crash.
      // Same container, same node, at once, and it does not count against the restart budget.
      this.restarts.delete(c.id)
      try {
        await this.runtime.start(c.id)
        this.log.info({ workload: w.uri, container: c.id.slice(0, 12) }, `${w.name} was stopped by the container engine going away; started again`)
        await this.status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image} (restarted after the container engine restarted)` })
      } catch (err) {
        this.log.warn({ err: describeError(err), workload: w.uri }, 'cannot start it again after the engine came back')
      }
      return
    }
    const exitCode = c.exitCode ?? -1
    // Both times come from the engine's clock: how long this run lasted, for the restart interval.
    const ranMs = Date.parse(info.finishedAt ?? '') - Date.parse(info.startedAt ?? '')
    if (Number.isFinite(ranMs) && restartsBefore(r.count, ranMs) < r.count) {
      this.log.info({ workload: w.uri, ranMs, restarts: r.count }, `${w.name} ran ${Math.floor(ranMs / 1000)} s without a crash; its restart budget starts over`)
      r.count = 0
    }
    const decision = restartDecision({
      kind: w.kind,
      policy: w.restart.policy,
      maxRetries: w.restart.maxRetries,
      exitCode,
      oomKilled: c.oomKilled ?? false,
      memoryMb: w.resources.memoryMb,
      restarts: r.count,
      now: this.clock.now(),
      lastExitAt: r.lastExitAt,
    })
    if (decision.action === 'final') {
      this.log.info({ workload: w.uri, exitCode, oomKilled: c.oomKilled }, `${w.name}: ${decision.message}`)
      this.restarts.delete(c.id)
      await this.status.update(w, { state: decision.state, containerId: c.id, exitCode, oomKilled: c.oomKilled || undefined, message: decision.message })
      return
    }
    r.count++
    r.lastExitAt = this.clock.now()
    this.log.info({ workload: w.uri, exitCode, delayMs: decision.delayMs, restarts: r.count }, `${w.name} exited; restarting`)
    r.timer = setTimeout(() => {
      r.timer = undefined
      this.runtime
        .start(c.id)
        .then(() => this.status.update(w, { state: 'running', containerId: c.id, message: `restarted ${r.count} time(s) after exit code ${exitCode}` }))
        .catch((err) => this.log.warn({ err: describeError(err), workload: w.uri }, 'restart failed'))
        .finally(() => this.mark())
    }, decision.delayMs)
    r.timer.unref()
    this.restarts.set(c.id, r)
  }
}
