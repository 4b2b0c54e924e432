// Caches host readings briefly: a scheduling pass over a burst of workloads needs one reading,
// not one per workload (systeminformation calls cost milliseconds each).
import type { HostSnapshot } from '../core/types.js'
import type { HostProbe } from '../ports/host-probe.js'
import type { Clock } from '../ports/clock.js'

export class HostMonitor {
  private cached: { at: number; snap: HostSnapshot } | undefined
  private inflight: Promise<HostSnapshot> | undefined

  constructor(
    private readonly probe: HostProbe,
    private readonly clock: Clock,
    private readonly maxAgeMs = 1000,
  ) {}

  async snapshot(): Promise<HostSnapshot> {
    const now = this.clock.now()
    if (this.cached && now - this.cached.at < this.maxAgeMs) return this.cached.snap
    if (!this.inflight) {
      this.inflight = this.probe
        .snapshot()
        .then((snap) => {
          this.cached = { at: this.clock.now(), snap }
          return snap
        })
        .finally(() => {
          this.inflight = undefined
        })
    }
    return this.inflight
  }
}
