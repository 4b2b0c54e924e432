import { describe, expect, test } from 'vitest'
import { DECAY_WINDOW, EPOCH_MS, Ledger, decayStep, decayedSum, epochOf, subtractIntervals, unitsMilli, usagePerEpoch } from '../../src/core/ledger.js'
import { NSID } from '../../src/core/types.js'
import { E0, HOUR, OWNERS, at, claim, honestBid, meshletOf, rawBid, records, wl } from './ledger-world.js'

const { alice, bob, carol } = OWNERS
const mBob = meshletOf(bob)
const mCarol = meshletOf(carol)
const mAlice = meshletOf(alice)

describe('units, epochs, per-epoch usage', () => {
  test.each([
    [{ cpuMillis: 1000, memoryMb: 1024 }, 2000],
    [{ cpuMillis: 250, memoryMb: 0 }, 250],
    [{ cpuMillis: 0, memoryMb: 1023 }, 999], // floor(1023000 / 1024)
    [{ cpuMillis: 1, memoryMb: 6 }, 6], // 1 + floor(5.86)
  ])('unitsMilli(%o) = %i', (r, u) => {
    expect(unitsMilli(r)).toBe(u)
  })

  test('epochOf floors to the hour; the last ms of an epoch is still in it', () => {
    expect(epochOf(at(E0))).toBe(E0)
    expect(epochOf(at(E0 + 1) - 1)).toBe(E0)
    expect(epochOf(at(E0 + 1))).toBe(E0 + 1)
  })

  test.each<[string, number, number, number, [number, number][]]>([
    ['one full hour of 2000 milli-units', 2000, at(E0), at(E0 + 1), [[E0, 7200]]],
    ['split at the boundary', 2000, at(E0 + 1) - 1000, at(E0 + 1) + 1000, [[E0, 2], [E0 + 1, 2]]],
    ['floor per epoch: 999 999 milli-unit-ms is 0', 1, at(E0), at(E0) + 999_999, []],
    ['exactly one unit-second', 1, at(E0), at(E0) + 1_000_000, [[E0, 1]]],
    ['an empty interval', 2000, at(E0), at(E0), []],
    ['an inverted interval', 2000, at(E0 + 1), at(E0), []],
  ])('%s', (_n, units, s, e, want) => {
    expect(usagePerEpoch(units, s, e)).toEqual(want)
  })

  test('subtractIntervals cuts the covered parts', () => {
    expect(subtractIntervals(0, 100, [[10, 20], [50, 150]])).toEqual([[0, 10], [20, 50]])
    expect(subtractIntervals(0, 100, [[-5, 200]])).toEqual([])
    expect(subtractIntervals(0, 100, [[100, 200]])).toEqual([[0, 100]])
  })
})

describe('decay: X_{j+1} = floor(X_j * 63670 / 65536) + u_j from epoch k - 1536', () => {
  const k = E0 + 2000
  test('usage in the last epoch before k is not decayed; usage at k is not counted yet', () => {
    expect(decayedSum(new Map([[k - 1, 7200]]), k)).toBe(7200n)
    expect(decayedSum(new Map([[k, 7200]]), k)).toBe(0n)
  })

  test('one epoch earlier decays once: floor(65536 * 63670 / 65536) = 63670', () => {
    expect(decayedSum(new Map([[k - 2, 65536]]), k)).toBe(63670n)
    expect(decayStep(65536n)).toBe(63670n)
    expect(decayStep(1n)).toBe(0n)
  })

  test('1000 epochs back still counts, decayed 999 times', () => {
    const u = 2 ** 52
    let x = BigInt(u)
    for (let i = 0; i < 999; i++) x = decayStep(x)
    expect(x).toBeGreaterThan(0n)
    expect(decayedSum(new Map([[k - 1000, u]]), k)).toBe(x)
  })

  test('the 1536-epoch window drops nothing a double can hold: the largest usage at k - 1536 has decayed to 0', () => {
    expect(decayedSum(new Map([[k - DECAY_WINDOW, Number.MAX_SAFE_INTEGER]]), k)).toBe(0n)
    expect(decayedSum(new Map([[k - DECAY_WINDOW - 1, Number.MAX_SAFE_INTEGER]]), k)).toBe(0n)
  })

  test('half-life of 24 epochs: 2^30 is within 0.05% of 2^29 after 24 steps', () => {
    const x = decayedSum(new Map([[k - 25, 2 ** 30]]), k)
    expect(Number(x) / 2 ** 29).toBeGreaterThan(0.9995)
    expect(Number(x) / 2 ** 29).toBeLessThan(1.0005)
  })

  test('sums past 2^53 stay exact (BigInt): 2^52 at k-2 and k-1', () => {
    expect(decayedSum(new Map([[k - 2, 2 ** 52], [k - 1, 2 ** 52]]), k)).toBe((2n ** 52n * 63670n) / 65536n + 2n ** 52n)
  })

  test('matches a plain BigInt recursion over sparse usage', () => {
    const usage = new Map([[k - 1500, 123_456_789], [k - 700, 5], [k - 699, 2 ** 40], [k - 3, 77]])
    let x = 0n
    for (let j = k - DECAY_WINDOW; j < k; j++) x = decayStep(x) + BigInt(usage.get(j) ?? 0)
    expect(decayedSum(usage, k)).toBe(x)
  })
})

