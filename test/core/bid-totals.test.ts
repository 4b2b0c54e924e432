// A bid names the totals its priority is computed against (docs/protocol.md, "Priorities,
// recomputed"): a meshlet that changes its profile later (a RAM upgrade) or deletes it keeps its old
// bids verifiable, so their usage stays in every balance. Bids that name no totals (older records)
// are still checked against the current profile.
import { describe, expect, test } from 'vitest'
import { MAX_MEMORY_MB_TOTAL, bidTotals } from '../../src/core/bid-verify.js'
import { Ledger } from '../../src/core/ledger.js'
import { bidPriority } from '../../src/core/priority.js'
import { E0, OWNERS, TOTALS, at, claim, honestBid, meshletOf, records, wl } from './ledger-world.js'

const { alice, bob } = OWNERS
const mBob = meshletOf(bob)
const w1 = wl(alice, 'w1')
const named = { cpuMillisFree: 3000, memoryMbFree: 6000, cpuMillisTotal: TOTALS.cpuMillis, memoryMbTotal: TOTALS.memoryMb, loadPermille: 0, onBattery: false, thermal: 'nominal' as const }
const legacy = { cpuMillisFree: 3000, memoryMbFree: 6000, loadPermille: 0, onBattery: false, thermal: 'nominal' as const }

/** The same records, but bob's profile as it is after a RAM upgrade (or gone). */
function after(change: 'upgrade' | 'deleted') {
  const r = records([w1], [], [])
  const profiles = change === 'deleted' ? r.profiles.filter((p) => p.meshlet !== mBob) : r.profiles.map((p) => (p.meshlet === mBob ? { ...p, memoryMb: 16384 } : p))
  return new Ledger({ ...r, profiles, now: at(E0 + 2) })
}

describe('bids checked against the totals they name', () => {
  const withTotals = honestBid(records([w1], [], []), mBob, w1, { capacity: named })
  const withoutTotals = honestBid(records([w1], [], []), mBob, w1, { capacity: legacy })

  test('both verify while the profile is unchanged, with the same priority', () => {
    const l = new Ledger({ ...records([w1], [], []), now: at(E0 + 2) })
    expect(withTotals.priority).toBe(withoutTotals.priority)
    expect(l.verifyBid(withTotals)).toBeUndefined()
    expect(l.verifyBid(withoutTotals)).toBeUndefined()
  })

  test('after a RAM upgrade or with the profile deleted, a bid naming its totals still verifies; one naming none does not', () => {
    for (const change of ['upgrade', 'deleted'] as const) {
      const l = after(change)
      expect(l.verifyBid(withTotals)).toBeUndefined()
      expect(l.verifyBid(withoutTotals)).toMatch(change === 'upgrade' ? /^priority \d+ does not match the recomputed/ : /has no profile/)
    }
  })

  test('so its usage stays in the balances', () => {
    const s = claim(withTotals, 'exited', at(E0), at(E0 + 1))
    const r = records([w1], [withTotals], [s])
    const upgraded = new Ledger({ ...r, profiles: r.profiles.map((p) => (p.meshlet === mBob ? { ...p, memoryMb: 16384 } : p)), now: at(E0 + 2) })
    expect(upgraded.balanceAt(bob, E0 + 1).contributed).toBe(7200n)
  })

  test.each<[string, Partial<typeof named>, string]>([
    ['free above the named CPU total', { cpuMillisFree: 4001 }, 'capacity cpuMillisFree 4001 exceeds the total the bid names 4000'],
    ['free above the named memory total', { memoryMbFree: 8193 }, 'capacity memoryMbFree 8193 exceeds the total the bid names 8192'],
    ['only one total named', { memoryMbTotal: undefined }, 'capacity names only one of cpuMillisTotal and memoryMbTotal'],
    ['a total above the published cap', { memoryMbTotal: MAX_MEMORY_MB_TOTAL + 1, memoryMbFree: 1 }, `capacity totals 4000m/${MAX_MEMORY_MB_TOTAL + 1}MiB are not whole numbers within 1048576m/${MAX_MEMORY_MB_TOTAL}MiB`],
    ['a fractional total', { cpuMillisTotal: 4000.5 }, 'capacity totals 4000.5m/8192MiB are not whole numbers within 1048576m/16777216MiB'],
  ])('%s is invalid', (_n, over, reason) => {
    const l = new Ledger({ ...records([w1], [], []), now: at(E0 + 2) })
    expect(l.verifyBid({ ...withTotals, uri: `${withTotals.uri}-${_n}`, capacity: { ...named, ...over } })).toBe(reason)
  })

  test('the named totals enter the recomputation: inflating them without recomputing the priority is caught', () => {
    const l = new Ledger({ ...records([w1], [], []), now: at(E0 + 2) })
    const inflated = { ...named, cpuMillisTotal: 64_000, memoryMbTotal: 131_072 }
    const want = bidPriority({ balance: 0n, capacity: inflated, totals: { cpuMillis: 64_000, memoryMb: 131_072 }, need: w1.resources }).priority
    expect(want).not.toBe(withTotals.priority)
    expect(l.verifyBid({ ...withTotals, uri: `${withTotals.uri}-inflated`, capacity: inflated })).toBe(
      `priority ${withTotals.priority} does not match the recomputed ${want} = fairShare 250 + fit ${want - 250}`,
    )
  })

  test('bidTotals: named totals win over the profile; none named falls back to it', () => {
    expect(bidTotals(withTotals, { cpuMillis: 1, memoryMb: 1 })).toEqual({ cpuMillis: 4000, memoryMb: 8192, source: 'total the bid names' })
    expect(bidTotals(withoutTotals, { cpuMillis: 1, memoryMb: 2 })).toEqual({ cpuMillis: 1, memoryMb: 2, source: "bidder's published total" })
  })
})
