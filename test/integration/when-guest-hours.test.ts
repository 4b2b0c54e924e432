// when (issue 14) on a real PLC + PDS + Docker engine: a meshlet outside its guest hours declines a
// guest's workload with that reason, takes it when the window opens, and hands it over (drains)
// when the window closes. The window clock is injected (devnet windowClock), so the test moves it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { sleeper } from '../helpers/faults.js'

const OUTSIDE = Date.parse('2026-01-01T12:00:00Z')
const INSIDE = Date.parse('2026-01-01T02:30:00Z')

describe('guest hours on a real network', () => {
  let c: DevCommune
  let windowNow = OUTSIDE
  beforeAll(async () => {
    c = await DevCommune.create({
      members: [{ name: 'ann' }, { name: 'ben', guestHours: '02:00-03:00', windowClock: () => windowNow }],
      leaseMs: 6000,
    })
    await c.startAll()
  }, 120_000)
  afterAll(async () => c?.close())

  test('declined outside guest hours with that reason, taken when the window opens, handed over when it closes', async () => {
    const ann = c.member('ann')
    const ben = c.member('ben')
    const peer = ben.peer!
    // ben publishes its guest policy, so any peer can explain the decline.
    await waitFor(() => ann.peer!.view.profiles().find((p) => p.meshlet === ben.meshlet.did)?.guestPolicy?.window?.hours === '02:00-03:00', { what: "ben's guest policy in its profile", timeoutMs: 20_000 })
    const ref = await c.publishWorkload(ann, sleeper('night-guest', { bidWindowMs: 1000, constraints: { members: [ben.owner.did] } }))
    const decline = await waitFor(() => peer.view.bidsFor(ref.uri).find((b) => b.meshlet === ben.meshlet.did && b.decline)?.decline, { what: "ben's decline", timeoutMs: 20_000 })
    expect(decline).toBe("outside guest hours 02:00-03:00 UTC (this meshlet takes guests' work only then)")
    // ann's own peer reads the same decline from ben's repo.
    await waitFor(() => ann.peer!.view.bidsFor(ref.uri).some((b) => b.meshlet === ben.meshlet.did && b.decline === decline), { what: 'the decline to reach ann', timeoutMs: 20_000 })
    expect(peer.view.statusesFor(ref.uri)).toEqual([])

    windowNow = INSIDE // the guest hours open
    await waitFor(() => ann.peer!.view.statusesFor(ref.uri).some((s) => s.meshlet === ben.meshlet.did && s.state === 'running'), { what: 'ben to run the guest workload once the window opened', timeoutMs: 30_000 })

    windowNow = OUTSIDE // and close again: the replica is drained with the reason
    const released = await waitFor(() => ann.peer!.view.statusesFor(ref.uri).find((s) => s.meshlet === ben.meshlet.did && s.state === 'stopped'), { what: 'ben to drain the guest workload', timeoutMs: 30_000 })
    expect(released.message).toBe("draining: outside guest hours 02:00-03:00 UTC (this meshlet takes guests' work only then)")
    // Nobody else may run it (constraint): after the handover wait (a lease) its container stops.
    await waitFor(async () => (await peer.ports.runtime.list({ meshletDid: ben.meshlet.did })).filter((x) => x.labels.workloadUri === ref.uri && x.state === 'running').length === 0, { what: 'the container to stop', timeoutMs: 30_000 })
    await c.deleteRecord(ann.owner.agent, ref.uri)
  }, 120_000)
})
