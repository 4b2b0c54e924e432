// The record-level rules of batch at-most-once (core/acks.ts) that every peer must read alike:
// which record of a member counts, which acks and renunciations in it count, how acks and
// renunciations are merged into it, and the order that settles a tie. From Stryker's survivors.
import { describe, expect, test } from 'vitest'
import { countingRecord, mergeAcks, mergeRenounced, renounceFor, settledHolder, tallyAcks, validAcks, validRenounced } from '../../src/core/acks.js'
import { tiebreak } from '../../src/core/hash.js'
import type { Ack, Bid } from '../../src/core/types.js'
import { W_CID, W_URI, bid, eligibleOf, workload } from './fixtures.js'

const M = 'did:plc:mmm'
const w = workload({ kind: 'batch' })

describe('countingRecord', () => {
  test("the member's earliest record by rkey for the current uri and cid", () => {
    const early = bid(M, 1, { rkey: '3k1' })
    const late = bid(M, 1, { rkey: '3k2' })
    expect(countingRecord(w, [late, early], M)).toBe(early)
    expect(countingRecord(w, [early, late], M)).toBe(early)
  })

  test("another member's records, other workloads and older versions never count", () => {
    const other = bid('did:plc:other', 1, { rkey: '3k0' })
    const otherWorkload = bid(M, 1, { rkey: '3k0', workload: { uri: `${W_URI}x`, cid: W_CID } })
    const oldVersion = bid(M, 1, { rkey: '3k0', workload: { uri: W_URI, cid: 'bafyold' } })
    const mine = bid(M, 1, { rkey: '3k5' })
    expect(countingRecord(w, [other, otherWorkload, oldVersion, mine], M)).toBe(mine)
    expect(countingRecord(w, [other, otherWorkload, oldVersion], M)).toBeUndefined()
  })

  test('a record naming no workload is skipped, not a crash', () => {
    const broken = { ...bid(M, 1, { rkey: '3k0' }), workload: undefined } as unknown as Bid
    const mine = bid(M, 1, { rkey: '3k5' })
    expect(countingRecord(w, [broken, mine], M)).toBe(mine)
  })

  test('the same rkey twice (two copies seen under different uris): the smaller uri, in any order', () => {
    const a = { ...bid(M, 1, { rkey: '3k1' }), uri: 'at://a/x/3k1' }
    const b = { ...bid(M, 1, { rkey: '3k1' }), uri: 'at://b/x/3k1' }
    expect(countingRecord(w, [b, a], M)).toBe(a)
    expect(countingRecord(w, [a, b], M)).toBe(a)
    // the rkey decides before the uri does
    const c = { ...bid(M, 1, { rkey: '3k0' }), uri: 'at://z/x/3k0' }
    expect(countingRecord(w, [a, c], M)).toBe(c)
  })
})

describe('validAcks and validRenounced', () => {
  test('acks for numbers outside [0, replicas), fractional numbers or a non-string meshlet do not count', () => {
    const acks = [
      { replica: -1, meshlet: 'did:a' },
      { replica: 2, meshlet: 'did:a' },
      { replica: 0.5, meshlet: 'did:a' },
      { replica: 1, meshlet: 7 },
      { replica: 0, meshlet: 'did:a' },
    ] as unknown as Ack[]
    expect([...validAcks({ acks }, 2)]).toEqual([[0, 'did:a']])
  })

  test('a number acked twice for the same meshlet still counts; for two meshlets, for neither', () => {
    expect([...validAcks({ acks: [{ replica: 0, meshlet: 'did:a' }, { replica: 0, meshlet: 'did:a' }] }, 1)]).toEqual([[0, 'did:a']])
    expect([...validAcks({ acks: [{ replica: 0, meshlet: 'did:a' }, { replica: 0, meshlet: 'did:b' }, { replica: 1, meshlet: 'did:c' }] }, 2)]).toEqual([[1, 'did:c']])
    // a third ack for the first meshlet does not un-spoil it
    expect([...validAcks({ acks: [{ replica: 0, meshlet: 'did:a' }, { replica: 0, meshlet: 'did:b' }, { replica: 0, meshlet: 'did:a' }] }, 1)]).toEqual([])
  })

  test('no record, or a record without acks or renunciations: nothing', () => {
    expect(validAcks(undefined, 1).size).toBe(0)
    expect(validAcks({}, 1).size).toBe(0)
    expect(validRenounced(undefined, 1).size).toBe(0)
    expect(validRenounced({}, 1).size).toBe(0)
  })

  test('renounced numbers count only as integers in [0, replicas)', () => {
    expect([...validRenounced({ renounced: [-1, 0, 1.5, 2, 3] }, 3)]).toEqual([0, 2])
  })
})

