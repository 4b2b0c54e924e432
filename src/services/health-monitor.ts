// Issue 12 (health): the loop that probes this meshlet's replicas whose workload declares a health
// check. core/health.ts decides (transitions, restart or release); this applies it: one timer per
// container, the status written on each change of health, an unhealthy container restarted in place
// (stop, backoff, start: Nomad's check_restart) until its budget is spent, then stopped and its slot
// released as `failed` ("unhealthy: ..."), so the next candidate takes it and this meshlet is never
// a candidate for that version again.
import { applyProbe, healthReport, initialTrack, unhealthyDecision, waitingMessage, type HealthTrack } from '../core/health.js'
import type { HealthReport } from '../core/health-types.js'
import { CLAIM_STATES, type AtUri, type Workload } from '../core/types.js'
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js'
import type { HealthProbe } from '../ports/health-probe.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { StatusPatch, StatusReporter } from './status-reporter.js'

export interface HealthMonitorOptions {
  probe: HealthProbe
  runtime: ContainerRuntime
  status: StatusReporter
  clock: Clock
  log: Logger
  /** Asks the runner for a reconcile pass. */
  mark: () => void
  stopTimeoutS?: number
}

interface Watched {
  w: Workload
  containerId: string
  track: HealthTrack
  timer?: NodeJS.Timeout
}

export class HealthMonitor {
  private readonly watched = new Map<string, Watched>()
  /** Health restarts per workload version on this meshlet (uri \n cid): survives a recreated container. */
  private readonly restarts = new Map<string, number>()
  /** Containers between a health restart's stop and start, or being released: the runner leaves them alone. */
  private readonly busyIds = new Set<string>()
  private stopped = false

  constructor(private readonly o: HealthMonitorOptions) {}

  /** A kept, running container of a live claim: watch it if its workload has a check (idempotent). */
  observe(w: Workload, c: ContainerInfo): void {
    if (!w.health || this.stopped) return
    const cur = this.watched.get(c.id)
    if (cur && cur.w.cid === w.cid) return
    if (cur) this.forget(c.id)
    const startedAt = Date.parse(c.startedAt ?? '')
    let track = initialTrack(Number.isFinite(startedAt) ? startedAt : this.o.clock.now())
    // Adopted after a peer restart: a replica its own status says was healthy in this container stays so until a probe says otherwise.
    const own = this.o.status.own(w.uri)
    if (own?.workload.cid === w.cid && own.containerId === c.id && own.state === 'running' && own.health?.state === 'healthy') track = { ...track, state: 'healthy' }
    const entry: Watched = { w, containerId: c.id, track }
    this.watched.set(c.id, entry)
    this.schedule(entry)
  }

  /** The container exited, was replaced or is gone: stop probing it. */
  forget(containerId: string): void {
    const e = this.watched.get(containerId)
    if (e?.timer) clearTimeout(e.timer)
    this.watched.delete(containerId)
  }

  busy(containerId: string): boolean {
    return this.busyIds.has(containerId)
  }

  stop(): void {
    this.stopped = true
    for (const e of this.watched.values()) if (e.timer) clearTimeout(e.timer)
    this.watched.clear()
  }

  /**
   * What a status write for `w` must say about health (StatusReporter's gate): a replica of a
   * checked workload is `running` only once its container is healthy; before that `starting`,
   * with the check named in the message. Other states pass unchanged.
   */
  gate(w: Workload, patch: StatusPatch): StatusPatch {
    if (!w.health) return patch
    const e = patch.containerId ? this.watched.get(patch.containerId) : undefined
    const report = e && e.w.cid === w.cid ? healthReport(e.track, this.restartsOf(w)) : undefined
    if (patch.state !== 'running') return report && CLAIM_STATES.includes(patch.state) && !patch.health ? { ...patch, health: report } : patch
    if (e?.track.state === 'healthy') return { ...patch, health: patch.health ?? report }
    return { ...patch, state: 'starting', message: waitingMessage(w.health, e?.track), health: patch.health ?? report ?? { state: 'starting', failures: 0, restarts: this.restartsOf(w) } }
  }

