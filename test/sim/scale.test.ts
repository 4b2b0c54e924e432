// Scale simulation (issue 16 part 5) at a CI size (100 peers: 12 workloads sampled, 2 all-bid): sampled bidding writes a few bid
// records per workload, not one per peer, and every peer still agrees on the holders. The full
// size (100 peers x 10,000 workloads, 1,000 peers) runs from test/sim/scale-run.ts.
import { describe, expect, test } from 'vitest'
import { REPORT_HEADER, reportLine, runScale, scaleDefaults } from './scale.js'

describe('scale simulation (100 peers)', () => {
  test('sampled bidding: records per workload stay O(replicas + k), every peer agrees, no double holder; all-bid writes one per peer', () => {
    const sampled = runScale(scaleDefaults(100, 12)).report
    const allBid = runScale(scaleDefaults(100, 2, { allBid: true })).report
    console.log(`${REPORT_HEADER}\n${reportLine(sampled)}\n${reportLine(allBid)}`)
    for (const r of [sampled, allBid]) {
      expect(r.disagreements).toEqual([])
      expect(r.doubleHolders).toBe(0)
    }
    // Ring 0 asks max(12, 2 x replicas) (replicas 1..3) plus the owner's meshlet; declines widen by a ring.
    expect(sampled.bidsPerWorkload).toBeLessThan(16)
    expect(sampled.maxBids).toBeLessThanOrEqual(3 * 12 + 1)
    // Today's rule: every eligible peer answers (90 % are eligible).
    expect(allBid.bidsPerWorkload).toBeGreaterThan(70)
    // Fewer offers do not slow placement beyond a window or two (virtual time, bid window 1.5 s).
    expect(sampled.placementP50).toBeLessThan(3 * 1500)
  }, 240_000)
})