describe('merging into the own record', () => {
  test('mergeRenounced: old and new, each once, ascending', () => {
    expect(mergeRenounced([3, 1], [2, 1])).toEqual([1, 2, 3])
    expect(mergeRenounced([], [10, 9])).toEqual([9, 10])
  })

  test('mergeAcks: an ack never replaces one for the same number; the result is sorted by number', () => {
    const out = mergeAcks([{ replica: 2, meshlet: 'did:b' }], [{ replica: 2, meshlet: 'did:z' }, { replica: 0, meshlet: 'did:c' }, { replica: 1, meshlet: 'did:a' }])
    expect(out).toEqual([{ replica: 0, meshlet: 'did:c' }, { replica: 1, meshlet: 'did:a' }, { replica: 2, meshlet: 'did:b' }])
  })

  test('mergeAcks keeps a record that already spoiled a number as it is, in a stable order', () => {
    const existing = [{ replica: 0, meshlet: 'did:b' }, { replica: 0, meshlet: 'did:a' }]
    expect(mergeAcks(existing, [{ replica: 0, meshlet: 'did:c' }])).toEqual([{ replica: 0, meshlet: 'did:a' }, { replica: 0, meshlet: 'did:b' }])
  })
})

describe('the order that settles a complete split', () => {
  // Every member of 4 acked: 2 for one meshlet, 2 for another: no quorum (3), u = 0, so the
  // tie goes to the smaller tiebreak(cid, did).
  const members = ['did:plc:e1', 'did:plc:e2', 'did:plc:e3', 'did:plc:e4']
  const electorate = eligibleOf(...members)
  const split = (x: string, y: string) =>
    tallyAcks(w, 1, members.map((m, i) => bid(m, 1, { acks: [{ replica: 0, meshlet: i < 2 ? x : y }] })), electorate)

  test('equal acks: the smaller tiebreak wins, whichever way round the acks were given', () => {
    const [x, y] = ['did:plc:xx', 'did:plc:yy']
    const first = tiebreak(W_CID, x) < tiebreak(W_CID, y) ? x : y
    expect(settledHolder(split(x, y), W_CID, 0)).toEqual({ meshlet: first, by: 'lead', acks: 2 })
    expect(settledHolder(split(y, x), W_CID, 0)).toEqual({ meshlet: first, by: 'lead', acks: 2 })
  })

  test('more acks beat a better tiebreak', () => {
    const [x, y] = ['did:plc:xx', 'did:plc:yy']
    const worse = tiebreak(W_CID, x) < tiebreak(W_CID, y) ? y : x
    const better = worse === x ? y : x
    const t = tallyAcks(w, 1, members.map((m, i) => bid(m, 1, { acks: [{ replica: 0, meshlet: i < 3 ? worse : better }] })), eligibleOf(...members, 'did:plc:e5', 'did:plc:e6'))
    // 3 of 6 for `worse`, 1 for `better`, 2 not acked: 3 > 1 + 2 is false, so no settlement yet…
    expect(settledHolder(t, W_CID, 0)).toBeUndefined()
    // …and once the last two ack `better` (3 vs 3), the tiebreak decides
    const full = tallyAcks(w, 1, [...members, 'did:plc:e5', 'did:plc:e6'].map((m, i) => bid(m, 1, { acks: [{ replica: 0, meshlet: i < 3 ? worse : better }] })), eligibleOf(...members, 'did:plc:e5', 'did:plc:e6'))
    expect(settledHolder(full, W_CID, 0)?.meshlet).toBe(better)
  })
})

describe('renounceFor', () => {
  // 5 members; claimer A (priority 900) has 1 ack, B (priority 100) has 3; 1 member unacked (u = 1).
  const members = ['did:plc:v1', 'did:plc:v2', 'did:plc:v3', 'did:plc:v4', 'did:plc:v5']
  const [A, B] = ['did:plc:aa', 'did:plc:bb']
  const t = tallyAcks(w, 1, [bid(members[0]!, 1, { acks: [{ replica: 0, meshlet: A }] }), ...members.slice(1, 4).map((m) => bid(m, 1, { acks: [{ replica: 0, meshlet: B }] }))], eligibleOf(...members))
  const claims = [{ meshlet: A, priority: 900 }, { meshlet: B, priority: 100 }]

  test('a better-ranked claimer never renounces to a worse-ranked one, until it is late and does not qualify itself', () => {
    expect(renounceFor(t, W_CID, 0, A, claims)).toBeUndefined()
    expect(renounceFor(t, W_CID, 0, A, claims, true)).toBe(B)
  })

  test('the worse-ranked claimer that qualifies keeps the number', () => {
    expect(renounceFor(t, W_CID, 0, B, claims)).toBeUndefined()
    expect(renounceFor(t, W_CID, 0, B, claims, true)).toBeUndefined()
  })
})
