// Docker engine restart under a running peer (issue 6.4). Restarts the machine's real dockerd, so it
// lives in test/serial: scripts/test.sh runs it after the main suite, alone. Debian's dockerd has no
// live-restore: stopping it stops every container. The peer must notice, reconnect, and run the same
// replica again on the same node, without handing it to another peer (it is back well within its lease).
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { describeCommune } from '../helpers/failover-scenario.js'
import { CopyMonitor, copiesOf, docker, keptHolders, memoryLogger, recordFigures, sleep, sleeper } from '../helpers/faults.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const LEASE_MS = 15_000

/** scripts/setup-docker.sh starts dockerd when it is not running (removing stale pid files) and waits for it. */
function ensureEngine(): void {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/setup-docker.sh')], { encoding: 'utf8', timeout: 180_000 })
  if (r.status !== 0) throw new Error(`scripts/setup-docker.sh failed (${r.status}):\n${r.stderr}`)
}

function dockerdPid(): number {
  return Number(fs.readFileSync('/var/run/docker.pid', 'utf8').trim())
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.split(' ')[2] !== 'Z'
  } catch {
    return false
  }
}

describe('the container engine restarts under a running peer', () => {
  let c: DevCommune
  const mem = memoryLogger()

  beforeAll(async () => {
    ensureEngine()
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }, { name: 'ben' }], leaseMs: LEASE_MS, bidWindowMs: 1500, logger: mem.logger })
  }, 240_000)
  afterAll(async () => {
    // Whatever happened, leave a working engine behind for whoever runs next.
    try {
      await docker.ping()
    } catch {
      ensureEngine()
    }
    await c?.close()
  }, 240_000)

  test('the peer reconnects and runs the same replica on the same node', async () => {
    const ann = c.member('ann')
    await c.startPeer(ann)
    const ref = await c.publishWorkload(ann, sleeper('survives-dockerd'))
    const [first] = await waitFor(async () => {
      const x = await copiesOf(ref.uri)
      return x.length === 1 ? x : false
    }, { what: 'ann to run it', timeoutMs: 60_000 })
    await c.startPeer(c.member('ben'))
    const ben = c.member('ben').peer!
    await waitFor(() => keptHolders(ben, ref.uri)?.join() === ann.meshlet.did, { what: 'ben to see ann holding it', timeoutMs: 30_000 })
    const monitor = new CopyMonitor(ref.uri, 250).start()

    // dockerd stops (SIGTERM: it stops every container first), then starts again
    const pid = dockerdPid()
    const t0 = Date.now()
    process.kill(pid, 'SIGTERM')
    await waitFor(() => !alive(pid), { what: 'dockerd to exit', timeoutMs: 90_000, intervalMs: 100 })
    const downMs = Date.now() - t0
    await waitFor(() => ann.peer!.runner.engineUp === false, { what: 'ann to notice the engine is gone', timeoutMs: 30_000 })
    ensureEngine()
    const upAt = Date.now()

    const back = await waitFor(
      async () => {
        const i = await docker.getContainer(first!.id).inspect().catch(() => undefined)
        return i?.State.Status === 'running' ? i : false
      },
      { what: 'the same container to run again', timeoutMs: 60_000, onTimeout: () => describeCommune(c, monitor, mem.lines) },
    )
    const runningAt = Date.now()
    const runningAgainMs = runningAt - upAt
    await waitFor(() => ann.peer!.status.own(ref.uri)?.state === 'running' && ann.peer!.status.own(ref.uri)?.containerId === first!.id, {
      what: 'its status to say running again',
      timeoutMs: 30_000,
    })
    // and nothing moved: one copy, on ann, for a while longer
    await sleep(5000)
    await monitor.sample()
    monitor.stop()
    expect(back.Id).toBe(first!.id)
    expect(await copiesOf(ref.uri)).toHaveLength(1)
    expect([...monitor.firstRunning.keys()]).toEqual([ann.meshlet.did])
    expect(keptHolders(ben, ref.uri)).toEqual([ann.meshlet.did])
    expect(keptHolders(ann.peer!, ref.uri)).toEqual([ann.meshlet.did])
    expect(mem.lines.some((l) => l.includes('container engine is back'))).toBe(true)
    await recordFigures('dockerd-restart', {
      leaseMs: LEASE_MS,
      dockerdStopMs: downMs,
      engineBackToReplicaRunningMs: runningAgainMs,
      sigtermToReplicaRunningMs: runningAt - t0,
      sameContainer: true,
      movedToOtherPeer: false,
    })
  }, 300_000)
})
