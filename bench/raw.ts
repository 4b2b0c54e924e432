// The floor: what the engine itself needs to create and start the same image, with nothing in front
// of it (dockerode createContainer + start, as in shared/lab/docker/dockerode-bench/burst.ts).
import type Docker from 'dockerode'
import { monotonicNow } from '../src/services/timeline.js'
import type { EngineStartWatcher } from './engine-events.js'

export const RAW_LABEL = 'farm.meshlet.bench.raw'

export class RawDocker {
  private seq = 0

  constructor(
    private readonly docker: Docker,
    private readonly watcher: EngineStartWatcher,
    private readonly image: string,
    /** Distinguishes this run's containers from anything else on the engine. */
    private readonly runId: string,
  ) {}

  private async createAndStart(): Promise<string> {
    const c = await this.docker.createContainer({
      name: `meshlet-bench-raw-${this.runId}-${++this.seq}`,
      Image: this.image,
      Cmd: ['sleep', '3600'],
      Labels: { [RAW_LABEL]: this.runId },
      // Init so a stop takes ~100 ms, like meshlet's containers.
      HostConfig: { Init: true },
    })
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
    await Promise.all(rows.map((r) => this.docker.getContainer(r.Id).remove({ force: true }).catch(() => {})))
    return rows.length
  }
}
