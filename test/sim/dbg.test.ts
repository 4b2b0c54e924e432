import { test } from 'vitest'
import { Simulation, type SimOptions } from './harness.js'
import { resolvePlacement } from '../../src/core/placement.js'
test('dbg', async () => {
  const base: SimOptions = { seed: 0xba7c, peers: 10, maxDelayMs: 800, lateProbability: 0.02, lateExtraMs: 5000, bidWindowMs: 1500, leaseMs: 4000, declineProbability: 0.3, excludeProbability: 0.1, priorityRange: 12, jobMs: { min: 200, max: 5000 } }
  const sim = new Simulation(base)
  const replicasOf = (i: number) => 1 + (((i * 2654435761) >>> 0) % 3)
  for (let i = 0; i < 100; i++) sim.publishWorkload(i * 20, i, replicasOf(i), 'batch')
  sim.killAt('did:plc:peer03', 1000)
  sim.run()
  const obs = sim.peers.get('did:plc:peer00')!
  let shown = 0
  for (const [uri, truth] of sim.workloads) {
    const w = obs.view.workload(uri)!
    const p = resolvePlacement(w, obs.view.bidsFor(uri), obs.view.statusesFor(uri), sim.eligibleFor(obs, uri), undefined, sim.electorateFor(uri))
    const able = truth.base.filter((d) => truth.feasible.has(d)).length
    if (p.completed.length + p.lost.length < Math.min(w.replicas, able) && shown++ < 3) {
      console.log('SHORT', uri, w.replicas, able, JSON.stringify(truth.base))
      console.log(JSON.stringify(obs.view.bidsFor(uri).map(b => ({m: b.meshlet, rkey: b.rkey, p: b.priority, d: !!b.decline, acks: b.acks?.map(a=>`${a.replica}:${a.meshlet.slice(-2)}`).join(' ')})), null, 0))
      console.log(JSON.stringify(obs.view.statusesFor(uri).map(s => ({m: s.meshlet, st: s.state, r: s.replica, p: s.priority, msg: s.message})), null, 0))
      console.log(JSON.stringify(p.outcomes.map(o => `${o.meshlet.slice(-2)} ${o.outcome} ${o.reason}`), null, 1))
    }
  }
  console.log('shown', shown)
})