describe('Ledger: who ran whose work', () => {
  const w1 = wl(alice, 'w1')
  const b1 = () => honestBid(records([w1], [], []), mBob, w1)

  test('a cross-owner hour: the runner owner earns 7200, the workload owner owes 7200, from the next boundary on', () => {
    const bid = b1()
    const s = claim(bid, 'exited', at(E0), at(E0 + 1))
    const l = new Ledger({ ...records([w1], [bid], [s]), now: at(E0 + 2) })
    expect(l.balanceAt(bob, E0 + 1)).toEqual({ contributed: 7200n, consumed: 0n, balance: 7200n })
    expect(l.balanceAt(alice, E0 + 1)).toEqual({ contributed: 0n, consumed: 7200n, balance: -7200n })
    expect(l.balanceAt(bob, E0).balance).toBe(0n)
    expect(l.statusAccounts()).toEqual([expect.objectContaining({ status: s.uri, counted: true, unitSeconds: 7200, runnerOwner: bob, workloadOwner: alice })])
  })

  test('an owner running its own workload earns nothing', () => {
    const bid = honestBid(records([w1], [], []), mAlice, w1)
    const l = new Ledger({ ...records([w1], [bid], [claim(bid, 'exited', at(E0), at(E0 + 1))]), now: at(E0 + 2) })
    expect(l.balanceAt(alice, E0 + 1).balance).toBe(0n)
    expect(l.statusAccounts()[0].reason).toMatch(/ran its own workload/)
  })

  test('a dead runner stops earning STATUS_LEASE_MS (30 min) after its last renewal', () => {
    const bid = b1()
    // Started at E0, last renewed 10 minutes later, then silent: 40 minutes of usage = 2000 x 2400 s / 1000.
    const dead = claim(bid, 'running', at(E0), at(E0, 10 * 60_000))
    const l = new Ledger({ ...records([w1], [bid], [dead]), now: at(E0 + 24 * 30) })
    expect(l.balanceAt(bob, E0 + 1).contributed).toBe(4800n)
    // Still running and renewed at the end of the hour: the whole hour counts.
    const alive = claim(bid, 'running', at(E0), at(E0 + 1) - 60_000)
    expect(new Ledger({ ...records([w1], [bid], [alive]), now: at(E0 + 3) }).balanceAt(bob, E0 + 1).contributed).toBe(7200n)
  })

  test('usage counts up to the start of the observer epoch only, and never before the bid epoch', () => {
    const bid = b1()
    const s = claim(bid, 'running', at(E0 - 5), at(E0, 30 * 60_000))
    // now = E0 + 15 min: the epoch under way counts once its boundary has passed (a replay depends
    // on the epoch, not on the instant), so even the boundary after it shows nothing yet.
    const l = new Ledger({ ...records([w1], [bid], [s]), now: at(E0, 15 * 60_000) })
    expect(l.balanceAt(bob, E0 + 1).contributed).toBe(0n)
    expect(l.balanceAt(bob, E0).contributed).toBe(0n)
    // Once E0 has passed: E0 to the lease end (updatedAt + 30 min = the whole hour); before E0 never.
    const later = new Ledger({ ...records([w1], [bid], [s]), now: at(E0 + 1, 1) })
    expect(later.balanceAt(bob, E0 + 1).contributed).toBe(7200n)
    expect(later.balanceAt(bob, E0).contributed).toBe(0n)
    // A replay anywhere inside an epoch gives the same balances.
    const end = new Ledger({ ...records([w1], [bid], [s]), now: at(E0 + 2) - 1 })
    expect(end.balanceAt(bob, E0 + 2)).toEqual(later.balanceAt(bob, E0 + 2))
  })

  test('a status with no startedAt never ran: no usage', () => {
    const bid = b1()
    const s = claim(bid, 'pending', at(E0), at(E0, 60_000), { startedAt: undefined })
    const l = new Ledger({ ...records([w1], [bid], [s]), now: at(E0 + 2) })
    expect(l.balanceAt(bob, E0 + 1).balance).toBe(0n)
    expect(l.statusAccounts()[0].reason).toBe('never started')
  })

  test('deleting the workload keeps the usage (resources come from the bid)', () => {
    const bid = b1()
    const s = claim(bid, 'stopped', at(E0), at(E0 + 1))
    const withW = new Ledger({ ...records([w1], [bid], [s]), now: at(E0 + 3) })
    const without = new Ledger({ ...records([], [bid], [s]), now: at(E0 + 3) })
    expect(without.balanceAt(alice, E0 + 2)).toEqual(withW.balanceAt(alice, E0 + 2))
    expect(without.balanceAt(alice, E0 + 1).balance).toBe(-7200n)
    // One boundary later it has decayed once: floor(7200 * 63670 / 65536) = 6994.
    expect(without.balanceAt(alice, E0 + 2).balance).toBe(-6994n)
  })

  test('a balance 100 epochs later is the usage decayed 99 times', () => {
    const bid = b1()
    const s = claim(bid, 'exited', at(E0), at(E0 + 1))
    const l = new Ledger({ ...records([w1], [bid], [s]), now: at(E0 + 2000) })
    let x = 7200n
    for (let i = 0; i < 99; i++) x = decayStep(x)
    expect(l.balanceAt(bob, E0 + 100).contributed).toBe(x)
    expect(x).toBeGreaterThan(0n)
  })

  test('a higher-ranked claim on the same replica shadows a lower one while it runs', () => {
    const lo = honestBid(records([w1], [], []), mCarol, w1, { capacity: { cpuMillisFree: 2000, memoryMbFree: 4096, loadPermille: 500, onBattery: false, thermal: 'nominal' } })
    const hiBid = honestBid(records([w1], [], []), mBob, w1)
    expect(hiBid.priority).toBeGreaterThan(lo.priority)
    // Bob holds replica 0 for the first half hour; Carol claims it too for the whole hour.
    const sHi = claim(hiBid, 'stopped', at(E0), at(E0, 30 * 60_000))
    const sLo = claim(lo, 'exited', at(E0), at(E0 + 1))
    const l = new Ledger({ ...records([w1], [hiBid, lo], [sHi, sLo]), now: at(E0 + 2) })
    expect(l.balanceAt(bob, E0 + 1).contributed).toBe(3600n)
    expect(l.balanceAt(carol, E0 + 1).contributed).toBe(3600n)
    expect(l.balanceAt(alice, E0 + 1).consumed).toBe(7200n)
  })

  test('a bid at a later epoch is verified against the balance earned before it (well-founded)', () => {
    const bid = b1()
    const s = claim(bid, 'exited', at(E0), at(E0 + 1))
    const w2 = wl(carol, 'w2', E0 + 1)
    const base = records([w1, w2], [bid], [s])
    // Bob earned 7200 by E0+1: fairShare 250 - trunc(250*7200/10800) = 84, fit 437.
    const later = honestBid(base, mBob, w2)
    expect(later.priority).toBe(84 + 437)
    const l = new Ledger({ ...records([w1, w2], [bid, later], [s]), now: at(E0 + 2) })
    expect(l.verifyBid(later)).toBeUndefined()
    expect(l.verifyBid({ ...later, uri: `${later.uri}x`, priority: 250 + 437 })).toBe('priority 687 does not match the recomputed 521 = fairShare 84 + fit 437')
  })
})

