// Batch at-most-once on this meshlet's side: a batch replica starts only with the scheduler's go
// (a quorum of acks) and a fresh own lease, and is killed (fenced) before any peer can see this
// meshlet's lease lapse and count the replica lost.
import type { CommuneView } from '../core/view.js'
import type { AtUri, Workload } from '../core/types.js'
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { StatusReporter } from './status-reporter.js'

export interface BatchGateOptions {
  view: CommuneView
  runtime: ContainerRuntime
  status: StatusReporter
  clock: Clock
  log: Logger
  /** The scheduler's start permission for this meshlet's claim (Decision.start). */
  startGate?: (uri: AtUri) => { allowed: boolean; reason: string } | undefined
  /**
   * When this meshlet's last heartbeat landed (epoch ms, own clock) and the lease it published
   * (what the others apply now: with rare heartbeats a long one, unless a batch claim asked for the
   * short one through wantShort).
   */
  fence?: FenceOptions
}

export interface FenceOptions {
  lease: () => number
  lastBeatAt: () => number | undefined
  /** The shortest lease this meshlet publishes: the watchdog checks at a tenth of it. */
  shortLeaseMs: number
  /** A batch replica is starting or running here: ask for the short lease (fast takeover if this meshlet dies). */
  wantShort?: () => void
}

export class BatchGate {
  /** Batch replicas killed by fencing, with the `lost:` message still to report once a write lands. */
  private readonly fenced = new Map<AtUri, string>()
  private watchdog: NodeJS.Timeout | undefined

  constructor(private readonly o: BatchGateOptions) {}

  /** Killed by fencing and not reported yet: no longer desired here. */
  isFenced(uri: AtUri): boolean {
    return this.fenced.has(uri)
  }

  /** Start only with the scheduler's go and a fresh own lease; until then the status says why. */
  async mayStart(w: Workload): Promise<boolean> {
    this.o.fence?.wantShort?.()
    const fence = this.fenceProblem()
    const gate = this.o.startGate ? this.o.startGate(w.uri) : { allowed: true, reason: '' }
    const reason = fence ? `waiting: ${fence}` : !gate ? 'waiting for the scheduler to place it' : gate.allowed ? undefined : gate.reason
    if (reason === undefined) return true
    await this.o.status.update(w, { state: 'pending', message: reason }).catch((err) => this.o.log.debug({ err: describeError(err), workload: w.uri }, 'could not report waiting'))
    return false
  }

  /** Why this meshlet must not run batch work now (its last heartbeat landed more than lease - lease/3 ago), or undefined. */
  private fenceProblem(): string | undefined {
    const f = this.o.fence
    const last = f?.lastBeatAt()
    if (!f || last === undefined) return undefined
    const lease = f.lease()
    const limit = lease - Math.floor(lease / 3)
    const silent = this.o.clock.now() - last
    return silent > limit ? `no heartbeat of this meshlet landed for ${silent} ms (fence at ${limit} ms of the ${lease} ms lease)` : undefined
  }

  /**
   * Fencing: a batch container must be dead before any peer can see this meshlet's lease lapse and
   * count its replica lost. Kill them, then report `failed` ("lost: ...", no container id: it is not
   * a completion) once a write lands again.
   */
  async apply(containers: ContainerInfo[]): Promise<void> {
    const { view, status, log } = this.o
    if (this.o.fence?.wantShort && containers.some((c) => c.state === 'running' && view.workload(c.labels.workloadUri)?.kind === 'batch')) this.o.fence.wantShort()
    if (await this.fence(containers)) return
    for (const [uri, message] of this.fenced) {
      const w = view.workload(uri)
      if (!w) {
        this.fenced.delete(uri)
        continue
      }
      await status.update(w, { state: 'failed', message }).then(
        () => this.fenced.delete(uri),
        (err) => log.debug({ err: describeError(err), workload: uri }, 'fenced: report not written yet'),
      )
    }
  }

  /** Kills running batch containers while the lease is in doubt; true when fencing is on. Engine calls only, never a PDS write. */
  private async fence(containers: ContainerInfo[]): Promise<boolean> {
    const { view, runtime, log } = this.o
    const problem = this.fenceProblem()
    if (!problem) return false
    for (const c of containers) {
      const w = view.workload(c.labels.workloadUri)
      if (!w || w.kind !== 'batch' || c.state !== 'running' || this.fenced.has(w.uri)) continue
      log.warn({ workload: w.uri, container: c.id.slice(0, 12) }, `fencing ${w.name}: ${problem}`)
      this.fenced.set(w.uri, `lost: killed by fencing: ${problem}`)
      await runtime.stop(c.id, 0).catch((err) => log.warn({ err: describeError(err), workload: w.uri }, 'could not kill fenced container'))
    }
    return true
  }

  /**
   * The fence on a clock of its own: the reconcile pass can be stuck for a PDS timeout on a status
   * write that a dead link swallows, and the kill must not wait for it (a partition is exactly when
   * writes hang). Checks the lease every lease/10 and, only when it is in doubt, lists and kills.
   */
  startWatchdog(list: () => Promise<ContainerInfo[]>): void {
    const f = this.o.fence
    if (!f || this.watchdog) return
    let busy = false
    this.watchdog = setInterval(() => {
      if (busy || !this.fenceProblem()) return
      busy = true
      list()
        .then((containers) => this.fence(containers))
        .catch((err) => this.o.log.debug({ err: describeError(err) }, 'fence watchdog: cannot list containers'))
        .finally(() => (busy = false))
    }, Math.max(100, Math.floor(f.shortLeaseMs / 10)))
    this.watchdog.unref()
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog)
    this.watchdog = undefined
  }
}