  private restartsOf(w: Pick<Workload, 'uri' | 'cid'>): number {
    return this.restarts.get(`${w.uri}\n${w.cid}`) ?? 0
  }

  private schedule(e: Watched): void {
    if (this.stopped || !e.w.health) return
    e.timer = setTimeout(() => void this.tick(e).catch((err) => this.o.log.warn({ err: describeError(err), workload: e.w.uri }, 'health check loop failed')), e.w.health.intervalMs)
    e.timer.unref()
  }

  /** This container still serves a live claim of this version here. */
  private wanted(e: Watched): boolean {
    const own = this.o.status.own(e.w.uri)
    return !this.stopped && this.watched.get(e.containerId) === e && own !== undefined && own.workload.cid === e.w.cid && CLAIM_STATES.includes(own.state)
  }

  private async tick(e: Watched): Promise<void> {
    e.timer = undefined
    if (!this.wanted(e)) return this.forget(e.containerId)
    const check = e.w.health!
    const result = await this.o.probe.probe(e.containerId, check)
    if (!this.wanted(e)) return this.forget(e.containerId)
    const { track, transition } = applyProbe(e.track, result, check, this.o.clock.now())
    e.track = track
    const { status, log, runtime } = this.o
    const w = e.w
    if (transition === 'healthy') {
      log.info({ workload: w.uri, container: e.containerId.slice(0, 12) }, `${w.name} is healthy`)
      await status.update(w, { state: 'running', containerId: e.containerId, message: `running ${w.image}; healthy`, health: healthReport(track, this.restartsOf(w)) })
    } else if (transition === 'unhealthy') {
      const key = `${w.uri}\n${w.cid}`
      const restarts = this.restartsOf(w)
      const decision = unhealthyDecision({ restarts, maxRetries: w.restart.maxRetries, lastFailure: track.lastFailure })
      log.info({ workload: w.uri, container: e.containerId.slice(0, 12), reason: track.lastFailure }, `${w.name}: ${decision.message}`)
      this.busyIds.add(e.containerId)
      try {
        if (decision.action === 'release') {
          this.forget(e.containerId)
          await runtime.stop(e.containerId, this.o.stopTimeoutS ?? 10).catch((err) => log.warn({ err: describeError(err), workload: w.uri }, 'could not stop an unhealthy container'))
          await status.update(w, { state: 'failed', containerId: e.containerId, message: decision.message, health: healthReport(track, restarts) })
          return
        }
        this.restarts.set(key, restarts + 1)
        const report: HealthReport = healthReport(track, restarts + 1)
        await status.update(w, { state: 'starting', containerId: e.containerId, message: decision.message, health: report })
        await runtime.stop(e.containerId, this.o.stopTimeoutS ?? 10)
        await new Promise((r) => setTimeout(r, decision.delayMs).unref())
        if (!this.wanted(e)) return this.forget(e.containerId)
        await runtime.start(e.containerId)
        e.track = { ...initialTrack(this.o.clock.now()), lastFailure: track.lastFailure, ...(track.lastFailureAt !== undefined ? { lastFailureAt: track.lastFailureAt } : {}) }
      } catch (err) {
        log.warn({ err: describeError(err), workload: w.uri }, 'health restart failed')
        this.forget(e.containerId)
      } finally {
        this.busyIds.delete(e.containerId)
        this.o.mark()
      }
    }
    if (this.watched.get(e.containerId) === e) this.schedule(e)
  }

  /** Health of this meshlet's replica of `uri`, for explain/status views. */
  report(uri: AtUri): HealthReport | undefined {
    for (const e of this.watched.values()) if (e.w.uri === uri) return healthReport(e.track, this.restartsOf(e.w))
    return undefined
  }
}
