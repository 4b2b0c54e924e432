import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { fnv1a64Hex, tiebreak } from '../../src/core/hash.js'
import { bidWindow, classifyBids, rankByPriority, selectWinners } from '../../src/core/selection.js'
import type { Bid } from '../../src/core/types.js'
import { W_CID, bid, decline, eligibleOf, workload } from './fixtures.js'

type CaseOf<A> = A extends fc.Arbitrary<infer T> ? T : never

function fnvReference(s: string): string {
  let h = 0xcbf29ce484222325n
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b)
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn
  }
  return h.toString(16).padStart(16, '0')
}

describe('fnv1a64Hex', () => {
  test.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('published test vector %j -> %s', (input, hex) => {
    expect(fnv1a64Hex(input)).toBe(hex)
  })

  test('matches the BigInt definition over UTF-8 for any string, lone surrogates included', () => {
    const anyUtf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }).map((codes) => String.fromCharCode(...codes))
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), anyUtf16), (s) => fnv1a64Hex(s) === fnvReference(s)),
      { numRuns: 2000 },
    )
  })

  test('tiebreak hashes "cid|did" and is always 16 lowercase hex digits', () => {
    expect(tiebreak('bafyx', 'did:plc:a')).toBe(fnvReference('bafyx|did:plc:a'))
    expect(tiebreak('bafyx', 'did:plc:a')).toMatch(/^[0-9a-f]{16}$/)
  })
})

describe('classifyBids (rule 1)', () => {
  const w = workload()
  const elig = eligibleOf('did:a', 'did:b', 'did:c')
  test.each<{ name: string; bids: Bid[]; valid: string[]; declined: string[]; invalid: [string, RegExp][] }>([
    { name: 'a plain bid counts', bids: [bid('did:a', 5)], valid: ['did:a'], declined: [], invalid: [] },
    {
      name: 'older cid is invalid',
      bids: [bid('did:a', 5, { workload: { uri: w.uri, cid: 'bafyold' } })],
      valid: [],
      declined: [],
      invalid: [['did:a', /^invalid: bid references an older version of the workload/]],
    },
    { name: 'ineligible meshlet is invalid', bids: [bid('did:z', 5)], valid: [], declined: [], invalid: [['did:z', /^invalid: not eligible/]] },
    {
      name: 'earliest rkey counts, later one is a duplicate',
      bids: [bid('did:a', 9, { rkey: '3kb2' }), bid('did:a', 1, { rkey: '3kb1' })],
      valid: ['did:a'],
      declined: [],
      invalid: [['did:a', /^invalid: duplicate bid/]],
    },
    {
      name: 'earliest record a decline means declined, even with a later bid',
      bids: [decline('did:a', 'insufficient memory', { rkey: '3kb1' }), bid('did:a', 9, { rkey: '3kb2' })],
      valid: [],
      declined: ['did:a'],
      invalid: [['did:a', /^invalid: duplicate bid/]],
    },
    {
      name: 'a later decline does not undo an earlier bid',
      bids: [bid('did:a', 9, { rkey: '3kb1' }), decline('did:a', 'busy', { rkey: '3kb2' })],
      valid: ['did:a'],
      declined: [],
      invalid: [['did:a', /^invalid: duplicate bid/]],
    },
    {
      name: 'an older-cid record does not count as the earliest one',
      bids: [bid('did:a', 9, { rkey: '3kb1', workload: { uri: w.uri, cid: 'bafyold' } }), bid('did:a', 3, { rkey: '3kb2' })],
      valid: ['did:a'],
      declined: [],
      invalid: [['did:a', /older version/]],
    },
    { name: 'a negative priority is invalid', bids: [bid('did:a', -1)], valid: [], declined: [], invalid: [['did:a', /priority must be a non-negative integer/]] },
    { name: 'a fractional priority is invalid', bids: [bid('did:a', 1.5)], valid: [], declined: [], invalid: [['did:a', /priority must be a non-negative integer/]] },
    {
      name: 'another workload is invalid',
      bids: [bid('did:a', 1, { workload: { uri: 'at://did:x/commune.scheduler.workload/other', cid: W_CID } })],
      valid: [],
      declined: [],
      invalid: [['did:a', /references another workload/]],
    },
  ])('$name', ({ bids, valid, declined, invalid }) => {
    const c = classifyBids(w, bids, elig)
    expect(c.valid.map((b) => b.meshlet)).toEqual(valid)
    expect(c.declined.map((b) => b.meshlet)).toEqual(declined)
    expect(c.invalid.map((i) => i.bid.meshlet)).toEqual(invalid.map(([m]) => m))
    invalid.forEach(([, re], i) => expect(c.invalid[i].reason).toMatch(re))
  })

  test('the same record delivered twice counts once and is not a duplicate', () => {
    const b = bid('did:a', 5)
    const c = classifyBids(w, [b, { ...b }], elig)
    expect(c.valid).toHaveLength(1)
    expect(c.invalid).toHaveLength(0)
  })
})

