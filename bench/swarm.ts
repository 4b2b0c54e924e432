// The baseline: Docker Swarm on the same engine (recipe and gotchas: shared/lab/docker/README.md §4).
// Loopback only (--listen-addr 127.0.0.1:2377), image from the loopback registry so no task tries
// Docker Hub. leave() ALWAYS runs (finally + signal handler in run.ts): it removes our services,
// leaves the swarm and removes the docker_gwbridge network Swarm leaves behind, so tests that run
// later see a plain engine.
import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import type Docker from 'dockerode'
import { monotonicNow } from '../src/services/timeline.js'
import type { EngineStartWatcher } from './engine-events.js'

const pexec = promisify(execFile)
const DOCKER = '/usr/bin/docker'
export const SWARM_LABEL = 'farm.meshlet.bench.swarm'
const SERVICE_ID = 'com.docker.swarm.service.id'

export class SwarmBaseline {
  private joined = false
  private seq = 0

  constructor(
    private readonly docker: Docker,
    private readonly watcher: EngineStartWatcher,
    private readonly image: string,
    private readonly runId: string,
  ) {}

  async init(): Promise<void> {
    const info = (await this.docker.info()) as { Swarm?: { LocalNodeState?: string } }
    // Left over from an interrupted run or not: we leave it at the end, so later tests see a plain engine.
    this.joined = true
    if (info.Swarm?.LocalNodeState === 'active') return
    await pexec(DOCKER, ['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377'])
  }

  /** `docker service create` (the CLI, as a person would; it resolves the registry digest) -> the task's container started. */
  async once(timeoutMs = 60_000): Promise<number> {
    const name = `meshlet-bench-${this.runId}-${++this.seq}`
    const t0 = monotonicNow()
    const { stdout } = await pexec(DOCKER, [
      'service', 'create', '--detach', '--quiet', '--name', name, '--label', `${SWARM_LABEL}=${this.runId}`,
      // `sleep` as PID 1 ignores SIGTERM: keep the removal between samples short.
      '--stop-grace-period', '1s',
      this.image, 'sleep', '3600',
    ])
    const id = stdout.trim()
    const ev = await this.watcher.byLabel(SERVICE_ID, id, timeoutMs)
    await this.removeServices()
    return ev.at - t0
  }

  /**
   * A service with a published port and a health check (Swarm's HEALTHCHECK options) -> the first
   * HTTP 200 on the published port, on loopback, once the task's container is `healthy`. The port
   * is published in host mode: Swarm's ingress routing mesh does not answer on 127.0.0.1 (its DNAT
   * needs a routable source), and host mode binds it directly, like meshlet does. Host mode does not
   * wait for health, so healthy is read from the container (polled) and the 200 counted after it.
   */
  async endpointOnce(
    docker: Docker,
    command: string[],
    containerPort: number,
    health: { intervalMs: number; timeoutMs: number; retries: number },
    pollMs: number,
    timeoutMs = 90_000,
  ): Promise<{ totalMs: number; startedMs: number; healthyMs: number }> {
    const name = `meshlet-bench-${this.runId}-${++this.seq}`
    const port = await freeTcpPort()
    const t0 = monotonicNow()
    try {
      const { stdout } = await pexec(DOCKER, [
        'service', 'create', '--detach', '--quiet', '--name', name, '--label', `${SWARM_LABEL}=${this.runId}`,
        '--stop-grace-period', '1s',
        '--publish', `mode=host,published=${port},target=${containerPort},protocol=tcp`,
        '--health-cmd', `wget -q -O /dev/null http://127.0.0.1:${containerPort}/ || exit 1`,
        '--health-interval', `${health.intervalMs}ms`, '--health-timeout', `${health.timeoutMs}ms`, '--health-retries', String(health.retries), '--health-start-period', '0s',
        this.image, ...command,
      ])
      const ev = await this.watcher.byLabel(SERVICE_ID, stdout.trim(), timeoutMs)
      const deadline = monotonicNow() + timeoutMs
      let healthyAt = 0
      while (!healthyAt) {
        const info = await docker.getContainer(ev.id).inspect().catch(() => undefined)
        if (info?.State?.Health?.Status === 'healthy') healthyAt = monotonicNow()
        else if (monotonicNow() > deadline) throw new Error(`swarm service ${name}: not healthy after ${timeoutMs} ms`)
        else await new Promise((r) => setTimeout(r, pollMs))
      }
      const url = `http://127.0.0.1:${port}/`
      for (;;) {
        const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(async (r) => (await r.arrayBuffer(), r.status === 200), () => false)
        if (ok) return { totalMs: monotonicNow() - t0, startedMs: ev.at - t0, healthyMs: healthyAt - t0 }
        if (monotonicNow() > deadline) throw new Error(`swarm service ${name}: ${url} did not answer 200`)
        await new Promise((r) => setTimeout(r, pollMs))
      }
    } finally {
      await this.removeServices()
    }
  }

  /** n services created at once through the Engine API -> the last task's container started. */
  async burst(n: number, timeoutMs = 180_000): Promise<{ allMs: number; each: number[] }> {
    const t0 = monotonicNow()
    const ids = await Promise.all(
      Array.from({ length: n }, async () => {
        const res = (await this.docker.createService({
          Name: `meshlet-bench-${this.runId}-${++this.seq}`,
          Labels: { [SWARM_LABEL]: this.runId },
          TaskTemplate: { ContainerSpec: { Image: this.image, Args: ['sleep', '3600'], StopGracePeriod: 1e9 } },
        } as Docker.CreateServiceOptions)) as { id?: string; ID?: string }
        return (res.id ?? res.ID)!
      }),
    )
    const evs = await Promise.all(ids.map((id) => this.watcher.byLabel(SERVICE_ID, id, timeoutMs)))
    const each = evs.map((e) => e.at - t0)
    await this.removeServices()
    return { allMs: Math.max(...each), each }
  }

  /** Removes this run's services and waits until their containers are gone. */
  async removeServices(timeoutMs = 60_000): Promise<void> {
    const svcs = (await this.docker.listServices({ filters: { label: [`${SWARM_LABEL}=${this.runId}`] } } as Docker.ServiceListOptions).catch(() => [])) as { ID: string }[]
    await Promise.all(svcs.map((s) => this.docker.getService(s.ID).remove().catch(() => {})))
    const deadline = Date.now() + timeoutMs
    const ids = new Set(svcs.map((s) => s.ID))
    while (Date.now() < deadline) {
      const cs = await this.docker.listContainers({ all: true, filters: { label: ['com.docker.swarm.service.id'] } }).catch(() => [])
      if (!cs.some((c) => ids.has(c.Labels[SERVICE_ID] ?? ''))) return
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Idempotent; safe to call from a signal handler. */
  async leave(): Promise<void> {
    if (!this.joined) return
    this.joined = false
    await this.removeServices(20_000).catch(() => {})
    await leaveSwarm()
  }
}

/** A TCP port free on every interface right now (Swarm's host-mode publish binds 0.0.0.0); the OS picks it, outside meshlet's range. */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}

/** `swarm leave --force` and the docker_gwbridge network it leaves behind. */
export async function leaveSwarm(): Promise<void> {
  await pexec(DOCKER, ['swarm', 'leave', '--force']).catch(() => {})
  await pexec(DOCKER, ['network', 'rm', 'docker_gwbridge']).catch(() => {})
}
