// Winners run real containers (issue 7): limits applied, status records, delete stops everywhere,
// batch exit codes, OOM, bad images, and adoption after kill -9 of a peer process.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import Docker from 'dockerode'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { NSID } from '../../src/core/types.js'

const IMAGE = 'meshlet/busybox:test'
const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const containersOf = (uri: string, all = false) => docker.listContainers({ all, filters: { label: [`farm.meshlet.workload=${uri}`] } })

type StatusValue = { workload: { uri: string }; state: string; message?: string; exitCode?: number; oomKilled?: boolean; containerId?: string }

async function statusesIn(c: DevCommune, uri: string): Promise<(StatusValue & { meshlet: string })[]> {
  const out: (StatusValue & { meshlet: string })[] = []
  for (const m of c.members) {
    const recs = await m.meshlet.agent.com.atproto.repo.listRecords({ repo: m.meshlet.did, collection: NSID.workloadStatus, limit: 100 })
    for (const r of recs.data.records) {
      const v = r.value as StatusValue
      if (v.workload.uri === uri) out.push({ ...v, meshlet: m.meshlet.did })
    }
  }
  return out
}

describe('execution with a real Docker engine', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], leaseMs: 8000, bidWindowMs: 1500 })
    await c.startAll()
  }, 120_000)
  afterAll(async () => c?.close())

  test('replicas 2 -> exactly 2 containers on 2 peers with limits applied; delete -> all gone', async () => {
    const ref = await c.publishWorkload(c.member('ann'), {
      name: 'web',
      image: IMAGE,
      command: ['sleep', '3600'],
      replicas: 2,
      resources: { cpuMillis: 500, memoryMb: 48 },
    })
    // Converged: 2 running containers on 2 peers, and those 2 peers' status records say running.
    // (A transient claim conflict may briefly start a third copy; it must be gone when this holds.)
    const { running, hosts } = await waitFor(async () => {
      const cs = await containersOf(ref.uri)
      const hosts = new Set(cs.map((x) => x.Labels['farm.meshlet.meshlet']))
      const sts = await statusesIn(c, ref.uri)
      const runningBy = new Set(sts.filter((s) => s.state === 'running').map((s) => s.meshlet))
      return cs.length === 2 && hosts.size === 2 && runningBy.size === 2 && [...hosts].every((h) => runningBy.has(h!)) ? { running: cs, hosts } : false
    }, { what: '2 containers on 2 peers with matching running statuses', timeoutMs: 40_000 })
    expect(hosts.size).toBe(2)
    for (const x of running) {
      const info = await docker.getContainer(x.Id).inspect()
      expect(info.HostConfig.Memory).toBe(48 * 1024 * 1024)
      expect(info.HostConfig.NanoCpus).toBe(500_000_000)
      expect(info.HostConfig.CapDrop).toEqual(['ALL'])
      expect(info.HostConfig.Privileged).toBe(false)
      expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges')
    }
    // stays at exactly 2 (no late duplicate)
    await new Promise((r) => setTimeout(r, 2000))
    expect(await containersOf(ref.uri)).toHaveLength(2)

    const t0 = Date.now()
    await c.deleteRecord(c.member('ann').owner.agent, ref.uri)
    await waitFor(async () => (await containersOf(ref.uri, true)).length === 0, { what: 'containers to go', timeoutMs: 20_000 })
    const took = Date.now() - t0
    expect(took).toBeLessThan(20_000)
    // Statuses that ran stay, retired (the ledger still counts the usage after the record is gone).
    await waitFor(async () => {
      const sts = await statusesIn(c, ref.uri)
      return sts.every((s) => !['pending', 'pulling', 'starting', 'running'].includes(s.state)) && sts.filter((s) => /workload deleted/.test(s.message ?? '')).length === 2
    }, { what: 'both holders to retire their status records', timeoutMs: 20_000 })
  })

  test('a batch workload reports its exit code and is not restarted', async () => {
    const ref = await c.publishWorkload(c.member('ben'), {
      name: 'job',
      image: IMAGE,
      kind: 'batch',
      command: ['sh', '-c', 'echo working; exit 3'],
      replicas: 1,
      resources: { cpuMillis: 100, memoryMb: 32 },
    })
    const st = await waitFor(async () => (await statusesIn(c, ref.uri)).find((s) => s.state === 'exited'), { what: 'exited status', timeoutMs: 40_000 })
    expect(st.exitCode).toBe(3)
    expect(st.message).toMatch(/exit code 3/)
    await new Promise((r) => setTimeout(r, 1500))
    const cs = await containersOf(ref.uri, true)
    expect(cs).toHaveLength(1)
    expect(cs[0]!.State).toBe('exited')
    await c.deleteRecord(c.member('ben').owner.agent, ref.uri)
  })

  test('a workload over its memory limit is reported OOM-killed', async () => {
    const ref = await c.publishWorkload(c.member('cat'), {
      name: 'hog',
      image: IMAGE,
      kind: 'batch',
      command: ['sh', '-c', 'x=a; while true; do x=$x$x; done'],
      replicas: 1,
      resources: { cpuMillis: 200, memoryMb: 16 },
    })
    const st = await waitFor(async () => (await statusesIn(c, ref.uri)).find((s) => s.state === 'failed' || s.state === 'exited'), { what: 'final status', timeoutMs: 40_000 })
    expect(st.oomKilled).toBe(true)
    expect(st.message).toMatch(/out of memory/i)
    await c.deleteRecord(c.member('cat').owner.agent, ref.uri)
  })

  test('an invalid image reference gives a failed status with a clear message (it fails the same everywhere: no retry)', async () => {
    const ref = await c.publishWorkload(c.member('ann'), { name: 'bad-image', image: 'Meshlet/BusyBox:test', replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })
    const st = await waitFor(async () => (await statusesIn(c, ref.uri)).find((s) => s.state === 'failed'), { what: 'failed status', timeoutMs: 40_000 })
    expect(st.message).toMatch(/invalid image reference|lowercase/i)
    expect(await containersOf(ref.uri, true)).toHaveLength(0)
    for (const p of c.peers()) expect((await fetch(`${p.url}/health`)).status).toBe(200)
    await c.deleteRecord(c.member('ann').owner.agent, ref.uri)
  })

  test('a nonexistent image is retried on the peer, then yielded with "start failed:" (the next candidate tries)', async () => {
    const ref = await c.publishWorkload(c.member('ann'), { name: 'bad-image', image: '127.0.0.1:5000/meshlet/does-not-exist:1', replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })
    const st = await waitFor(async () => (await statusesIn(c, ref.uri)).find((s) => s.state === 'stopped' && s.message?.startsWith('start failed:')), { what: 'a yielded status', timeoutMs: 60_000 })
    expect(st.message).toMatch(/^start failed: pull failed 5 times: .*not found/i)
    expect(await containersOf(ref.uri, true)).toHaveLength(0)
    for (const p of c.peers()) expect((await fetch(`${p.url}/health`)).status).toBe(200)
    await c.deleteRecord(c.member('ann').owner.agent, ref.uri)
  }, 90_000)

  test('pulls from a loopback registry when the image is not local', async () => {
    const image = '127.0.0.1:5000/meshlet/busybox:test'
    await docker.getImage(image).remove({ force: true }).catch(() => {})
    const ref = await c.publishWorkload(c.member('ben'), { name: 'pulled', image, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })
    await waitFor(async () => (await statusesIn(c, ref.uri)).find((s) => s.state === 'running'), { what: 'running from the registry image', timeoutMs: 40_000 })
    expect((await docker.getImage(image).inspect()).Id).toBeTruthy()
    await c.deleteRecord(c.member('ben').owner.agent, ref.uri)
  })
})