describe('ordering (rule 2)', () => {
  const cid = 'bafyorder'
  const hashOrder = (dids: string[]) => [...dids].sort((a, b) => (tiebreak(cid, a) < tiebreak(cid, b) ? -1 : 1))

  test('priority descending first', () => {
    const ranked = rankByPriority([{ d: 'did:a', p: 1 }, { d: 'did:b', p: 3 }, { d: 'did:c', p: 2 }], cid, (x) => x.d, (x) => x.p)
    expect(ranked.map((x) => x.d)).toEqual(['did:b', 'did:c', 'did:a'])
  })

  test('equal priority breaks on the FNV tiebreak of cid|did, ascending', () => {
    const dids = ['did:plc:aaa', 'did:plc:bbb', 'did:plc:ccc', 'did:plc:ddd']
    const ranked = rankByPriority(dids.map((d) => ({ d, p: 7 })), cid, (x) => x.d, (x) => x.p)
    expect(ranked.map((x) => x.d)).toEqual(hashOrder(dids))
  })

  test('the tiebreak depends on the workload cid, so ties do not always favour the same DID', () => {
    const dids = ['did:plc:aaa', 'did:plc:bbb', 'did:plc:ccc', 'did:plc:ddd', 'did:plc:eee']
    const firsts = new Set<string>()
    for (let i = 0; i < 30; i++) {
      const ranked = rankByPriority(dids.map((d) => ({ d, p: 1 })), `bafy${i}`, (x) => x.d, (x) => x.p)
      firsts.add(ranked[0].d)
    }
    expect(firsts.size).toBeGreaterThan(1)
  })
})

describe('selectWinners (rule 3)', () => {
  const elig = eligibleOf('did:a', 'did:b', 'did:c', 'did:d', 'did:e')

  test('winners are the first `replicas` valid bids, with a reason for every record', () => {
    const w = workload({ replicas: 2 })
    const bids = [
      bid('did:a', 700),
      bid('did:b', 650),
      bid('did:c', 900),
      bid('did:d', 100),
      decline('did:e', 'insufficient memory: needs 4096 MiB, 1200 MiB free'),
      bid('did:z', 999),
      bid('did:a', 1, { rkey: '3kb9' }),
    ]
    const s = selectWinners(w, bids, elig)
    expect(s.ordered.map((b) => b.meshlet)).toEqual(['did:c', 'did:a', 'did:b', 'did:d'])
    expect(s.winners.map((b) => b.meshlet)).toEqual(['did:c', 'did:a'])
    expect(s.outcomes.map((o) => [o.meshlet, o.outcome])).toEqual([
      ['did:c', 'won'],
      ['did:a', 'won'],
      ['did:b', 'lost'],
      ['did:d', 'lost'],
      ['did:e', 'declined'],
      ['did:a', 'invalid'],
      ['did:z', 'invalid'],
    ])
    expect(s.outcomes[2].reason).toBe('rank 3 of 4, replicas 2: outranked by did:a (priority 700 vs 650)')
    expect(s.outcomes[0].reason).toBe('rank 1 of 4, replicas 2: won with priority 900')
    expect(s.outcomes[4].reason).toBe('declined: insufficient memory: needs 4096 MiB, 1200 MiB free')
    expect(s.outcomes[5].reason).toMatch(/^invalid: duplicate bid/)
    expect(s.outcomes[6].reason).toMatch(/^invalid: not eligible: did:z/)
  })

  test('a tie is explained', () => {
    const w = workload({ replicas: 1, cid: 'bafytie' })
    const bids = ['did:a', 'did:b'].map((m) => bid(m, 5, { workload: { uri: w.uri, cid: w.cid } }))
    const s = selectWinners(w, bids, elig)
    expect(s.outcomes[1].reason).toMatch(/equal priority broken by hash tiebreak/)
  })

  test.each([
    [0, 0],
    [1, 1],
    [3, 3],
    [9, 5],
  ])('replicas %i with 5 bidders -> %i winners', (replicas, n) => {
    const w = workload({ replicas })
    const s = selectWinners(w, ['did:a', 'did:b', 'did:c', 'did:d', 'did:e'].map((m, i) => bid(m, i)), elig)
    expect(s.winners).toHaveLength(n)
  })
})

