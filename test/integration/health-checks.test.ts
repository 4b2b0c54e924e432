// Health checks (issue 12 part 2) on a real PLC + PDS and the real Docker engine: a replica is
// `running` only once its check passes (here an HTTP server that comes up after a few seconds,
// probed on its bridge address), and one whose check never passes is restarted on its meshlet,
// then released (`failed`, "unhealthy: ...") and placed on another meshlet, never back on the first.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { CLAIM_STATES, type WorkloadStatus } from '../../src/core/types.js'
import type { Meshlet } from '../../src/meshlet.js'
import { IMAGE, docker } from '../helpers/faults.js'

const CHAINS = `MHLT${randomBytes(2).toString('hex').toUpperCase()}`

/** Every status of the workload's current version, as `peer` sees them. */
function current(peer: Meshlet, uri: string): WorkloadStatus[] {
  const w = peer.view.workload(uri)
  return w ? peer.view.statusesFor(uri).filter((s) => s.workload.cid === w.cid) : []
}

describe('health checks on a real commune', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }, { name: 'ben' }], leaseMs: 8000, bidWindowMs: 1000, firewallChain: CHAINS })
    await c.startAll()
  }, 120_000)
  afterAll(async () => c?.close(), 120_000)

  test('an HTTP service is starting until its check passes after its start period, then running and healthy', async () => {
    const ann = c.member('ann')
    // httpd comes up 4 s after the container starts; the check fails until then (start period: not counted).
    const ref = await c.publishWorkload(ann, {
      name: 'health-late-web',
      image: IMAGE,
      command: ['sh', '-c', 'sleep 4; mkdir -p /tmp/www; echo ok > /tmp/www/index.html; exec httpd -f -p 8080 -h /tmp/www'],
      replicas: 1,
      resources: { cpuMillis: 100, memoryMb: 32 },
      health: { type: 'http', port: 8080, path: '/index.html', intervalMs: 500, timeoutMs: 500, retries: 3, startPeriodMs: 10_000 },
      constraints: { members: [ann.owner.did] },
    })
    const peer = ann.peer!
    const seen: { state: string; health?: string; at: number }[] = []
    const running = await waitFor(
      () => {
        const s = current(peer, ref.uri).find((x) => x.meshlet === ann.meshlet.did)
        if (s) seen.push({ state: s.state, health: s.health?.state, at: Date.now() })
        return s?.state === 'running' ? s : false
      },
      { what: 'the replica to become running', timeoutMs: 40_000, intervalMs: 100 },
    )
    expect(running.health).toMatchObject({ state: 'healthy', failures: 0, restarts: 0 })
    // Before: it was `starting` while its container ran, with the check named and the failure noted.
    const starting = seen.filter((x) => x.state === 'starting' && x.health === 'starting')
    expect(starting.length).toBeGreaterThan(0)
    // It became running only after httpd answered: at least 4 s after the container started.
    const info = await docker.getContainer(running.containerId!).inspect()
    const startedAt = Date.parse(info.State.StartedAt)
    const runningSince = seen.find((x) => x.state === 'running')!.at
    expect(runningSince - startedAt).toBeGreaterThanOrEqual(4000)
    // Every peer reads the same health from the record.
    await waitFor(() => c.peers().every((p) => current(p, ref.uri).some((s) => s.state === 'running' && s.health?.state === 'healthy')), { what: 'every peer to see it healthy', timeoutMs: 15_000 })
    await c.deleteRecord(ann.owner.agent, ref.uri)
  }, 60_000)

  test('a service whose check fails is restarted, then released and placed on another meshlet, and never comes back', async () => {
    const ann = c.member('ann')
    const ref = await c.publishWorkload(ann, {
      name: 'health-broken',
      image: IMAGE,
      command: ['sleep', '3600'],
      replicas: 1,
      resources: { cpuMillis: 100, memoryMb: 32 },
      restart: { policy: 'always', maxRetries: 1 },
      // (a loaded machine may time the exec out instead of seeing it exit 1: a failure either way)
      health: { type: 'exec', command: ['test', '-f', '/tmp/never'], intervalMs: 1000, timeoutMs: 1000, retries: 2 },
    })
    const peer = ann.peer!
    const dids = [ann.meshlet.did, c.member('ben').meshlet.did]
    // The first holder: restarted once for failed checks, then gives up with the reason.
    const first = await waitFor(() => current(peer, ref.uri).find((s) => s.state === 'failed'), { what: 'the first holder to release', timeoutMs: 40_000 })
    expect(first.message).toMatch(/^unhealthy: restarted 1 time for failed health checks, giving up on this meshlet: test (exited 1|did not finish within 1000 ms)/)
    expect(first.health).toMatchObject({ state: 'unhealthy', restarts: 1, failures: 2 })
    expect(first.health?.lastFailure).toMatch(/^test (exited 1|did not finish within 1000 ms)/)
    // The slot goes to the other meshlet.
    const other = dids.find((d) => d !== first.meshlet)!
    await waitFor(() => current(peer, ref.uri).some((s) => s.meshlet === other && (CLAIM_STATES.includes(s.state) || s.state === 'failed')), { what: 'the other meshlet to take the slot', timeoutMs: 30_000 })
    // ... and ends the same way there; the first meshlet never claims this version again.
    await waitFor(() => current(peer, ref.uri).every((s) => s.state === 'failed') && current(peer, ref.uri).length === 2, { what: 'both to give up', timeoutMs: 40_000 })
    const firstNow = current(peer, ref.uri).find((s) => s.meshlet === first.meshlet)!
    expect(firstNow.state).toBe('failed')
    expect(firstNow.updatedAt).toBe(first.updatedAt)
    // The released containers are stopped, not left running unhealthy.
    const labelled = await docker.listContainers({ all: true, filters: { label: [`farm.meshlet.workload=${ref.uri}`] } })
    expect(labelled.filter((x) => x.State === 'running')).toEqual([])
    await c.deleteRecord(ann.owner.agent, ref.uri)
  }, 90_000)
})
