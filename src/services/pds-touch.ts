// liveness (issue 16 part 3): is this meshlet in touch with its PDS? A meshlet that cannot write
// cannot renew anything nor refute a suspicion, so it must not vouch for itself either: it answers
// probes only while its PDS answered a cheap read (or took a write) within `staleMs`. Out of touch
// longer than `awayAfterMs`, members may have confirmed a suspicion and replaced its replicas: it
// then rejoins (catch up, yield what was replaced) before renewing, like after a lapsed lease.
import type { Clock } from '../ports/clock.js'

export interface PdsTouchOptions {
  clock: Clock
  /** A cheap read of the PDS; true when it answered. */
  reachable: () => Promise<boolean>
  everyMs: number
  staleMs: number
  awayAfterMs: number
  /** Out of touch for longer than awayAfterMs. */
  away: () => void
}

export class PdsTouch {
  private lastOk: number | undefined
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private reportedAway = false

  constructor(private readonly o: PdsTouchOptions) {}

  /** A write landed: as good as a read. */
  touched(): void {
    this.lastOk = this.o.clock.monotonic()
    this.reportedAway = false
  }

  inTouch(): boolean {
    return this.lastOk !== undefined && this.o.clock.monotonic() - this.lastOk <= this.o.staleMs
  }

  start(): void {
    this.touched()
    this.timer = setInterval(() => {
      const silent = this.o.clock.monotonic() - (this.lastOk ?? 0)
      if (silent > this.o.awayAfterMs && !this.reportedAway) {
        this.reportedAway = true
        this.o.away()
      }
      if (this.busy) return
      this.busy = true
      this.o
        .reachable()
        .then((ok) => ok && this.touched())
        .catch(() => undefined)
        .finally(() => (this.busy = false))
    }, this.o.everyMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