describe('bidWindow (rule 4)', () => {
  const w = workload({ bidWindowMs: 5000 })
  const elig = eligibleOf('did:a', 'did:b')
  test.each<{ name: string; bids: Bid[]; now: number; closed: boolean; reason: string }>([
    { name: 'open before the deadline with answers missing', bids: [bid('did:a', 1)], now: 1000 + 4999, closed: false, reason: 'open' },
    { name: 'closes on timeout', bids: [bid('did:a', 1)], now: 1000 + 5000, closed: true, reason: 'timeout' },
    { name: 'closes early when everyone bid or declined', bids: [bid('did:a', 1), decline('did:b', 'busy')], now: 1001, closed: true, reason: 'all-answered' },
    { name: 'an invalid answer does not count', bids: [bid('did:a', 1), bid('did:b', 1, { workload: { uri: w.uri, cid: 'bafyold' } })], now: 1001, closed: false, reason: 'open' },
    { name: 'an ineligible bidder does not count', bids: [bid('did:a', 1), bid('did:z', 1)], now: 1001, closed: false, reason: 'open' },
  ])('$name', ({ bids, now, closed, reason }) => {
    const r = bidWindow(w, bids, elig, 1000, now)
    expect(r).toEqual({ closed, closesAt: 6000, reason })
  })

  test('nobody eligible: closed at once, nobody to wait for', () => {
    expect(bidWindow(w, [], new Map(), 1000, 1000)).toMatchObject({ closed: true, reason: 'all-answered' })
  })
})

describe('selection properties', () => {
  const meshlets = ['did:plc:a', 'did:plc:b', 'did:plc:c', 'did:plc:d', 'did:plc:e', 'did:plc:f']
  const arbBid = fc.record({
    meshlet: fc.constantFrom(...meshlets, 'did:plc:stranger'),
    priority: fc.integer({ min: 0, max: 5 }),
    rkey: fc.integer({ min: 1, max: 6 }).map((n) => `3kb${n}`),
    old: fc.boolean(),
    decline: fc.option(fc.constant('busy'), { nil: undefined }),
  })
  const arbCase = fc.record({
    replicas: fc.integer({ min: 1, max: 4 }),
    cid: fc.constantFrom('bafy1', 'bafy2', 'bafy3'),
    bids: fc.array(arbBid, { maxLength: 14 }),
    eligibleCount: fc.integer({ min: 0, max: meshlets.length }),
  })
  const build = (c: CaseOf<typeof arbCase>) => {
    const w = workload({ replicas: c.replicas, cid: c.cid })
    const bids = c.bids.map((b) =>
      bid(b.meshlet, b.priority, { rkey: b.rkey, decline: b.decline, workload: { uri: w.uri, cid: b.old ? 'bafyold' : c.cid } }),
    )
    return { w, bids: [...new Map(bids.map((b) => [b.uri, b])).values()], elig: eligibleOf(...meshlets.slice(0, c.eligibleCount)) }
  }

  test('independent of arrival order and of duplicated deliveries', () => {
    fc.assert(
      fc.property(arbCase, fc.func(fc.integer()), (c, f) => {
        const { w, bids, elig } = build(c)
        const base = selectWinners(w, bids, elig)
        const shuffled = [...bids, ...bids.slice(0, 3)].map((b, i) => ({ b, k: f(i) })).sort((x, y) => x.k - y.k).map((x) => x.b)
        expect(selectWinners(w, shuffled, elig)).toEqual(base)
      }),
      { numRuns: 500 },
    )
  })

  test('never more than replicas winners; every winner eligible, current, not a decline, one per meshlet', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const { w, bids, elig } = build(c)
        const s = selectWinners(w, bids, elig)
        expect(s.winners.length).toBeLessThanOrEqual(w.replicas)
        expect(new Set(s.winners.map((b) => b.meshlet)).size).toBe(s.winners.length)
        for (const b of s.winners) {
          expect(elig.has(b.meshlet)).toBe(true)
          expect(b.decline).toBeUndefined()
          expect(b.workload.cid).toBe(w.cid)
        }
        // Every input record is explained.
        const explained = new Set(s.outcomes.map((o) => o.record))
        for (const b of bids) expect(explained.has(b.uri)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  test('same input, same output: winners are sorted by priority and never a lower bid over a higher one', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const { w, bids, elig } = build(c)
        const s = selectWinners(w, bids, elig)
        for (let i = 1; i < s.ordered.length; i++) expect(s.ordered[i - 1].priority).toBeGreaterThanOrEqual(s.ordered[i].priority)
        expect(selectWinners(w, bids, elig)).toEqual(s)
      }),
      { numRuns: 300 },
    )
  })
})
