// A commune larger than its peers' view bound (core/view.ts maxRecords): every view fills, so some
// records are not kept. It must fail safe and quiet: no replica held twice, no peer writing in a
// loop, and the workloads whose records are kept still placed. Before a peer held back on what its
// view no longer saw whole (decideWorkload `dropped`), a peer whose new bid its own view refused
// took the bid for missing and wrote another at every re-evaluation (8 peers here wrote up to 9
// bids for one workload; at 30 peers x 150 workloads the run never quiesced), and peers that did
// not keep each other's claims both held the replica.
import { describe, expect, test } from 'vitest'
import type { PeerAction } from '../../src/core/decide.js'
import type { Workload, WorkloadStatus } from '../../src/core/types.js'
import type { Peer } from './harness.js'
import { ScaleSimulation, measure, scaleDefaults } from './scale.js'

/** Counts every write of each (peer, workload): offers (bid/decline records) and status writes. */
class CountingSim extends ScaleSimulation {
  readonly offers = new Map<string, number>()
  readonly statuses = new Map<string, number>()
  private count(m: Map<string, number>, peer: Peer, w: Workload): void {
    const k = `${peer.did} ${w.uri}`
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  protected override publish(peer: Peer, w: Workload, actions: PeerAction[]): void {
    for (const a of actions) {
      if (a.type === 'bid' || a.type === 'decline') this.count(this.offers, peer, w)
      else if (a.type !== 'ack' && a.type !== 'withdraw') this.count(this.statuses, peer, w)
    }
    super.publish(peer, w, actions)
  }
  protected override putStatus(peer: Peer, w: Workload, value: WorkloadStatus): void {
    this.count(this.statuses, peer, w)
    super.putStatus(peer, w, value)
  }
}

function run(viewMaxRecords?: number): { sim: CountingSim; report: ReturnType<typeof measure> } {
  const sim = new CountingSim(scaleDefaults(8, 30, viewMaxRecords ? { viewMaxRecords } : {}))
  sim.publishAll()
  sim.run(1_000_000)
  return { sim, report: measure(sim, 0) }
}

const most = (m: Map<string, number>): number => Math.max(0, ...m.values())

describe('full views (8 peers x 30 workloads, views bounded at 200 records)', () => {
  test('fail safe and quiet: one offer per peer per workload, as with room to spare; no double holder; kept workloads placed', () => {
    const roomy = run()
    const full = run(200)
    // Every view hit its bound, else this test proves nothing.
    for (const p of full.sim.peers.values()) expect(p.view.rejections().some((r) => /holds its limit of 200 records/.test(r.reason))).toBe(true)
    const writes = (s: CountingSim): number => [...s.offers.values(), ...s.statuses.values()].reduce((a, b) => a + b, 0)
    console.log(`writes per workload: roomy ${(writes(roomy.sim) / 30).toFixed(1)}, full ${(writes(full.sim) / 30).toFixed(1)}; most offers by one peer for one workload: roomy ${most(roomy.sim.offers)}, full ${most(full.sim.offers)}; most status writes: roomy ${most(roomy.sim.statuses)}, full ${most(full.sim.statuses)}; disagreements: roomy ${roomy.report.disagreements.length}, full ${full.report.disagreements.length}`)
    expect(most(roomy.sim.offers)).toBe(1)
    expect(most(full.sim.offers)).toBe(1)
    // At most one more status write than with room to spare: the release of a claim its full view no longer counts.
    expect(most(full.sim.statuses)).toBeLessThanOrEqual(most(roomy.sim.statuses) + 1)
    expect(full.report.doubleHolders).toBe(0)
    // No replica started twice: per workload, at most `replicas` peers ever started it.
    for (const [uri, t] of full.sim.workloads) expect(new Set(full.sim.starts.filter((x) => x.workload === uri).map((x) => x.peer)).size, uri).toBeLessThanOrEqual(t.workload.replicas)
    expect(roomy.report.disagreements).toEqual([])
    // The commune keeps working: a good part of the workloads is still placed as every peer sees it.
    const placed = [...full.sim.workloads.keys()].filter((uri) => full.sim.holdersSeenBy('did:plc:peer00', uri).length === full.sim.expectedCopies(uri)).length
    expect(placed).toBeGreaterThanOrEqual(10)
  })
})