describe('verifyBid: what a bid claims is recomputed', () => {
  const w1 = wl(alice, 'w1')
  const l = new Ledger({ ...records([w1], [], []), now: at(E0 + 1) })
  const honest = honestBid(records([w1], [], []), mBob, w1)

  test('an honest bid verifies (fairShare 250 + fit 437)', () => {
    expect(honest.priority).toBe(687)
    expect(l.verifyBid(honest)).toBeUndefined()
  })

  test.each<[string, Partial<typeof honest>, string]>([
    ['inflated by one', { priority: 688 }, 'priority 688 does not match the recomputed 687 = fairShare 250 + fit 437'],
    ['the maximum', { priority: 1000 }, 'priority 1000 does not match the recomputed 687 = fairShare 250 + fit 437'],
    ['1001', { priority: 1001 }, 'priority 1001 does not match the recomputed 687 = fairShare 250 + fit 437'],
    ['no epoch', { epoch: undefined }, 'bid names no ledger epoch'],
    ['another epoch', { epoch: E0 - 1 }, `epoch ${E0 - 1} is not the workload's epoch ${E0} (created ${w1.createdAt})`],
    ['no resources', { resources: undefined }, 'bid carries no copy of the workload resources'],
    ['smaller resources', { resources: { cpuMillis: 1, memoryMb: 6 } }, "resources 1m/6MiB differ from the workload's 1000m/1024MiB"],
    ['no capacity', { capacity: undefined }, 'bid carries no capacity snapshot'],
    ['more CPU than its profile', { capacity: { cpuMillisFree: 4001, memoryMbFree: 8192 } }, "capacity cpuMillisFree 4001 exceeds the bidder's published total 4000"],
    ['more memory than its profile', { capacity: { cpuMillisFree: 4000, memoryMbFree: 8193 } }, "capacity memoryMbFree 8193 exceeds the bidder's published total 8192"],
    ['a stranger without a profile', { meshlet: 'did:plc:stranger' }, 'did:plc:stranger has no profile, so its capacity cannot be checked'],
  ])('%s is invalid: %s', (_n, over, reason) => {
    expect(l.verifyBid({ ...honest, uri: `${honest.uri}-${_n}`, ...over })).toBe(reason)
  })

  test('the first failing check is the reason given (epoch, resources, capacity, then priority)', () => {
    const bad = { ...honest, priority: 1000, epoch: E0 + 1, resources: { cpuMillis: 1, memoryMb: 6 }, capacity: { cpuMillisFree: 9999, memoryMbFree: 1 } }
    expect(l.verifyBid({ ...bad, uri: `${honest.uri}-o1` })).toMatch(/^epoch /)
    expect(l.verifyBid({ ...bad, uri: `${honest.uri}-o2`, epoch: E0 })).toMatch(/^resources /)
    expect(l.verifyBid({ ...bad, uri: `${honest.uri}-o3`, epoch: E0, resources: honest.resources })).toMatch(/^capacity cpuMillisFree /)
  })

  test('a bidder without a verified owner has no balance to recompute from', () => {
    const orphan = new Ledger({ ...records([w1], [], []), ownerOf: () => undefined, now: at(E0 + 1) })
    expect(orphan.verifyBid(honest)).toBe(`${honest.meshlet} has no verified owner, so it has no ledger balance`)
  })

  test('capacity exactly at the profile totals is fine (the bound is inclusive)', () => {
    expect(l.verifyBid({ ...honest, uri: `${honest.uri}-edge`, capacity: { ...honest.capacity!, cpuMillisFree: 4000, memoryMbFree: 8192 } })).toBeUndefined()
  })

  test('after the workload is deleted, its epoch and resources cannot be compared, the priority still is', () => {
    const gone = new Ledger({ ...records([], [], []), now: at(E0 + 1) })
    expect(gone.verifyBid({ ...honest, uri: `${honest.uri}-a`, epoch: E0 })).toBeUndefined()
    expect(gone.verifyBid({ ...honest, uri: `${honest.uri}-b`, priority: 1000 })).toMatch(/^priority 1000 does not match/)
  })
})

