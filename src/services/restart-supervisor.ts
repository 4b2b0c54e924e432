// What happens to a replica's container after it exits: the restart policy (core/restart.ts)
// decides, this applies it with timers. An exit caused by the container engine going away is not
// a crash: the same container starts again at once, outside the restart budget.
import { restartDecision, restartsBefore } from '../core/restart.js'
import type { Workload } from '../core/types.js'
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { StatusReporter } from './status-reporter.js'

/** How long before the engine was lost its shutdown may have stopped containers (stop timeouts). */
const ENGINE_STOP_WINDOW_MS = 30_000

export interface RestartSupervisorOptions {
  runtime: ContainerRuntime
  status: StatusReporter
  clock: Clock
  log: Logger
  /** Asks the runner for a reconcile pass (after a restart attempt). */
  mark: () => void
}

export class RestartSupervisor {
  private readonly restarts = new Map<string, { count: number; lastExitAt: number; timer?: NodeJS.Timeout }>()
  /** The engine's last absence (lost -> back): what it stopped then was not a crash. */
  private engineBounce: { lostAt: number; backAt: number } | undefined

  constructor(private readonly o: RestartSupervisorOptions) {}

  engineBounced(lostAt: number, backAt: number): void {
    this.engineBounce = { lostAt, backAt }
  }

  stop(): void {
    for (const r of this.restarts.values()) if (r.timer) clearTimeout(r.timer)
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

  /** A kept container of a live claim has exited (or died): restart it, or report the final state. */
  async exited(w: Workload, c: ContainerInfo): Promise<void> {
    const { runtime, status, clock, log } = this.o
    const r = this.restarts.get(c.id) ?? { count: 0, lastExitAt: clock.now() }
    if (r.timer) return // a restart is already scheduled
    // The container list carries no exit code or OOM flag: inspect has them.
    const info = (await runtime.inspect(c.id).catch(() => undefined)) ?? c
    c = { ...c, exitCode: info.exitCode, oomKilled: info.oomKilled }
    if (w.kind !== 'batch' && this.stoppedByEngine(info.finishedAt)) {
      // The engine went away and stopped it (a dockerd restart without live-restore): not a crash.
      // Same container, same node, at once, and it does not count against the restart budget.
      this.restarts.delete(c.id)
      try {
        await runtime.start(c.id)
        log.info({ workload: w.uri, container: c.id.slice(0, 12) }, `${w.name} was stopped by the container engine going away; started again`)
        await status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image} (restarted after the container engine restarted)` })
      } catch (err) {
        log.warn({ err: describeError(err), workload: w.uri }, 'cannot start it again after the engine came back')
      }
      return
    }
    const exitCode = c.exitCode ?? -1
    // Both times come from the engine's clock: how long this run lasted, for the restart interval.
    const ranMs = Date.parse(info.finishedAt ?? '') - Date.parse(info.startedAt ?? '')
    if (Number.isFinite(ranMs) && restartsBefore(r.count, ranMs) < r.count) {
      log.info({ workload: w.uri, ranMs, restarts: r.count }, `${w.name} ran ${Math.floor(ranMs / 1000)} s without a crash; its restart budget starts over`)
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
      now: clock.now(),
      lastExitAt: r.lastExitAt,
    })
    if (decision.action === 'final') {
      log.info({ workload: w.uri, exitCode, oomKilled: c.oomKilled }, `${w.name}: ${decision.message}`)
      this.restarts.delete(c.id)
      await status.update(w, { state: decision.state, containerId: c.id, exitCode, oomKilled: c.oomKilled || undefined, message: decision.message })
      return
    }
    r.count++
    r.lastExitAt = clock.now()
    log.info({ workload: w.uri, exitCode, delayMs: decision.delayMs, restarts: r.count }, `${w.name} exited; restarting`)
    r.timer = setTimeout(() => {
      r.timer = undefined
      runtime
        .start(c.id)
        .then(() => status.update(w, { state: 'running', containerId: c.id, message: `restarted ${r.count} time(s) after exit code ${exitCode}` }))
        .catch((err) => log.warn({ err: describeError(err), workload: w.uri }, 'restart failed'))
        .finally(() => this.o.mark())
    }, decision.delayMs)
    r.timer.unref()
    this.restarts.set(c.id, r)
  }
}
