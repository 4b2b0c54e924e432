// The endpoint phase (issue 12): time from a record to a *healthy* endpoint answering, meshlet beside
// Swarm's service with a published port, interleaved in one run. Both serve the same busybox httpd
// page with the same http health check (every 500 ms); the end point for both is the first HTTP 200
// on loopback after the service counts as healthy: for meshlet, the URL in the status record that
// says `running` (a checked replica is running only once healthy); for Swarm, the published port
// once the task's container is `healthy`.
import type Docker from 'dockerode'
import { waitFor, type Member } from '../src/devnet/commune.js'
import { LABEL } from '../src/adapters/docker/labels.js'
import { statusRkey } from '../src/core/hash.js'
import { NSID } from '../src/core/types.js'
import { monotonicNow, type StageTimes } from '../src/services/timeline.js'
import type { BenchCommune } from './bench-commune.js'
import type { EngineStartWatcher } from './engine-events.js'
import type { MeshletBench } from './meshlet-phases.js'
import type { SwarmBaseline } from './swarm.js'

export interface EndpointSample {
  /** t0 -> the first HTTP 200 from the healthy endpoint. */
  totalMs: number
  /** t0 -> the engine's start event for the container. */
  startedMs: number
  /** t0 -> healthy: meshlet, a client reads the running status with its endpoint; Swarm, the container's health is `healthy`. */
  healthyMs: number
  /** meshlet: the holder; Swarm: 'swarm'. */
  winner: string
  /** meshlet: the holder's stage marks (Meshlet.timeline) minus t0, ms. */
  at?: StageTimes
}

export interface EndpointResult {
  meshlet: EndpointSample[]
  swarm: EndpointSample[]
}

export const ENDPOINT_PORT = 8080
/** The page and the check both contenders run (the root is read-only for meshlet, so the page lives in /tmp). */
export const ENDPOINT_COMMAND = ['sh', '-c', `mkdir -p /tmp/www && echo "<h1>bench endpoint</h1>" > /tmp/www/index.html && exec httpd -f -p ${ENDPOINT_PORT} -h /tmp/www`]
export const ENDPOINT_HEALTH = { intervalMs: 500, timeoutMs: 500, retries: 3 }
const POLL_MS = 50

/** One GET on loopback: true on a 200. */
async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return false
  }
}

/** Polls `url` until it answers 200; returns the monotonic time it did. */
export async function firstOk(url: string, timeoutMs: number): Promise<number> {
  await waitFor(() => answers(url), { timeoutMs, intervalMs: POLL_MS, what: `${url} to answer 200` })
  return monotonicNow()
}

/**
 * meshlet: a workload record with a port and an http health check, published by a plain AT client
 * (the next owner in turn) -> the first 200 from the URL in the holder's status record. The client
 * finds that record as any client could: the status rkey is derived from the workload URI
 * (docs/protocol.md), so one getRecord per runner's repo per poll.
 */
export async function meshletEndpointOnce(bc: BenchCommune, mb: MeshletBench, watcher: EngineStartWatcher, name: string, seq: number, shape: { image: string; bidWindowMs: number }, timeoutMs = 90_000): Promise<EndpointSample> {
  const owner = bc.runners[seq % bc.runners.length]!
  const t0 = monotonicNow()
  const ref = await bc.c.publishWorkload(owner, {
    name,
    image: shape.image,
    command: ENDPOINT_COMMAND,
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 32 },
    bidWindowMs: shape.bidWindowMs,
    ports: [{ name: 'http', containerPort: ENDPOINT_PORT, protocol: 'tcp' }],
    health: { type: 'http', port: ENDPOINT_PORT, path: '/', ...ENDPOINT_HEALTH },
  })
  try {
    const started = watcher.byLabel(LABEL.workload, ref.uri, timeoutMs)
    started.catch(() => {})
    const rkey = statusRkey(ref.uri)
    const live = await waitFor(async () => {
      for (const m of bc.runners) {
        const rec = await m.meshlet.agent.com.atproto.repo.getRecord({ repo: m.meshlet.did, collection: NSID.workloadStatus, rkey }).catch(() => undefined)
        const v = rec?.data.value as { state?: string; workload?: { uri?: string }; endpoints?: { url: string }[] } | undefined
        if (v?.workload?.uri === ref.uri && v.state === 'running' && v.endpoints?.length) return { m, url: v.endpoints[0]!.url }
      }
      return false
    }, { timeoutMs, intervalMs: POLL_MS, what: `a running status with an endpoint for ${name}` })
    const healthy = monotonicNow()
    const ok = await firstOk(live.url, 20_000)
    const ev = await started
    const at: StageTimes = {}
    for (const [k, v] of Object.entries(bc.timelines.get(live.m, ref.uri) ?? {})) at[k as keyof StageTimes] = v - t0
    return { totalMs: ok - t0, startedMs: ev.at - t0, healthyMs: healthy - t0, winner: (live.m as Member).name, at }
  } finally {
    await mb.remove([ref.uri], owner)
  }
}

/** Swarm: `docker service create` with a published port and the same check as HEALTHCHECK options -> the first 200 on that port once healthy. */
export async function swarmEndpointOnce(swarm: SwarmBaseline, docker: Docker): Promise<EndpointSample> {
  const s = await swarm.endpointOnce(docker, ENDPOINT_COMMAND, ENDPOINT_PORT, ENDPOINT_HEALTH, POLL_MS)
  return { ...s, winner: 'swarm' }
}
