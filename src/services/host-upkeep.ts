// Housekeeping that keeps a meshlet's machine within bounds (docs/protocol.md, Execution defaults):
// a writable-root container over its storageMb is stopped with a status saying so (the engine here
// cannot hold a disk quota), and images this meshlet pulled and owner networks nobody uses are removed.
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type Did } from '../core/types.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { StatusReporter } from './status-reporter.js'

const MIB = 1024 * 1024

export interface HostUpkeepOptions {
  meshlet: Did
  /** Bound for writable-root containers whose workload names no storageMb. */
  defaultStorageMb: number
  /** How often writable layers are measured (each measure walks the layer). */
  storageCheckMs: number
  /** How often unused images and networks are collected. */
  gcEveryMs: number
}

export class HostUpkeep {
  private timers: NodeJS.Timeout[] = []
  private checking = false

  constructor(
    private readonly view: CommuneView,
    private readonly runtime: ContainerRuntime,
    private readonly status: StatusReporter,
    private readonly o: HostUpkeepOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.runtime.diskUsage) this.every(this.o.storageCheckMs, () => this.checkStorage())
    if (this.runtime.collectGarbage) this.every(this.o.gcEveryMs, () => this.collect())
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
  }

  private every(ms: number, run: () => Promise<unknown>): void {
    const t = setInterval(() => void run().catch((err) => this.log.warn({ err: describeError(err) }, 'host upkeep failed (will retry)')), ms)
    t.unref()
    this.timers.push(t)
  }

  /** Stops every running writable-root container of this meshlet whose layer holds more than its bound. Returns the workloads stopped. */
  async checkStorage(): Promise<string[]> {
    if (this.checking || !this.runtime.diskUsage) return []
    this.checking = true
    const stopped: string[] = []
    try {
      for (const c of await this.runtime.list({ meshletDid: this.o.meshlet })) {
        if (c.state !== 'running') continue
        const w = this.view.workload(c.labels.workloadUri)
        // Only a writable root can grow: a read-only one writes to tmpfs, which its memory limit bounds.
        if (!w || w.cid !== c.labels.workloadCid || !(w.writableRoot || w.volumes?.length)) continue
        const own = this.status.own(w.uri)
        if (!own || !CLAIM_STATES.includes(own.state)) continue
        const limitMb = w.resources.storageMb ?? this.o.defaultStorageMb
        const used = await this.runtime.diskUsage(c.id)
        if (used === undefined || used <= limitMb * MIB) continue
        const usedMb = Math.ceil(used / MIB)
        const message = `stopped: wrote ${usedMb} MiB to its filesystem${w.volumes?.length ? ' and volumes' : ''}, over its storageMb of ${limitMb} MiB`
        this.log.warn({ workload: w.uri, container: c.id.slice(0, 12), usedMb, limitMb }, message)
        // The final status first, so the exit that follows is not read as a crash to restart.
        await this.status.update(w, { state: 'failed', containerId: c.id, message })
        await this.runtime.stop(c.id, 0)
        stopped.push(w.uri)
      }
    } finally {
      this.checking = false
    }
    return stopped
  }

  async collect(): Promise<void> {
    const r = await this.runtime.collectGarbage!()
    if (r.images.length || r.networks) this.log.info({ images: r.images, networks: r.networks }, 'unused images and networks removed')
  }
}
