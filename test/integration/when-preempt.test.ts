// when (issue 14) on a real PLC + PDS + Docker engine: owner first. ben's meshlet is full with
// ann's batch job; when ben's own workload does not fit, ben preempts ann's job ("preempted by the
// machine's owner") and the job is placed again on cat's meshlet, while ben's workload runs on ben.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { sleeper } from '../helpers/faults.js'
import type { Meshlet } from '../../src/meshlet.js'

const running = (p: Meshlet, uri: string, meshlet: string) => p.view.statusesFor(uri).some((s) => s.meshlet === meshlet && s.state === 'running')

describe('owner first on a real network', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({
      members: [
        { name: 'ann', cpuMillis: 400 }, // too small for the job: it goes to ben
        { name: 'ben', cpuMillis: 1000 },
        { name: 'cat', cpuMillis: 1000, silent: true }, // joins later, with room
      ],
      leaseMs: 6000,
    })
    await c.startAll()
  }, 120_000)
  afterAll(async () => c?.close())

  test("an owner's workload preempts a guest's batch job on a full meshlet; the job is re-placed elsewhere", async () => {
    const [ann, ben, cat] = [c.member('ann'), c.member('ben'), c.member('cat')]
    const job = await c.publishWorkload(ann, sleeper('guest-job', { kind: 'batch', delivery: 'at-least-once', bidWindowMs: 1000, resources: { cpuMillis: 450, memoryMb: 32 } }))
    await waitFor(() => running(ben.peer!, job.uri, ben.meshlet.did), { what: "ann's job to run on ben", timeoutMs: 30_000 })
    await c.startPeer(cat)
    await waitFor(() => cat.peer!.view.statusesFor(job.uri).length > 0, { what: 'cat to catch up', timeoutMs: 30_000 })

    // ben's own workload: 600m on a meshlet with 1000m, 450m of which ann's job holds (a guest may hold half).
    const own = await c.publishWorkload(ben, sleeper('owner-work', { bidWindowMs: 1000, resources: { cpuMillis: 600, memoryMb: 32 }, constraints: { privacy: 'owner-only' } }))
    const preempted = await waitFor(() => cat.peer!.view.statusesFor(job.uri).find((s) => s.meshlet === ben.meshlet.did && s.state === 'stopped'), { what: "ben to preempt ann's job", timeoutMs: 30_000 })
    expect(preempted.message).toBe("preempted by the machine's owner")
    await waitFor(() => running(ann.peer!, own.uri, ben.meshlet.did), { what: "ben's own workload to run on ben", timeoutMs: 30_000 })
    await waitFor(() => running(ann.peer!, job.uri, cat.meshlet.did), { what: "ann's job to run again on cat", timeoutMs: 30_000 })
    // No loop: ben does not take the job back while its owner's work holds the room.
    await new Promise((r) => setTimeout(r, 3000))
    const holders = ann.peer!.view.statusesFor(job.uri).filter((s) => ['pending', 'pulling', 'starting', 'running'].includes(s.state)).map((s) => s.meshlet)
    expect(holders).toEqual([cat.meshlet.did])
    expect((await ben.peer!.ports.runtime.list({ meshletDid: ben.meshlet.did })).filter((x) => x.labels.workloadUri === job.uri && x.state === 'running')).toEqual([])
    await c.deleteRecord(ann.owner.agent, job.uri)
    await c.deleteRecord(ben.owner.agent, own.uri)
  }, 150_000)
})
