// The floor: what the engine itself needs to create and start the same image, with nothing in front
// of it (dockerode createContainer + start, as in shared/lab/docker/dockerode-bench/burst.ts).
import os from 'node:os'
import type Docker from 'dockerode'
import { createOptions } from '../src/adapters/docker/container-spec.js'
import { monotonicNow } from '../src/services/timeline.js'
import type { EngineStartWatcher } from './engine-events.js'

export const RAW_LABEL = 'farm.meshlet.bench.raw'

/**
 * The floor for the container meshlet actually runs (issue 16): the create options meshlet's
 * runtime builds (adapters/docker/container-spec.ts: CPU and memory limits, read-only root with
 * tmpfs, capabilities dropped, ulimits) on a user-defined bridge of its own, like an owner
 * network. Raw dockerode and Swarm run a bare container on the default bridge; the difference
 * between the two raw rows is what meshlet's isolation costs the engine, measured in the same run.
 */
export interface HardenedFloor {
  network: string
  cpuMillis: number
  memoryMb: number
}

export class RawDocker {
  private seq = 0

  constructor(
    private readonly docker: Docker,
    private readonly watcher: EngineStartWatcher,
    private readonly image: string,
    /** Distinguishes this run's containers from anything else on the engine. */
    private readonly runId: string,
    private readonly hardened?: HardenedFloor,
  ) {}

  /** Makes the hardened floor's bridge (a no-op for the bare contender). */
  async prepare(): Promise<void> {
    if (!this.hardened) return
    const name = this.hardened.network
    if (await this.docker.getNetwork(name).inspect().then(() => true, () => false)) return
    await this.docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { [RAW_LABEL]: this.runId } })
  }

  private options(name: string): Docker.ContainerCreateOptions {
    if (!this.hardened) {
      // Init so a stop takes ~100 ms, like meshlet's containers.
      return { name, Image: this.image, Cmd: ['sleep', '3600'], Labels: { [RAW_LABEL]: this.runId }, HostConfig: { Init: true } }
    }
    const h = this.hardened
    const o = createOptions(
      { name, image: this.image, command: ['sleep', '3600'], env: [], cpuMillis: h.cpuMillis, memoryMb: h.memoryMb, pidsLimit: 512, labels: { workloadUri: 'at://bench/floor', workloadCid: 'bench', specHash: 'bench', meshletDid: 'did:web:bench.floor', replica: 0 } },
      this.image,
      { hostCpus: os.cpus().length, stopTimeoutS: 10, networkMode: h.network },
    )
    // Only the bench's label: no peer may take it for one of meshlet's containers.
    return { ...o, Labels: { [RAW_LABEL]: this.runId } }
  }

  private async createAndStart(): Promise<string> {
    const c = await this.docker.createContainer(this.options(`meshlet-bench-raw${this.hardened ? 'h' : ''}-${this.runId}-${++this.seq}`))
    await c.start()
    return c.id
  }

  /** One container: create call -> the engine reports it started. */
  async once(timeoutMs = 30_000): Promise<number> {
    const t0 = monotonicNow()
    const id = await this.createAndStart()
    const ev = await this.watcher.wait((e) => e.id === id, timeoutMs, `raw container ${id.slice(0, 12)}`)
    await this.removeAll()
    return ev.at - t0
  }

  /** n containers at once: first create call -> the engine reports the last one started. */
  async burst(n: number, timeoutMs = 120_000): Promise<{ allMs: number; each: number[] }> {
    const t0 = monotonicNow()
    const ids = await Promise.all(Array.from({ length: n }, () => this.createAndStart()))
    const evs = await Promise.all(ids.map((id) => this.watcher.wait((e) => e.id === id, timeoutMs, `raw container ${id.slice(0, 12)}`)))
    const each = evs.map((e) => e.at - t0)
    await this.removeAll()
    return { allMs: Math.max(...each), each }
  }

  async removeAll(): Promise<number> {
    const rows = await this.docker.listContainers({ all: true, filters: { label: [`${RAW_LABEL}=${this.runId}`] } })
    const mine = rows.filter((r) => r.Names.some((n) => n.startsWith(`/meshlet-bench-raw${this.hardened ? 'h' : ''}-`)))
    await Promise.all(mine.map((r) => this.docker.getContainer(r.Id).remove({ force: true }).catch(() => {})))
    return mine.length
  }

  /** Removes the hardened floor's bridge (after removeAll). */
  async removeNetwork(): Promise<void> {
    if (this.hardened) await this.docker.getNetwork(this.hardened.network).remove().catch(() => {})
  }
}