describe('adoption after kill -9', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'solo' }], leaseMs: 20_000, bidWindowMs: 500 })
  }, 60_000)
  afterAll(async () => c?.close())

  test('a killed peer restarts and adopts its running container: same id, not restarted, no duplicate', async () => {
    const solo = c.member('solo')
    await c.spawnPeer(solo)
    const ref = await c.publishWorkload(solo, { name: 'keep-me', image: IMAGE, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })
    const [first] = await waitFor(async () => {
      const cs = await containersOf(ref.uri)
      return cs.length === 1 ? cs : false
    }, { what: 'container', timeoutMs: 40_000 })
    await waitFor(async () => (await statusesIn(c, ref.uri)).find((s) => s.state === 'running'), { what: 'running status', timeoutMs: 20_000 })
    const startedAt = (await docker.getContainer(first!.Id).inspect()).State.StartedAt
    await c.killPeer(solo)
    expect((await containersOf(ref.uri))[0]!.Id).toBe(first!.Id) // the container outlives its peer
    await c.spawnPeer(solo)
    await new Promise((r) => setTimeout(r, 4000))
    const after = await containersOf(ref.uri, true)
    expect(after).toHaveLength(1)
    expect(after[0]!.Id).toBe(first!.Id)
    expect((await docker.getContainer(first!.Id).inspect()).State.StartedAt).toBe(startedAt)
    expect(solo.logs.join('\n')).not.toMatch(/stopping container/)
  })
})
