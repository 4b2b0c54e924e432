// Caches host readings: a scheduling pass over a burst of workloads needs one reading, not one per
// workload, and a pass must not wait on the probe either (systeminformation reads go through the
// libuv thread pool, which a busy peer shares with DNS lookups and log writes: the bench saw a
// single reading take ~300 ms on a loaded machine, all of it on the path record -> bid). A reading
// older than maxAgeMs is still served while a fresh one is taken behind it; only one older than
// maxStaleMs (or none yet) is waited for.
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
    private readonly maxStaleMs = 10_000,
  ) {}

  async snapshot(): Promise<HostSnapshot> {
    const cached = this.cached
    if (cached) {
      const age = this.clock.now() - cached.at
      if (age < this.maxAgeMs) return cached.snap
      if (age < this.maxStaleMs) {
        // A failed background reading keeps the old one; the next call tries again.
        this.refresh().catch(() => {})
        return cached.snap
      }
    }
    return this.refresh()
  }

  private refresh(): Promise<HostSnapshot> {
    this.inflight ??= this.probe
      .snapshot()
      .then((snap) => {
        this.cached = { at: this.clock.now(), snap }
        return snap
      })
      .finally(() => {
        this.inflight = undefined
      })
    return this.inflight
  }
}