describe('adversarial: forged statuses do not move a victim', () => {
  test('50 forged statuses about alice (no bid, an inflated bid, a decline, a non-winner, a bad replica, wrong rkeys) leave her balance as honest records made it', () => {
    const { mallory } = OWNERS
    const mMal = meshletOf(mallory)
    const workloads = Array.from({ length: 25 }, (_, i) => wl(alice, `v${i}`))
    const honestBids = workloads.map((w) => honestBid(records(workloads, [], []), mBob, w))
    const honestStatuses = honestBids.map((b) => claim(b, 'running', at(E0), at(E0 + 3)))
    const forgedBids = []
    const forged = []
    const start = at(E0)
    const end = at(E0 + 3)
    for (const [i, w] of workloads.entries()) {
      // A fair bid (correct priority, lower than bob's): a non-winner.
      const fair = honestBid(records(workloads, [], []), mMal, w, { capacity: { cpuMillisFree: 1100, memoryMbFree: 2000, loadPermille: 900, onBattery: true, thermal: 'warm' } })
      const inflated = rawBid(mMal, w, 1000)
      const declined = rawBid(mMal, w, 0, { decline: 'busy' })
      forgedBids.push(fair, inflated, declined)
      // One status at the canonical rkey per workload (a repo has one per workload)...
      const kinds = [
        claim(inflated, 'running', start, end, { bid: undefined }),
        claim(inflated, 'running', start, end),
        claim(declined, 'running', start, end),
        claim(fair, 'running', start, end),
        claim(fair, 'running', start, end, { replica: 1 }),
      ]
      forged.push(kinds[i % kinds.length])
      // ...and one at a made-up rkey.
      forged.push(claim(fair, 'running', start, end, { uri: `at://${mMal}/${NSID.workloadStatus}/forged${i}` }))
    }
    expect(forged).toHaveLength(50)
    const now = at(E0 + 4)
    const honestOnly = new Ledger({ ...records(workloads, honestBids, honestStatuses), now })
    const attacked = new Ledger({ ...records(workloads, [...honestBids, ...forgedBids], [...honestStatuses, ...forged]), now })
    expect(attacked.balanceAt(alice, E0 + 4)).toEqual(honestOnly.balanceAt(alice, E0 + 4))
    expect(attacked.balanceAt(mallory, E0 + 4).balance).toBe(0n)
    expect(honestOnly.balanceAt(alice, E0 + 4).consumed).toBeGreaterThan(0n)
    const reasons = new Set(attacked.statusAccounts().filter((a) => !a.counted).map((a) => a.reason.replace(/at:\/\/[^\s,]+/g, 'URI').replace(/\d+/g, 'N')))
    expect(reasons).toEqual(
      new Set([
        'claim without a bid',
        'status at URI, expected URI',
        'its bid is a decline',
        'its bid is invalid: priority N does not match the recomputed N = fairShare N + fit N',
        'a higher-ranked claim holds replica N for its whole interval',
        'replica N is not in [N, N)',
      ]),
    )
  })

  test('a claim whose priority differs from its bid, or that stands on another meshlet’s bid, does not count', () => {
    const w = wl(alice, 'w1')
    const bid = honestBid(records([w], [], []), mBob, w)
    const wrongPriority = claim(bid, 'running', at(E0), at(E0 + 1), { priority: 1000 })
    const carolsBid = honestBid(records([w], [], []), mCarol, w)
    const borrowed = { ...claim(carolsBid, 'running', at(E0), at(E0 + 1)), meshlet: mBob, uri: claim(bid, 'running', 0, 0).uri.replace(mCarol, mBob) }
    for (const s of [wrongPriority, borrowed]) {
      const l = new Ledger({ ...records([w], [bid, carolsBid], [s]), now: at(E0 + 2) })
      expect(l.balanceAt(alice, E0 + 1).balance).toBe(0n)
    }
    expect(new Ledger({ ...records([w], [bid], [wrongPriority]), now: at(E0 + 2) }).statusAccounts()[0].reason).toBe(`claim priority 1000 differs from its bid's ${bid.priority}`)
  })
})

test('EPOCH_MS is one hour', () => {
  expect(EPOCH_MS).toBe(HOUR)
})
