// Agreement under a hostile network: many peers, random delays and reordering, late bids, a
// peer that dies. Every peer must end up with the same holders, and exactly the right number.
import { describe, expect, test } from 'vitest'
import { Simulation, median, type SimOptions } from './harness.js'

const base: SimOptions = {
  seed: 0x5eed,
  peers: 10,
  maxDelayMs: 800,
  lateProbability: 0.002,
  lateExtraMs: 3000,
  bidWindowMs: 1500,
  leaseMs: 4000,
  declineProbability: 0.3,
  excludeProbability: 0.1,
  priorityRange: 12,
}

/** For every workload: every live peer's view yields the same holders, and there are exactly min(replicas, able peers) of them. */
function checkAgreement(sim: Simulation): { placed: number[]; disagreements: string[] } {
  const live = [...sim.peers.values()].filter((p) => p.alive).map((p) => p.did)
  const disagreements: string[] = []
  const placed: number[] = []
  for (const [uri, truth] of sim.workloads) {
    const views = live.map((d) => sim.holdersSeenBy(d, uri).join(','))
    if (new Set(views).size !== 1) disagreements.push(`${uri}: peers disagree: ${[...new Set(views)].join(' | ')}`)
    const holders = sim.holdersSeenBy(live[0], uri)
    const want = sim.expectedCopies(uri)
    if (holders.length !== want) disagreements.push(`${uri}: ${holders.length} live claims, want ${want} (replicas ${truth.workload.replicas})`)
    for (const h of holders) {
      if (!sim.peers.get(h)!.alive) disagreements.push(`${uri}: held by dead ${h}`)
      if (!truth.feasible.has(h) || !truth.base.includes(h)) disagreements.push(`${uri}: held by ${h}, which cannot or may not run it`)
    }
    if (holders.length > 0) placed.push(Math.max(...holders.map((h) => sim.claimedAt.get(`${h}|${uri}`)!)) - truth.publishedAt)
  }
  return { placed, disagreements }
}

describe('many-peer simulation', () => {
  test('1,000 workloads, 10 peers, random delays, late bids, a peer dies mid-run: all peers agree', () => {
    const sim = new Simulation(base)
    const rng = (i: number) => ((i * 2654435761) >>> 0) % 3
    for (let i = 0; i < 1000; i++) sim.publishWorkload(i * 20, i, 1 + rng(i))
    sim.killAt('did:plc:peer03', 10_000) // in the middle of the 20 s of arrivals
    const end = sim.run()

    const { placed, disagreements } = checkAgreement(sim)
    expect(disagreements).toEqual([])
    expect(sim.workloads.size).toBe(1000)
    // The dead peer held claims before it died, and others took them over after its lease.
    const takeovers = [...sim.claimedAt.entries()].filter(([k, t]) => t > 10_000 + base.leaseMs && sim.workloads.get(k.split('|')[1])!.publishedAt < 10_000)
    expect(takeovers.length).toBeGreaterThan(0)
    expect(sim.lateBids).toBeGreaterThan(0)
    console.log(
      `sim: ${sim.workloads.size} workloads, ${sim.peers.size} peers, ${sim.decisions} decisions, ${sim.claims} claims, ` +
        `${sim.lateBids} late bid deliveries, ${sim.evictions} transient double-claims (evictions), ${sim.renumbers} renumbered claims, median time to placement ${median(placed)} ms (virtual), quiescent at ${end} ms`,
    )
  })

  test('the same seed gives the same run; another seed still agrees', () => {
    const small = { ...base, seed: 42 }
    const a = new Simulation(small)
    const b = new Simulation(small)
    for (const s of [a, b]) {
      for (let i = 0; i < 150; i++) s.publishWorkload(i * 30, i, 1 + (i % 3))
      s.killAt('did:plc:peer07', 2500)
      s.run()
    }
    expect(a.claims).toBe(b.claims)
    expect(a.evictions).toBe(b.evictions)
    for (const uri of a.workloads.keys()) expect(a.holdersSeenBy('did:plc:peer00', uri)).toEqual(b.holdersSeenBy('did:plc:peer00', uri))
    expect(checkAgreement(a).disagreements).toEqual([])
  })

  test('a peer holding replicas dies: others take over within the lease; when it comes back it yields', () => {
    const sim = new Simulation({ ...base, seed: 7, peers: 4, lateProbability: 0, declineProbability: 0, excludeProbability: 0 })
    for (let i = 0; i < 8; i++) sim.publishWorkload(i * 10, i, 2)
    sim.run()
    expect(checkAgreement(sim).disagreements).toEqual([])
    const racesBefore = sim.evictions

    // Kill the peer holding the most replicas.
    const count = new Map<string, number>()
    for (const uri of sim.workloads.keys()) for (const h of sim.holdersSeenBy('did:plc:peer00', uri)) count.set(h, (count.get(h) ?? 0) + 1)
    const [victim, held] = [...count.entries()].sort((x, y) => y[1] - x[1])[0]
    expect(held).toBeGreaterThan(0)
    const diedAt = sim.now + 1000
    sim.killAt(victim, diedAt)
    sim.run()

    const { disagreements } = checkAgreement(sim)
    expect(disagreements).toEqual([])
    for (const uri of sim.workloads.keys()) expect(sim.holdersSeenBy('did:plc:peer00', uri)).not.toContain(victim)
    // Takeover claims land once the lease lapses (plus at most one delivery delay of detection).
    const takeovers = [...sim.claimedAt.entries()].filter(([, t]) => t > diedAt).map(([, t]) => t - diedAt)
    expect(takeovers.length).toBe(held)
    for (const dt of takeovers) expect(dt).toBeLessThanOrEqual(base.leaseMs + base.maxDelayMs)
    expect(sim.evictions).toBe(racesBefore)

    // It comes back: it was replaced everywhere, so it releases instead of fighting.
    sim.reviveAt(victim, sim.now + 1000)
    sim.run()
    const after = checkAgreement(sim)
    expect(after.disagreements).toEqual([])
    const yielded = sim.releases.filter((r) => r.peer === victim)
    expect(yielded).toHaveLength(held)
    for (const r of yielded) expect(r.reason).toMatch(/^replaced while this meshlet was away/)
    expect(sim.evictions).toBe(racesBefore)
  })
})
