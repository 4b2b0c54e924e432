// Issue 10, "Tests", first bullet: 10 honest peers + one selfish member, two peers a minute off,
// 2 % of deliveries stalled 0-5 s, over MESHLET_SIM_WORKLOADS (default 1,000) services and batch
// jobs. Honest peers verify every bid against a replayed ledger; what the selfish member writes
// must change nothing. One seeded scenario (the run is the expensive part), then its checks.
import { describe, expect, test } from 'vitest'
import { EPOCH_MS } from '../../src/core/epoch.js'
import { isClaimState, isYielded, resolvePlacement } from '../../src/core/placement.js'
import type { AtUri, Did } from '../../src/core/types.js'
import { AdversarialSimulation, FORGED_STATUSES, SELFISH, SELFISH_OWNER, T0, VICTIM, type AdversaryOptions } from './adversary.js'

const WORKLOADS = Number(process.env.MESHLET_SIM_WORKLOADS ?? 1000)

const opts: AdversaryOptions = {
  seed: 0xad5e,
  peers: 10,
  maxDelayMs: 800,
  lateProbability: 0.02, // 2 % of deliveries stalled
  lateExtraMs: 5000, // by 0-5 s
  bidWindowMs: 1500,
  leaseMs: 4000,
  declineProbability: 0.3,
  excludeProbability: 0.1,
  priorityRange: 1, // unused: priorities are recomputed from the ledger
  jobMs: { min: 200, max: 5000 },
  skewMs: 60_000,
  ledgerEveryMs: 2000,
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

function scenario() {
  const sim = new AdversarialSimulation(opts)
  sim.seedHistory(30)
  const mix = (i: number) => (i * 2654435761) >>> 0
  for (let i = 0; i < WORKLOADS; i++) sim.addWorkload(T0 + i * 20, i, 1 + (mix(i) % 3), mix(i) % 5 < 2 ? 'batch' : 'service')
  const started = Date.now()
  const end = sim.run()
  return { sim, end, wallMs: Date.now() - started }
}

describe('adversarial simulation (issue 10)', () => {
  test(`${WORKLOADS} workloads, a selfish member, clocks 60 s off, 2 % of deliveries stalled: the selfish member changes nothing`, () => {
    const { sim, end, wallMs } = scenario()
    const honest = [...sim.peers.values()].filter((p) => sim.isHonest(p.did))
    expect(honest).toHaveLength(10)

    // Every honest peer's view at quiescence, through its own freshly replayed ledger.
    const ledgers = new Map(honest.map((p) => [p.did, sim.ledgerOf(p)]))
    const placements = (p: (typeof honest)[number], uri: AtUri) => {
      const w = p.view.workload(uri)!
      return { w, pl: resolvePlacement(w, p.view.bidsFor(uri), p.view.statusesFor(uri), sim.eligibleFor(p, uri), ledgers.get(p.did)!.verifyBid, sim.electorateFor(uri)) }
    }

    const disagreements: string[] = []
    const selfishWins: string[] = []
    const short: string[] = []
    const splits: string[] = []
    const zeroCopy: string[] = []
    const duplicates: string[] = []
    const phantomCompletions: string[] = []
    const startedBy = new Set(sim.starts.map((s) => `${s.peer}|${s.workload}|${s.cid}|${s.replica}`))
    for (const [uri, truth] of sim.workloads) {
      let first: string | undefined
      for (const p of honest) {
        const { w, pl } = placements(p, uri)
        const seen = JSON.stringify({ kept: pl.kept.map((s) => [s.meshlet, s.replica]), completed: pl.completed.map((s) => [s.meshlet, s.replica]), lost: pl.lost.map((l) => l.replica) })
        if (first === undefined) first = seen
        else if (seen !== first) disagreements.push(`${uri}: ${p.did} sees ${seen}, peer00 ${first}`)
        for (const s of [...pl.kept, ...pl.completed, ...pl.contending]) if (s.meshlet === SELFISH) selfishWins.push(`${uri} (${p.did})`)
        for (const s of pl.completed) if (!startedBy.has(`${s.meshlet}|${uri}|${w.cid}|${s.replica}`)) phantomCompletions.push(`${uri} replica ${s.replica} by ${s.meshlet}`)
        if (p.did !== 'did:plc:peer00') continue
        const want = sim.expectedCopies(uri)
        const have = w.kind === 'batch' ? pl.completed.length + pl.lost.length : pl.kept.length
        // Split acks resolve by renunciation (docs/protocol.md, "Split acks"), but a number can stay
        // pending when a better-ranked claim with too few acks was released without renouncing
        // (evicted while a view saw another holder): its acks still count as a rival's, and the
        // selfish member never acks. Such a workload is SHORT but never empty: counted apart below;
        // a workload with no copy at all, or short for any other reason, fails.
        const split = w.kind === 'batch' && have > 0 && [...pl.gates.values()].every((g) => !g.allowed && /^waiting for acks/.test(g.reason))
        if (have !== want) (split ? splits : short).push(`${uri} (${w.kind}, ${truth.workload.replicas} replicas): ${have} of ${want}`)
        if (w.kind === 'batch' && want > 0 && have === 0) zeroCopy.push(`${uri}: 0 of ${want}`)
        if (w.kind === 'service') {
          // Durable duplicates: live claims of honest peers per replica number, from their own records.
          const perSlot = new Map<number, number>()
          for (const s of p.view.statusesFor(uri)) {
            if (s.meshlet === SELFISH || s.workload.cid !== w.cid || !isClaimState(s) || isYielded(s)) continue
            perSlot.set(s.replica!, (perSlot.get(s.replica!) ?? 0) + 1)
          }
          for (const [r, n] of perSlot) if (n > 1) duplicates.push(`${uri} replica ${r}: ${n} live claims`)
        }
      }
    }

    // Batch at most once: starts per (workload, version, replica).
    const perKey = new Map<string, number>()
    for (const s of sim.starts) {
      if (sim.workloads.get(s.workload)!.workload.kind !== 'batch') continue
      const k = `${s.workload}|${s.cid}|${s.replica}`
      perKey.set(k, (perKey.get(k) ?? 0) + 1)
    }
    const doubleStarts = [...perKey.values()].reduce((a, c) => a + c - 1, 0)
    expect(perKey.size).toBeGreaterThan(0)
    expect(doubleStarts).toBe(0)

    // Bids: every honest bid verifies in every honest ledger; every selfish bid is invalid.
    const observer = sim.peers.get('did:plc:peer00')!
    const verify = ledgers.get(observer.did)!.verifyBid
    const bids = observer.view.allBids().filter((b) => b.decline === undefined)
    const honestInvalid = bids.filter((b) => b.meshlet !== SELFISH && !verify.check(b).ok).map((b) => `${b.uri}: ${verify(b)}`)
    const selfishBids = bids.filter((b) => b.meshlet === SELFISH)
    expect(honestInvalid).toEqual([])
    expect(selfishBids.length).toBeGreaterThanOrEqual(WORKLOADS)
    for (const b of selfishBids) expect(verify(b)).toMatch(/^priority 1000 does not match the recomputed \d+/)
    // The skewed peers kept working: they hold replicas and started containers.
    for (const d of ['did:plc:peer01', 'did:plc:peer02'] as Did[]) expect(sim.starts.filter((s) => s.peer === d).length).toBeGreaterThan(WORKLOADS / 40)

    // Ledger: the balances at epoch 1 (history + 50 forged statuses) and, observed two hours
    // later, at epoch 2 (the run itself) are what they are without a single selfish record.
    const later = T0 + 2 * EPOCH_MS
    const owners = [...new Set([...sim.peers.values()].map((p) => p.owner))].sort()
    const withAll = sim.ledgerOf(observer, undefined, later)
    const without = sim.ledgerOf(observer, sim.selfishUris, later)
    for (const o of owners) {
      expect(withAll.balanceAt(o, 1)).toEqual(without.balanceAt(o, 1))
      expect(withAll.balanceAt(o, 2)).toEqual(without.balanceAt(o, 2))
    }
    const victim = withAll.balanceAt(VICTIM, 1).balance
    expect(victim).toBeLessThan(0n) // the victim's own history: it consumed others' capacity
    expect(withAll.balanceAt(SELFISH_OWNER, 2)).toEqual({ contributed: 0n, consumed: 0n, balance: 0n })
    const accounts = new Map(withAll.statusAccounts().map((a) => [a.status, a]))
    expect(sim.forgedUris).toHaveLength(FORGED_STATUSES)
    for (const u of sim.forgedUris) expect(accounts.get(u)?.counted ?? false).toBe(false)
    // Every honest peer replays the same balances.
    for (const p of honest) for (const o of owners) expect(ledgers.get(p.did)!.balanceAt(o, 1)).toEqual(ledgers.get(observer.did)!.balanceAt(o, 1))

    // Time to placement: publish -> the last replica's container start.
    const lastStart = new Map<string, number>()
    for (const s of sim.starts) lastStart.set(s.workload, Math.max(lastStart.get(s.workload) ?? 0, s.at))
    const toPlacement = (kind: string) => [...lastStart.entries()].filter(([u]) => sim.workloads.get(u)!.workload.kind === kind).map(([u, t]) => t - sim.workloads.get(u)!.publishedAt)
    const svc = toPlacement('service')
    const bat = toPlacement('batch')
    console.log(
      `adversary sim (seed ${opts.seed}): ${sim.workloads.size} workloads (${svc.length} services, ${bat.length} batch placed), 10 honest peers + 1 selfish, ` +
        `peer01 +${opts.skewMs / 1000} s, peer02 -${opts.skewMs / 1000} s; ${sim.decisions} decisions, ${sim.ledgerBuilds} ledger replays, ${sim.claims} claims, ` +
        `${sim.evictions} transient evictions, ${sim.renumbers} renumbered claims (${sim.recreations} of them after their container started), ${sim.starts.length} container starts, ${doubleStarts} batch double starts, ` +
        `${selfishBids.length} selfish bids (all invalid), ${sim.selfishUris.size} selfish records; ` +
        `publish->placed services p50 ${pct(svc, 50)} ms p99 ${pct(svc, 99)} ms, batch p50 ${pct(bat, 50)} ms p99 ${pct(bat, 99)} ms (virtual); ` +
        `${splits.length} batch workloads short by a split the selfish member never acks (${zeroCopy.length} with no copy), ${sim.renunciations} renunciations; ` +
        `victim balance at epoch 1 ${victim} with and without the forged statuses; quiescent at +${end - T0} ms; wall ${wallMs} ms`,
    )
    // Printed first, asserted after: a failing run still reports its figures.
    expect(disagreements).toEqual([])
    expect(selfishWins).toEqual([])
    expect(zeroCopy).toEqual([])
    expect(short).toEqual([])
    expect(duplicates).toEqual([])
    expect(phantomCompletions).toEqual([])
  }, 600_000)

  test('control: the same commune without the selfish member leaves no batch split unsettled', () => {
    // The stall counted above comes from the member that never acks: without it, every number settles.
    const n = Math.min(WORKLOADS, 150)
    const sim = new AdversarialSimulation({ ...opts, selfish: false })
    sim.seedHistory(30)
    const mix = (i: number) => (i * 2654435761) >>> 0
    for (let i = 0; i < n; i++) sim.addWorkload(T0 + i * 20, i, 1 + (mix(i) % 3), mix(i) % 5 < 2 ? 'batch' : 'service')
    sim.run()
    const p = sim.peers.get('did:plc:peer00')!
    const verify = sim.ledgerOf(p).verifyBid
    const short: string[] = []
    let batch = 0
    for (const uri of sim.workloads.keys()) {
      const w = p.view.workload(uri)!
      const pl = resolvePlacement(w, p.view.bidsFor(uri), p.view.statusesFor(uri), sim.eligibleFor(p, uri), verify, sim.electorateFor(uri))
      if (w.kind === 'batch') batch++
      const have = w.kind === 'batch' ? pl.completed.length + pl.lost.length : pl.kept.length
      if (have !== sim.expectedCopies(uri)) short.push(`${uri} (${w.kind}): ${have} of ${sim.expectedCopies(uri)}`)
    }
    expect(batch).toBeGreaterThan(n / 4)
    expect(short).toEqual([])
  }, 300_000)
})
