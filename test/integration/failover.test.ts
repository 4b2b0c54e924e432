// Peer death and failover (issue 6.1) on a real PLC + PDS devnet and the real Docker engine: a peer
// running a replica is SIGKILLed; the others see its heartbeat lapse, agree it is lost, and one of
// them (the same one for all, by the deterministic selection) runs a replacement. When the dead
// peer comes back it sees it was replaced and stops its stale copy: no duplicate survives.
import { describe, expect, test } from 'vitest'
import { runFailoverScenario } from '../helpers/failover-scenario.js'
import { recordFigures } from '../helpers/faults.js'

// Short lease so the file stays fast; the default (15 s) is measured by test/helpers/measure-failover.ts.
const LEASE_MS = 5000

describe('peer death and failover', () => {
  test('a dead machine: its replica is rescheduled on another peer; back, it starts no second copy', async () => {
    const r = await runFailoverScenario({ leaseMs: LEASE_MS, keepStaleCopy: false })
    await recordFigures('failover-machine-dies-lease-5s', { ...r })
    expect(r.replacement).not.toBe(r.victim)
    expect(r.finalCopies).toBe(1)
    expect(r.finalHolder).toBe(r.replacement)
    // its containers were gone: never two copies at once, before or after it came back
    expect(r.peakCopies).toBe(1)
    expect(r.peakAfterReturn).toBe(1)
    expect(r.victimStatus).toBe('stopped')
    // bounded by the lease, not by a fixed 5-minute eviction timeout (generous: the machine is shared)
    expect(r.failoverMs).toBeGreaterThan(LEASE_MS / 3)
    expect(r.failoverMs).toBeLessThan(6 * LEASE_MS)
  }, 150_000)

  test('a sleeping laptop: replaced while away, it stops its stale copy when it wakes', async () => {
    const r = await runFailoverScenario({ leaseMs: LEASE_MS, keepStaleCopy: true })
    await recordFigures('failover-laptop-sleeps-lease-5s', { ...r })
    expect(r.replacement).not.toBe(r.victim)
    // while it was away its copy kept running next to the replacement: one transient duplicate
    expect(r.peakCopies).toBe(2)
    // back: it releases and stops its copy; the replacement is not disturbed
    expect(r.victimStatus).toBe('stopped')
    expect(r.finalCopies).toBe(1)
    expect(r.finalHolder).toBe(r.replacement)
    expect(r.peakAfterReturn).toBe(1)
  }, 150_000)
})
