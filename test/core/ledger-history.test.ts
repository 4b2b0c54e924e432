// Status history (docs/protocol.md, "Status history"): a claim on a new workload version keeps the
// earlier versions' claims in the status, each checked against its own bid, so an owner who edits a
// workload does not erase the usage of the versions before. What a forged history can and cannot do.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { Ledger, decayStep, type LedgerRecords } from '../../src/core/ledger.js'
import { MAX_STATUS_HISTORY, claimCutoffs, claimsOf, collectable, forgetBefore, nextHistory } from '../../src/core/status-history.js'
import type { Bid, StatusVersion, WorkloadStatus } from '../../src/core/types.js'
import { DECAY_WINDOW, EPOCH_MS, STATUS_LEASE_MS } from '../../src/core/epoch.js'
import { decideWorkload } from '../../src/core/decide.js'
import { mulberry32 } from '../helpers/rng.js'
import { W_URI, bid as fixtureBid, eligibleOf, status as fixtureStatus, workload as fixtureWorkload } from './fixtures.js'
import { E0, OWNERS, at, claim, honestBid, iso, meshletOf, rawBid, records, wl } from './ledger-world.js'

const { alice, bob, carol, mallory } = OWNERS
const mBob = meshletOf(bob)
const mCarol = meshletOf(carol)
const mMal = meshletOf(mallory)

/** The history entry an honest writer makes of a status it replaces. */
function entry(s: WorkloadStatus, over: Partial<StatusVersion> = {}): StatusVersion {
  return { cid: s.workload.cid, bid: s.bid!, priority: s.priority!, replica: s.replica!, state: s.state, startedAt: s.startedAt!, updatedAt: s.updatedAt, ...over }
}

// alice's workload w1, edited at E0+2 (version 2): bob ran version 1 from E0 to E0+2, then version 2.
const v1 = wl(alice, 'w1')
const v2 = { ...v1, cid: 'bafy-w1-v2' }
const bid1 = honestBid(records([v1], [], []), mBob, v1)
const bid2 = honestBid(records([v2], [], []), mBob, v2)
const old = claim(bid1, 'running', at(E0), at(E0 + 2) - 5 * 60_000)
const now = at(E0 + 5)

