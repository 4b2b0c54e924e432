// Peer death and failover (issue 6.1) on a real PLC + PDS devnet and the real Docker engine: a peer
// running a replica is SIGKILLed; the others see its heartbeat lapse, agree it is lost, and one of
// them (the same one for all, by the deterministic selection) runs a replacement. When the dead
// peer comes back it sees it was replaced and stops its stale copy: no duplicate survives.
import { describe, expect, test } from 'vitest'
import { RUN_OPTIONS } from '../../src/config.js'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { describeCommune, runFailoverScenario } from '../helpers/failover-scenario.js'
import { CopyMonitor, copiesOf, keptHolders, memoryLogger, recordFigures, sleeper } from '../helpers/faults.js'

// Short lease so the file stays fast; the default (15 s) is measured by test/helpers/measure-failover.ts.
const LEASE_MS = 5000

describe('peer death and failover', () => {
  test('a dead machine: its replica is rescheduled on another peer; back, it starts no second copy', async () => {
    const r = await runFailoverScenario({ leaseMs: LEASE_MS, keepStaleCopy: false })
    await recordFigures('failover-machine-dies-lease-5s', { ...r })
    expect(r.replacement).not.toBe(r.victim)
    expect(r.finalCopies).toBe(1)
    expect(r.finalHolder).toBe(r.replacement)
    // its containers were gone, so a second copy can only come from a claim race between ben and cat
    // (seen under heavy load, when a heartbeat lands late): at most one, and it does not survive
    expect(r.peakCopies).toBeLessThanOrEqual(2)
    expect(r.peakAfterReturn).toBe(1)
    expect(r.victimStatus).toBe('stopped')
    // bounded by the lease, not by a fixed 5-minute eviction timeout (generous: the machine is shared)
    expect(r.failoverMs).toBeGreaterThan(LEASE_MS / 3)
    expect(r.failoverMs).toBeLessThan(6 * LEASE_MS)
  }, 150_000)

  // liveness (issue 16 part 3): at the DEFAULT lease a dead peer is found by probes and a suspicion
  // record, not by its lease: the figure (<= 10 s on an idle machine) is in bench/measured.md.
  test('at the default lease, a dead machine is replaced on a confirmed suspicion, before its lease could lapse', async () => {
    const r = await runFailoverScenario({ leaseMs: Number(RUN_OPTIONS.leaseMs.default), keepStaleCopy: false, settleMs: 5000 })
    await recordFigures('failover-machine-dies-default-lease-test', { ...r })
    expect(r.deathReason, JSON.stringify(r.timeline)).toMatch(/^suspected dead: did:plc:\S+ could not reach it \(probes failed\)/)
    expect(r.finalCopies).toBe(1)
    expect(r.finalHolder).toBe(r.replacement)
    expect(r.peakAfterReturn).toBe(1)
  }, 300_000)

  test('a sleeping laptop: replaced while away, it stops its stale copy when it wakes', async () => {
    const r = await runFailoverScenario({ leaseMs: LEASE_MS, keepStaleCopy: true })
    await recordFigures('failover-laptop-sleeps-lease-5s', { ...r })
    expect(r.replacement).not.toBe(r.victim)
    // While it was away its copy kept running next to the replacement: one transient duplicate, and
    // only one replacement (ben and cat offer late at once; each waits for the other's offer before
    // claiming: docs/protocol.md, "Late offers wait a window of their own").
    // On an idle machine that is exactly 2 (the figure recorded); on a loaded CI machine the other's
    // offer can land after the wait, so both late offerers start and one yields: never more.
    expect(r.peakCopies, JSON.stringify(r.timeline)).toBeLessThanOrEqual(3)
    expect(r.peakCopies).toBeGreaterThanOrEqual(2)
    // back: it releases and stops its copy; the replacement is not disturbed
    expect(r.victimStatus).toBe('stopped')
    expect(r.finalCopies).toBe(1)
    expect(r.finalHolder).toBe(r.replacement)
    expect(r.peakAfterReturn).toBe(1)
  }, 150_000)
})

describe('drain', () => {
  test('shutdown(drain) hands every replica over before the peer stops: no moment without a copy', async () => {
    const mem = memoryLogger()
    const c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], leaseMs: LEASE_MS, bidWindowMs: 1500, logger: mem.logger })
    try {
      await c.startAll()
      const refs = [await c.publishWorkload(c.member('ann'), sleeper('drain-a')), await c.publishWorkload(c.member('ben'), sleeper('drain-b'))]
      const running = await waitFor(
        async () => {
          const all = await Promise.all(refs.map((r) => copiesOf(r.uri)))
          return all.every((x) => x.length === 1) ? all.map((x) => x[0]!) : false
        },
        { what: 'both workloads to run', timeoutMs: 60_000 },
      )
      const victim = c.members.find((m) => m.meshlet.did === running[0]!.meshlet)!
      const mine = refs.filter((_, i) => running[i]!.meshlet === victim.meshlet.did)
      const monitors = mine.map((r) => new CopyMonitor(r.uri, 100).start())
      const t0 = Date.now()
      const handedOver = await victim.peer!.shutdown(true)
      expect(handedOver).toBe(mine.length)
      await victim.peer!.waitUntilStopped()
      const stoppedMs = Date.now() - t0
      monitors.forEach((m) => m.stop())
      await c.stopPeer(victim)
      const others = c.peers()
      for (const [i, r] of mine.entries()) {
        const now = await copiesOf(r.uri, true)
        expect(now.map((x) => x.meshlet), describeCommune(c, monitors[i], mem.lines)).not.toContain(victim.meshlet.did)
        expect(now.filter((x) => x.state === 'running')).toHaveLength(1)
        // make before break: from the shutdown call on, a copy always ran
        expect(monitors[i]!.timeline.filter((e) => e.copies.length === 0), describeCommune(c, monitors[i], mem.lines)).toEqual([])
        await waitFor(() => others.every((p) => keptHolders(p, r.uri)?.join() === now[0]!.meshlet), { what: 'the others to agree on the new holder', timeoutMs: 20_000 })
      }
      const handoverMs = Math.max(...monitors.map((m) => m.firstElsewhere(victim.meshlet.did, t0)! - t0))
      await recordFigures('drain-lease-5s', { leaseMs: LEASE_MS, handedOver, shutdownToReplacementRunningMs: handoverMs, shutdownToPeerStoppedMs: stoppedMs, copiesDuringHandover: monitors.map((m) => m.peak), zeroCopyMoments: 0 })
    } finally {
      await c.close()
    }
  }, 150_000)
})
