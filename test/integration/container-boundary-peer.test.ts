// The container boundary through a whole peer (issue 17): its profile says what it enforces, its
// containers run on their owner's network (or none), and a writable-root container writing past its
// storageMb is stopped with a status saying so (overlay2 on extfs here takes no disk quota).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import Docker from 'dockerode'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { NSID } from '../../src/core/types.js'
import { removeChains, tag } from '../helpers/host-net.js'

const IMAGE = 'meshlet/busybox:test'
const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const CHAINS = `CP${tag(4).toUpperCase()}`
type StatusValue = { workload: { uri: string }; state: string; message?: string; containerId?: string }

describe('the container boundary of a running peer', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }], leaseMs: 8000, bidWindowMs: 500, firewallChain: CHAINS })
    await c.startPeer(c.member('ann'), {}, { storageCheckMs: 1000 })
  }, 120_000)
  afterAll(async () => {
    await c?.close()
    await removeChains(CHAINS)
  })

  const statusOf = async (uri: string): Promise<StatusValue | undefined> => {
    const m = c.member('ann')
    const recs = await m.meshlet.agent.com.atproto.repo.listRecords({ repo: m.meshlet.did, collection: NSID.workloadStatus, limit: 100 })
    return recs.data.records.map((r) => r.value as StatusValue).find((v) => v.workload.uri === uri)
  }

  test('the profile publishes what is enforced', async () => {
    const m = c.member('ann')
    const p = await m.meshlet.agent.com.atproto.repo.getRecord({ repo: m.meshlet.did, collection: NSID.profile, rkey: 'self' })
    expect((p.data.value as { isolation?: unknown }).isolation).toEqual({ network: 'owner-bridge', hostBlocked: true, lanBlocked: true, readOnlyRoot: true, userns: 'none', storage: 'watched' })
  })

  test('a workload runs on its owner network, read-only; network none gets none; requires isolation is met here', async () => {
    const ann = c.member('ann')
    const a = await c.publishWorkload(ann, { name: 'net', image: IMAGE, command: ['sleep', '600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, requires: { isolation: true } })
    const b = await c.publishWorkload(ann, { name: 'nonet', image: IMAGE, command: ['sleep', '600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, network: 'none' })
    for (const [ref, mode] of [[a, /^meshlet-net-[0-9a-f]{16}$/], [b, /^none$/]] as const) {
      const s = await waitFor(async () => {
        const st = await statusOf(ref.uri)
        return st?.state === 'running' && st.containerId ? st : false
      }, { what: `${ref.uri} running`, timeoutMs: 30_000 })
      const info = await docker.getContainer(s.containerId!).inspect()
      expect(info.HostConfig.NetworkMode).toMatch(mode)
      expect(info.HostConfig.ReadonlyRootfs).toBe(true)
    }
  })

  test('a writable-root container writing past its storageMb is stopped, with the reason in its status', async () => {
    const ref = await c.publishWorkload(c.member('ann'), {
      name: 'filler',
      image: IMAGE,
      command: ['sh', '-c', 'dd if=/dev/zero of=/fill bs=1M count=20; sleep 600'],
      replicas: 1,
      resources: { cpuMillis: 100, memoryMb: 32, storageMb: 5 },
      writableRoot: true,
    })
    const s = await waitFor(async () => {
      const st = await statusOf(ref.uri)
      return st?.state === 'failed' ? st : false
    }, { what: 'the filler to be stopped', timeoutMs: 40_000 })
    expect(s.message).toMatch(/^stopped: wrote (2[01]|19) MiB to its filesystem, over its storageMb of 5 MiB$/)
    // The status goes first (so the exit is not read as a crash), the stop right after.
    await waitFor(async () => !(await docker.getContainer(s.containerId!).inspect()).State.Running, { what: 'the filler container to stop', timeoutMs: 10_000 })
    // Not restarted (restart policy always): the status stays final.
    await new Promise((r) => setTimeout(r, 3000))
    expect((await docker.getContainer(s.containerId!).inspect()).State.Running).toBe(false)
    expect((await statusOf(ref.uri))?.state).toBe('failed')
  })
})