describe('status history: a new version does not erase the old one', () => {
  test('without history the claim on version 2 erases two hours of version 1; with it, all four hours count', () => {
    const overwritten = claim(bid2, 'exited', at(E0 + 2), at(E0 + 4))
    const kept = { ...overwritten, history: [entry(old)] }
    const without = new Ledger({ ...records([v2], [bid1, bid2], [overwritten]), now })
    const withHistory = new Ledger({ ...records([v2], [bid1, bid2], [kept]), now })
    // Version 1 earns E0 .. E0+2 (its lease would run 25 min past E0+2, but version 2 starts there).
    const accounts = withHistory.statusAccounts()
    expect(accounts).toEqual([
      expect.objectContaining({ status: kept.uri, counted: true, unitSeconds: 14_400 }),
      expect.objectContaining({ status: kept.uri, history: 0, version: v1.cid, counted: true, unitSeconds: 14_400 }),
    ])
    expect(without.statusAccounts()).toEqual([expect.objectContaining({ unitSeconds: 14_400 })])
    expect(withHistory.balanceAt(alice, E0 + 4).consumed - without.balanceAt(alice, E0 + 4).consumed).toBeGreaterThan(0n)
    // At the boundary where version 1 ended: its two hours (7200 each, the first decayed once), vs nothing.
    expect(withHistory.balanceAt(bob, E0 + 2).contributed).toBe(decayStep(7200n) + 7200n)
    expect(without.balanceAt(bob, E0 + 2).contributed).toBe(0n)
  })

  test('an entry counts only against its own bid: missing, another meshlet’s, a decline, another version, another priority', () => {
    const carols = honestBid(records([v1], [], []), mCarol, v1)
    const decline = rawBid(mBob, v1, 0, { decline: 'busy' })
    const cur = claim(bid2, 'running', at(E0 + 4), at(E0 + 4))
    const bad: [Partial<StatusVersion>, string][] = [
      [{ bid: { uri: `${bid1.uri}x`, cid: bid1.cid } }, 'claim without a bid'],
      [{ bid: { uri: carols.uri, cid: carols.cid } }, `its bid ${carols.uri} is not this meshlet's`],
      [{ bid: { uri: decline.uri, cid: decline.cid } }, 'its bid is a decline'],
      [{ cid: 'bafy-w1-v3' }, 'its bid is for another workload version'],
      [{ priority: bid1.priority + 1 }, `claim priority ${bid1.priority + 1} differs from its bid's ${bid1.priority}`],
      [{ replica: 64 }, 'replica 64 is not in [0, 64)'],
    ]
    for (const [over, reason] of bad) {
      const s = { ...cur, history: [entry(old, over)] }
      const l = new Ledger({ ...records([v2], [bid1, bid2, carols, decline], [s]), now })
      expect(l.statusAccounts().find((a) => a.history === 0)).toMatchObject({ counted: false, reason })
      expect(l.balanceAt(alice, E0 + 4).consumed).toBe(0n) // version 2 started at E0+4: before that, only the entry would have counted
    }
  })

  test('a status’s claims never earn at once: each ends, at the latest, where the next one starts', () => {
    // The entry says version 1 kept running (renewed) until E0+4, but version 2 started at E0+1.
    const long = claim(bid1, 'running', at(E0), at(E0 + 4))
    const s = { ...claim(bid2, 'running', at(E0 + 1), at(E0 + 4)), history: [entry(long), entry(long), entry(long, { startedAt: iso(at(E0, 30 * 60_000)) })] }
    const l = new Ledger({ ...records([v2], [bid1, bid2], [s]), now })
    // E0 .. E0+1 once (the copies of the entry cut each other short: 0 + 30 min + 30 min), then
    // version 2 from E0+1 to E0+4.5 (its lease).
    const total = l.statusAccounts().reduce((n, a) => n + (a.unitSeconds ?? 0), 0)
    expect(total).toBe(7200 + 7200 * 3 + 3600)
    expect(claimCutoffs(claimsOf(s))).toEqual([at(E0), at(E0, 30 * 60_000), at(E0 + 1), Infinity])
  })

  test(`a history of more than ${MAX_STATUS_HISTORY} entries makes the whole status not count`, () => {
    const s = { ...claim(bid2, 'running', at(E0 + 2), at(E0 + 4)), history: Array.from({ length: MAX_STATUS_HISTORY + 1 }, () => entry(old)) }
    const l = new Ledger({ ...records([v2], [bid1, bid2], [s]), now })
    expect(l.statusAccounts()).toEqual([{ status: s.uri, counted: false, reason: `its history holds more than ${MAX_STATUS_HISTORY} versions` }])
    expect(l.balanceAt(bob, E0 + 5).contributed).toBe(0n)
  })

  test('an entry is ranked with the other claims of its version and replica: a non-winner earns nothing while the holder ran', () => {
    const carols = honestBid(records([v1], [], []), mCarol, v1, { capacity: { cpuMillisFree: 100, memoryMbFree: 100, loadPermille: 1000, onBattery: true, thermal: 'throttled' } })
    expect(carols.priority).toBeLessThan(bid1.priority)
    const carolsOld = claim(carols, 'stopped', at(E0), at(E0 + 2))
    const carolsNow = { ...claim(rawBid(mCarol, v2, 0), 'stopped', at(E0 + 2), at(E0 + 2), { startedAt: undefined }), history: [entry(carolsOld)] }
    const bobs = { ...claim(bid2, 'running', at(E0 + 2), at(E0 + 4)), history: [entry(old)] }
    const l = new Ledger({ ...records([v2], [bid1, bid2, carols], [bobs, carolsNow]), now })
    expect(l.balanceAt(carol, E0 + 5).contributed).toBe(0n)
    expect(l.statusAccounts().find((a) => a.status === carolsNow.uri && a.history === 0)?.reason).toBe('a higher-ranked claim holds replica 0 for its whole interval')
  })
})

