// Drain (the `shutdown` XRPC call, or a signal with drain): stop bidding, release every replica so
// other peers take it, keep each container running until another meshlet runs that replica (make
// before break: never a moment with zero copies), then stop the peer.
import type { CommuneView } from '../core/view.js'
import type { Did, Workload } from '../core/types.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import type { RecordWriter } from './record-writer.js'
import type { RunnerService } from './runner.js'
import type { SchedulerService } from './scheduler.js'
import type { StatusReporter } from './status-reporter.js'

const HANDED_OVER_STATES = ['pending', 'pulling', 'starting', 'running']

export interface DrainDeps {
  meshlet: Did
  /** How long to wait for others to run the released replicas (a lease: by then they have claimed or never will). */
  leaseMs: number
  view: CommuneView
  scheduler: SchedulerService
  status: StatusReporter
  writer: RecordWriter
  runner: RunnerService
  clock: Clock
  log: Logger
  /** Stops the peer's loops once the handover is over. */
  stopPeer: () => Promise<void>
  /** True once the peer is stopping anyway (a signal): the wait for the handover ends. */
  stopping: () => boolean
}

export class DrainService {
  constructor(private readonly d: DrainDeps) {}

  /**
   * Returns how many replicas were handed over, at once (the caller may be an XRPC request); the
   * handover goes on in the background and ends with stopPeer(). Without drain it just stops.
   */
  async shutdown(drain: boolean): Promise<number> {
    const { view, runner, status } = this.d
    const released: Workload[] = []
    if (drain) {
      this.d.scheduler.setDraining(true)
      for (const s of view.statusesBy(this.d.meshlet)) {
        const w = view.workload(s.workload.uri)
        if (!w || w.cid !== s.workload.cid || !HANDED_OVER_STATES.includes(s.state)) continue
        // Make before break: the container keeps running until another meshlet runs the replica.
        runner.handOver(w.uri)
        // 'draining' is a yield prefix (core/placement.ts): this meshlet may take the slot back later.
        await status.release(w, 'draining: handed over to another meshlet (its owner shut it down)')
        released.push(w)
      }
      await this.d.writer.idle()
    }
    void this.finish(released)
    return released.length
  }

  /** Waits (at most a lease) until other meshlets run every released replica, stops their containers here, then the peer. */
  private async finish(released: Workload[]): Promise<void> {
    const { view, runner, clock, log } = this.d
    await new Promise((r) => setTimeout(r, 50)) // let an XRPC caller get its answer first
    const deadline = clock.now() + this.d.leaseMs
    const replaced = (w: Workload) =>
      view.statusesFor(w.uri).filter((s) => s.meshlet !== this.d.meshlet && s.workload.cid === w.cid && s.state === 'running').length >= w.replicas
    while (!this.d.stopping() && released.some((w) => !replaced(w)) && clock.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    const notYet = released.filter((w) => !replaced(w))
    if (notYet.length) log.warn({ workloads: notYet.map((w) => w.uri) }, 'no other meshlet runs these yet; stopping them anyway')
    else if (released.length) log.info({ handedOver: released.length }, 'every drained replica runs elsewhere')
    runner.endHandover()
    runner.mark()
    await runner.processAll()
    await this.d.stopPeer()
  }

  /**
   * when (issue 14): hand ONE replica over without stopping the peer (guest hours closed, a
   * workload's window closed), the way shutdown does: release it ("draining: <why>", a yield) and
   * keep its container running until another meshlet runs it, or a lease passed.
   */
  async handOver(w: Workload, reason: string): Promise<void> {
    const { runner, status, clock } = this.d
    runner.handOver(w.uri)
    await status.release(w, reason)
    const deadline = clock.now() + this.d.leaseMs
    void (async () => {
      const replaced = () => this.d.view.statusesFor(w.uri).filter((s) => s.meshlet !== this.d.meshlet && s.workload.cid === w.cid && s.state === 'running').length >= w.replicas
      while (!this.d.stopping() && !replaced() && clock.now() < deadline) await new Promise((r) => setTimeout(r, 200))
      runner.endHandover(w.uri)
      runner.mark()
    })()
  }
}