describe('the writer keeps the history bounded without losing what any peer counts', () => {
  const running = claim(bid2, 'running', at(E0 + 2), at(E0 + 4), { history: [entry(old)] })

  test('a new claim moves the replaced one into the history; a transition of the same claim does not', () => {
    expect(nextHistory(running, true, now).history).toEqual([entry(old), entry(running)])
    expect(nextHistory(running, false, now).history).toEqual([entry(old)])
    // A claim that never started proves no usage: nothing to keep.
    expect(nextHistory({ ...running, startedAt: undefined }, true, now).history).toEqual([entry(old)])
  })

  test('entries that ended before the replay floor (2 x DECAY_WINDOW epochs, plus one) are dropped: no peer counts them', () => {
    const later = at(E0 + 2 * DECAY_WINDOW + 2) + 1
    expect(forgetBefore(later)).toBe(at(E0 + 1))
    const ended = { ...entry(old), state: 'stopped' as const, updatedAt: iso(at(E0 + 1) - 1) }
    const endsOnTheCutoff = { ...ended, updatedAt: iso(at(E0 + 1)) }
    // A claim state earns its lease past updatedAt: kept while the lease reaches the cutoff.
    const leased = { ...entry(old), state: 'running' as const, updatedAt: iso(at(E0 + 1) - STATUS_LEASE_MS) }
    expect(nextHistory({ ...running, history: [ended, endsOnTheCutoff, leased] }, false, later).history).toEqual([endsOnTheCutoff, leased])
    // And such entries no longer count on a peer at that time: forgetting them changes nothing.
    const s = { ...running, history: [ended] }
    for (const t of [later, later + 3 * EPOCH_MS]) {
      const a = new Ledger({ ...records([v2], [bid1, bid2], [s]), now: t })
      const b = new Ledger({ ...records([v2], [bid1, bid2], [{ ...s, history: [] }]), now: t })
      for (let k = E0; k < E0 + 2 * DECAY_WINDOW + 6; k += 97) expect(a.balanceAt(bob, k)).toEqual(b.balanceAt(bob, k))
    }
  })

  test(`past ${MAX_STATUS_HISTORY} entries the oldest go first, and the writer is told how many`, () => {
    const many = Array.from({ length: MAX_STATUS_HISTORY }, (_, i) => entry(old, { startedAt: iso(at(E0, i * 60_000)) }))
    const r = nextHistory({ ...running, history: many }, true, now)
    expect(r.history).toHaveLength(MAX_STATUS_HISTORY)
    expect(r.dropped).toBe(1)
    expect(r.history[0]).toEqual(many[1])
    expect(r.history.at(-1)).toEqual(entry(running))
  })

  test('a retired status is collectable once its claim is over, its version gone, and every interval it proves ended before the floor', () => {
    const retired = { ...running, state: 'stopped' as const, updatedAt: iso(at(E0 + 5)) }
    const t = at(E0 + 2 * DECAY_WINDOW + 7) + 1
    expect(collectable(retired, undefined, t)).toBe(true)
    expect(collectable(retired, undefined, t - 2)).toBe(false) // its end is not before the floor yet
    expect(collectable(retired, v2.cid, t)).toBe(false) // still the current version
    expect(collectable(retired, 'bafy-w1-v3', t)).toBe(true) // a newer version is on record
    expect(collectable({ ...retired, state: 'running' }, undefined, t)).toBe(false) // a live claim
    expect(collectable({ ...retired, bid: undefined, history: undefined }, undefined, t)).toBe(false) // never a claim: the runner's
    // A history entry that still counts keeps the whole status.
    expect(collectable({ ...retired, history: [entry(old, { updatedAt: iso(at(E0 + 6)), state: 'stopped' })] }, undefined, t)).toBe(false)
  })
})

describe('hygiene: the bids a history stands on stay', () => {
  test('a meshlet never withdraws the bid of an earlier version its history references; an unreferenced one it does', () => {
    const me = 'did:me'
    const oldBid = fixtureBid(me, 500, { rkey: '3kme1', workload: { uri: W_URI, cid: 'bafyv1' } })
    const olderBid = fixtureBid(me, 400, { rkey: '3kme0', workload: { uri: W_URI, cid: 'bafyv0' } })
    const curBid = fixtureBid(me, 600, { rkey: '3kme2' })
    const hist: StatusVersion = { cid: 'bafyv1', bid: { uri: oldBid.uri, cid: oldBid.cid }, priority: 500, replica: 0, state: 'running', startedAt: iso(at(E0)), updatedAt: iso(at(E0 + 1)) }
    const mine = fixtureStatus(me, 'running', { bid: { uri: curBid.uri, cid: curBid.cid }, priority: 600, history: [hist] })
    const d = decideWorkload({
      workload: fixtureWorkload({ replicas: 1 }),
      bids: [oldBid, olderBid, curBid],
      statuses: [mine],
      eligible: eligibleOf(me),
      firstSeenAt: 0,
      now: 10_000,
      self: { meshlet: me, owner: 'did:me-owner', draining: false, recovering: false },
      offer: { kind: 'bid', priority: 600, capacity: { cpuMillisFree: 1000, memoryMbFree: 1000 } },
    })
    expect(d.actions.filter((a) => a.type === 'withdraw').map((a) => (a.type === 'withdraw' ? a.rkey : ''))).toEqual(['3kme0'])
  })
})

// ---- properties ----

const owners = Object.values(OWNERS)
const spec = fc.record({
  owner: fc.integer({ min: 0, max: 2 }),
  runner: fc.integer({ min: 0, max: 2 }), // mallory (3) only forges, below
  versions: fc.array(fc.record({ startMin: fc.integer({ min: 0, max: 400 }), durMin: fc.integer({ min: 0, max: 300 }), state: fc.constantFrom<WorkloadStatus['state']>('running', 'stopped', 'exited') }), { minLength: 1, maxLength: 4 }),
})
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never

/** Honest records: each workload's versions run one after another on one meshlet, the status keeping the earlier ones as history. */
function world(specs: readonly Spec[]): Omit<LedgerRecords, 'now'> & { bids: Bid[]; statuses: WorkloadStatus[] } {
  const workloads = specs.map((s, i) => wl(owners[s.owner], `h${i}`, E0, { cid: `bafy-h${i}-v${s.versions.length - 1}` }))
  const bids: Bid[] = []
  const statuses: WorkloadStatus[] = []
  specs.forEach((s, i) => {
    const history: StatusVersion[] = []
    let t = at(E0)
    s.versions.forEach((v, n) => {
      const w = { ...workloads[i], cid: `bafy-h${i}-v${n}` }
      const b = honestBid(records([w], [], []), meshletOf(owners[s.runner]), w)
      bids.push(b)
      t += v.startMin * 60_000
      const c = claim(b, v.state, t, t + v.durMin * 60_000)
      if (n < s.versions.length - 1) history.push(entry(c))
      else statuses.push({ ...c, history: [...history] })
    })
  })
  return { ...records(workloads, bids, statuses), bids, statuses }
}

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const rng = mulberry32(seed)
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

function balances(l: Ledger): string[] {
  const out: string[] = []
  for (let k = E0; k <= E0 + 12; k++) for (const o of owners) out.push(`${o}@${k}: ${l.balanceAt(o, k).contributed} - ${l.balanceAt(o, k).consumed}`)
  return out
}

describe('ledger properties with history', () => {
  const T = at(E0 + 13)

  test('order-independent and duplicate-proof: same balances and accounts however the records (and history copies) arrive', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 8 }), fc.integer(), (specs, seed) => {
        const r = world(specs)
        const a = new Ledger({ ...r, now: T })
        const dup = <X>(xs: readonly X[]) => shuffle([...xs, ...xs.filter((_, i) => i % 2 === 0)], seed)
        // A history entry repeated inside its status (a writer retrying) adds nothing either.
        const repeated = r.statuses.map((s) => ({ ...s, history: (s.history ?? []).flatMap((h) => [h, h]) }))
        const b = new Ledger({ ...r, workloads: shuffle(r.workloads, seed + 1), bids: dup(r.bids), statuses: dup(repeated), now: T })
        expect(balances(b)).toEqual(balances(a))
        const counted = (l: Ledger) => l.statusAccounts().reduce((n, x) => n + (x.unitSeconds ?? 0), 0)
        expect(counted(b)).toBe(counted(a))
      }),
      { numRuns: 80 },
    )
  })

  test('a forged history moves no balance its bids do not prove; an oversized one moves none at all', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ target: fc.nat(), kind: fc.integer({ min: 0, max: 4 }), startMin: fc.integer({ min: -600, max: 900 }), durMin: fc.integer({ min: 0, max: 2000 }), state: fc.constantFrom<WorkloadStatus['state']>('running', 'stopped') }), { minLength: 1, maxLength: 40 }),
        (specs, forgedSpecs) => {
          const r = world(specs)
          const honest = new Ledger({ ...r, now: T })
          // mallory's meshlet writes one status per workload with a made-up history: entries on honest
          // bids of others, on its own bids for other versions, with altered priorities, on bids it never made.
          const malBids: Bid[] = []
          const forged: WorkloadStatus[] = r.workloads.map((w, i) => {
            const hist: StatusVersion[] = forgedSpecs.map((f) => {
              const victim = r.bids[f.target % r.bids.length]
              const start = at(E0, f.startMin * 60_000)
              const base: StatusVersion = { cid: victim.workload.cid, bid: { uri: victim.uri, cid: victim.cid }, priority: victim.priority, replica: 0, state: f.state, startedAt: iso(start), updatedAt: iso(start + f.durMin * 60_000) }
              if (f.kind === 1) return { ...base, bid: { uri: victim.uri.replace(victim.meshlet, mMal), cid: victim.cid } }
              if (f.kind === 2) return { ...base, priority: 1000 }
              if (f.kind === 3) return { ...base, cid: 'bafy-never' }
              return base
            })
            const own = rawBid(mMal, { ...w, cid: 'bafy-mal' }, 1000)
            malBids.push(own)
            return { ...claim(own, 'stopped', at(E0), at(E0)), workload: { uri: w.uri, cid: w.cid }, history: hist.slice(0, MAX_STATUS_HISTORY) }
          })
          const attacked = new Ledger({ ...r, bids: [...r.bids, ...malBids], statuses: [...r.statuses, ...forged], now: T })
          expect(balances(attacked)).toEqual(balances(honest))
          // Oversized: the same statuses with the full forged list padded past the bound.
          const big = forged.map((s) => ({ ...s, history: Array.from({ length: MAX_STATUS_HISTORY + 1 }, (_, i) => s.history![i % s.history!.length]) }))
          expect(balances(new Ledger({ ...r, bids: [...r.bids, ...malBids], statuses: [...r.statuses, ...big], now: T }))).toEqual(balances(honest))
        },
      ),
      { numRuns: 60 },
    )
  })

  test('with real bids of its own, a history charges a workload owner at most one claim at a time, from the bid epoch on', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ version: fc.integer({ min: 0, max: 3 }), startMin: fc.integer({ min: -120, max: 700 }), durMin: fc.integer({ min: 0, max: 3000 }), state: fc.constantFrom<WorkloadStatus['state']>('running', 'stopped', 'exited') }), { minLength: 1, maxLength: MAX_STATUS_HISTORY }),
        (entries) => {
          const w = wl(alice, 'target', E0, { cid: 'bafy-target-v9' })
          const versions = [0, 1, 2, 3].map((n) => ({ ...w, cid: `bafy-target-v${n}` }))
          const bids = versions.map((v) => honestBid(records([v], [], []), mMal, v))
          const history = entries.map((e) => {
            const b = bids[e.version]
            const start = at(E0, e.startMin * 60_000)
            return { cid: b.workload.cid, bid: { uri: b.uri, cid: b.cid }, priority: b.priority, replica: 0, state: e.state, startedAt: iso(start), updatedAt: iso(start + e.durMin * 60_000) }
          })
          const cur = claim(rawBid(mMal, w, 0), 'stopped', at(E0 + 12), at(E0 + 12), { startedAt: undefined })
          const l = new Ledger({ ...records([w], bids, [{ ...cur, history }]), now: T })
          const charged = l.statusAccounts().reduce((n, a) => n + (a.unitSeconds ?? 0), 0)
          // 2000 milli-units, from E0 (the bid epoch) to the last boundary passed (E0+13): one claim at a time.
          expect(charged).toBeLessThanOrEqual((2000 * (at(E0 + 13) - at(E0))) / 1_000_000)
          expect(l.balanceAt(alice, E0 + 13).consumed).toBeLessThanOrEqual(BigInt((2000 * (at(E0 + 13) - at(E0))) / 1_000_000))
        },
      ),
      { numRuns: 100 },
    )
  })
})
