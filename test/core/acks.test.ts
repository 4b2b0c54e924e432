// Batch at-most-once (docs/protocol.md, "Batch: at most once"): quorum, the ack rule, start
// gates, completions and lost slots, split acks.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { quorumOf, settledHolder, tallyAcks, validAcks } from '../../src/core/acks.js'
import { resolvePlacement } from '../../src/core/placement.js'
import { tiebreak } from '../../src/core/hash.js'
import type { Ack, Bid, Did, WorkloadStatus } from '../../src/core/types.js'
import { W_CID, bid, decline, eligibleOf, status, workload } from './fixtures.js'

const batch = (replicas = 1, delivery: 'at-most-once' | 'at-least-once' = 'at-most-once') => workload({ replicas, kind: 'batch', delivery })
const members = (n: number) => Array.from({ length: n }, (_, i) => `did:m${i}`)
/** Each member's counting record (a decline, so it is no candidate) carrying the given acks. */
const ackRecords = (acks: Record<Did, Ack[]>) => Object.entries(acks).map(([m, a]) => decline(m, 'busy', { acks: a }))
const claim = (m: Did, p: number, over: Partial<WorkloadStatus> = {}) => status(m, 'pending', { priority: p, ...over })
const ids = (xs: { meshlet: string }[]) => xs.map((x) => x.meshlet)

describe('quorum = floor(n/2) + 1', () => {
  test.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [10, 6],
    [11, 6],
  ])('electorate %i -> quorum %i', (n, q) => expect(quorumOf(n)).toBe(q))
})

describe('start gate of a batch claim', () => {
  // Claimers did:a and did:b (bids), electorate = them + m0..m(n-3).
  const setup = (n: number, ackers: number, delivery: 'at-most-once' | 'at-least-once' = 'at-most-once') => {
    const others = members(n - 2)
    const electorate = eligibleOf('did:a', 'did:b', ...others)
    const acks: Record<Did, Ack[]> = {}
    others.slice(0, ackers).forEach((m) => (acks[m] = [{ replica: 0, meshlet: 'did:a' }]))
    const bids: Bid[] = [bid('did:a', 5), bid('did:b', 1), ...ackRecords(acks)]
    return resolvePlacement(batch(1, delivery), bids, [claim('did:a', 5)], electorate, undefined, electorate)
  }
  test.each([
    { n: 4, ackers: 2, allowed: false, reason: 'waiting for acks 2/3 for replica 0' },
    { n: 4, ackers: 1, allowed: false, reason: 'waiting for acks 1/3 for replica 0' },
    { n: 5, ackers: 3, allowed: true, reason: 'quorum of acks 3/3 for replica 0' },
    { n: 6, ackers: 3, allowed: false, reason: 'waiting for acks 3/4 for replica 0' },
    { n: 6, ackers: 4, allowed: true, reason: 'quorum of acks 4/4 for replica 0' },
  ])('electorate $n, $ackers acks: allowed $allowed', (c) => {
    expect(setup(c.n, c.ackers).gates.get('did:a')).toEqual({ replica: 0, allowed: c.allowed, reason: c.reason })
  })
  test('at-least-once batch and services start at once', () => {
    expect(setup(4, 0, 'at-least-once').gates.get('did:a')).toMatchObject({ allowed: true })
    const e = eligibleOf('did:a', 'did:b')
    expect(resolvePlacement(workload({ replicas: 1 }), [bid('did:a', 5)], [claim('did:a', 5)], e).gates.get('did:a')).toMatchObject({ allowed: true })
  })
  test('acks of a meshlet outside the electorate do not count', () => {
    const electorate = eligibleOf('did:a', 'did:b', 'did:m0')
    const bids = [bid('did:a', 5), ...ackRecords({ 'did:m0': [{ replica: 0, meshlet: 'did:a' }], 'did:x': [{ replica: 0, meshlet: 'did:a' }] })]
    expect(resolvePlacement(batch(), bids, [claim('did:a', 5)], electorate, undefined, electorate).gates.get('did:a')).toMatchObject({ allowed: false, reason: 'waiting for acks 1/2 for replica 0' })
  })
})

describe('acks in a record', () => {
  test('two meshlets named for one replica number: neither counts', () => {
    expect([...validAcks({ acks: [{ replica: 0, meshlet: 'did:a' }, { replica: 0, meshlet: 'did:b' }, { replica: 1, meshlet: 'did:b' }] }, 2)]).toEqual([[1, 'did:b']])
  })
  test('replica numbers outside [0, replicas) are dropped', () => {
    expect([...validAcks({ acks: [{ replica: 2, meshlet: 'did:a' }, { replica: -1, meshlet: 'did:a' }, { replica: 1, meshlet: 'did:a' }] }, 2)]).toEqual([[1, 'did:a']])
  })
  test('only the member\'s earliest record for the cid counts', () => {
    const e = eligibleOf('did:m0')
    const t = tallyAcks(workload(), 1, [decline('did:m0', 'x', { rkey: '3k2', acks: [{ replica: 0, meshlet: 'did:a' }] }), decline('did:m0', 'x', { rkey: '3k1' })], e)
    expect(t.byReplica.size).toBe(0)
  })
})

describe('completions need a kept claim with a quorum', () => {
  const electorate = eligibleOf('did:a', 'did:b', 'did:z')
  const ackA = [{ replica: 0, meshlet: 'did:a' }]
  const exited = status('did:a', 'exited', { exitCode: 0, priority: 5, containerId: 'c1' })
  test('exited with a quorum (2 of 3): completed, the slot is done', () => {
    const p = resolvePlacement(batch(), [bid('did:a', 5, { acks: ackA }), decline('did:b', 'x', { acks: ackA }), bid('did:z', 9)], [exited], electorate, undefined, electorate)
    expect(ids(p.completed)).toEqual(['did:a'])
    expect(p.openSlots).toBe(0)
  })
  test('exited with one ack short of the quorum (1 of 3): invalid, the slot stays open', () => {
    const p = resolvePlacement(batch(), [bid('did:a', 5, { acks: ackA }), decline('did:b', 'x'), bid('did:z', 9)], [exited], electorate, undefined, electorate)
    expect(p.completed).toEqual([])
    expect(p.openSlots).toBe(1)
    expect(p.outcomes.find((o) => o.meshlet === 'did:a' && o.outcome === 'invalid')?.reason).toBe('invalid: completion of replica 0 without a quorum of acks (1/2)')
  })
  test('a forged completion without a bid ends nothing', () => {
    const p = resolvePlacement(batch(), [bid('did:a', 5), bid('did:z', 9)], [claim('did:a', 5), status('did:z', 'exited', { exitCode: 0, priority: 9, bid: undefined })], electorate, undefined, electorate)
    expect(p.completed).toEqual([])
    expect(ids(p.kept)).toEqual(['did:a'])
  })
})

describe('lost slots', () => {
  const electorate = eligibleOf('did:a', 'did:b', 'did:c')
  const quorumForA = ackRecords({ 'did:b': [{ replica: 0, meshlet: 'did:a' }] }).concat(bid('did:a', 5, { acks: [{ replica: 0, meshlet: 'did:a' }] }))
  test('a lapsed holder with a quorum is lost: its slot is not re-run', () => {
    const alive = eligibleOf('did:b', 'did:c')
    const p = resolvePlacement(batch(), [...quorumForA, bid('did:c', 4)], [status('did:a', 'running', { priority: 5 })], alive, undefined, electorate)
    expect(p.lost).toHaveLength(1)
    expect(p.lost[0].reason).toBe('lost: replica 0 was held by did:a with a quorum of acks 2/2, which lapsed (no longer an eligible runner); not re-run (delivery at-most-once)')
    expect(p.openSlots).toBe(0)
    expect(p.next).toEqual([])
  })
  test('a lapsed holder one ack short of a quorum is not lost: the slot is open again', () => {
    const alive = eligibleOf('did:b', 'did:c')
    const p = resolvePlacement(batch(), [bid('did:a', 5, { acks: [{ replica: 0, meshlet: 'did:a' }] }), bid('did:c', 4)], [status('did:a', 'running', { priority: 5 })], alive, undefined, electorate)
    expect(p.lost).toEqual([])
    expect(ids(p.next)).toEqual(['did:c'])
  })
  test('at-least-once: a lapsed holder is re-run', () => {
    const alive = eligibleOf('did:b', 'did:c')
    const p = resolvePlacement(batch(1, 'at-least-once'), [...quorumForA, bid('did:c', 4)], [status('did:a', 'running', { priority: 5 })], alive, undefined, electorate)
    expect(p.lost).toEqual([])
    expect(ids(p.next)).toEqual(['did:c'])
  })
  test('a quorum holder is never evicted by a higher claim for its number', () => {
    const p = resolvePlacement(batch(), [...quorumForA, bid('did:c', 9)], [status('did:a', 'running', { priority: 5 }), claim('did:c', 9)], electorate, undefined, electorate)
    expect(ids(p.kept)).toEqual(['did:a'])
    expect(p.evictions.map((e) => e.reason)).toEqual(['lost claim conflict: replica 0 is held by did:a (quorum of acks 2/2)'])
  })
})

describe('split acks', () => {
  // Electorate of 4 (quorum 3): did:a and did:b both claim replica 0.
  const electorate = eligibleOf('did:a', 'did:b', 'did:c', 'did:d')
  const run = (acks: Record<Did, Ack[]>) => {
    const byMember = new Map(Object.entries(acks))
    const bids = [bid('did:a', 5, { acks: byMember.get('did:a') }), bid('did:b', 4, { acks: byMember.get('did:b') }), decline('did:c', 'x', { acks: byMember.get('did:c') }), decline('did:d', 'x', { acks: byMember.get('did:d') })]
    return resolvePlacement(batch(), bids, [claim('did:a', 5), claim('did:b', 4)], electorate, undefined, electorate)
  }
  const A = [{ replica: 0, meshlet: 'did:a' }]
  const B = [{ replica: 0, meshlet: 'did:b' }]
  test('a lower claim with acks contends (waits) instead of being evicted while nobody holds a quorum', () => {
    const p = run({ 'did:a': A, 'did:b': B })
    expect(ids(p.kept)).toEqual(['did:a'])
    expect(ids(p.contending)).toEqual(['did:b'])
    expect(p.evicted).toEqual([])
    expect(p.gates.get('did:a')!.allowed).toBe(false)
    expect(p.gates.get('did:b')).toEqual({ replica: 0, allowed: false, reason: 'waiting for acks 1/3 for replica 0; contending with did:a' })
  })
  test('a lower claim with no ack visible contends too (acks for it may be on their way)', () => {
    const p = run({ 'did:a': A })
    expect(ids(p.contending)).toEqual(['did:b'])
    expect(p.evicted).toEqual([])
  })
  test('once the number settles (quorum), the other claim is evicted', () => {
    const p = run({ 'did:a': A, 'did:c': A, 'did:d': A })
    expect(ids(p.evicted)).toEqual(['did:b'])
    expect(p.evictions[0].reason).toBe('lost claim conflict: replica 0 is held by did:a (quorum of acks 3/3)')
  })
  test('2-2 with 3 of 4 members acked: nobody may start', () => {
    const p = run({ 'did:a': A, 'did:b': B, 'did:c': A })
    expect(p.gates.get('did:a')!.allowed).toBe(false)
    expect(p.gates.get('did:b')!.allowed).toBe(false)
  })
  test('2-2 with every member acked: nobody can have started; the tiebreak winner may, the other is evicted', () => {
    const p = run({ 'did:a': A, 'did:b': B, 'did:c': A, 'did:d': B })
    const winner = tiebreak(W_CID, 'did:a') < tiebreak(W_CID, 'did:b') ? 'did:a' : 'did:b'
    const loser = winner === 'did:a' ? 'did:b' : 'did:a'
    expect(p.gates.get(winner)).toMatchObject({ allowed: true, reason: 'split acks for replica 0 resolved for it: 2 of 4 acks, no rival can overtake it' })
    expect(ids(p.kept)).toEqual([winner])
    expect(ids(p.evicted)).toEqual([loser])
  })
  test('1-3: the quorum wins even against the higher claim', () => {
    const p = run({ 'did:a': A, 'did:b': B, 'did:c': B, 'did:d': B })
    expect(ids(p.kept)).toEqual(['did:b'])
    expect(p.gates.get('did:b')!.allowed).toBe(true)
  })
})

describe('property: two claimers for one number never both reach a quorum', () => {
  test('any electorate, any order and choice of acks (one per member per number)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.array(fc.constantFrom(0, 1, 2), { minLength: 9, maxLength: 9 }), (n, choice) => {
        const ms = members(n)
        const electorate = eligibleOf(...ms)
        // choice[i]: member i acks claimer 0 (did:m0), claimer 1 (did:m1), or not yet.
        const records = ms.map((m, i) => decline(m, 'x', choice[i] === 2 ? {} : { acks: [{ replica: 0, meshlet: ms[Math.min(choice[i], n - 1)] }] }))
        const t = tallyAcks(workload(), 1, records, electorate)
        const reached = [...(t.byReplica.get(0)?.values() ?? [])].filter((l) => l.length >= quorumOf(n))
        expect(reached.length).toBeLessThanOrEqual(1)
        // And whoever is settled is one meshlet, the same whatever the record order.
        expect(settledHolder(tallyAcks(workload(), 1, [...records].reverse(), electorate), W_CID, 0)).toEqual(settledHolder(t, W_CID, 0))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('settledHolder: an unbeatable lead settles a split without a quorum', () => {
  // Electorate of 10 (quorum 6); did:x and did:y split the acks, `u` members have not acked.
  const tally = (x: number, y: number) => {
    const ms = members(10)
    const records = ms.map((m, i) => decline(m, 'k', i < x ? { acks: [{ replica: 0, meshlet: 'did:x' }] } : i < x + y ? { acks: [{ replica: 0, meshlet: 'did:y' }] } : {}))
    return tallyAcks(workload(), 1, records, eligibleOf(...ms))
  }
  const xFirst = tiebreak(W_CID, 'did:x') < tiebreak(W_CID, 'did:y')
  test.each([
    { x: 6, y: 0, want: 'did:x', by: 'quorum' },
    { x: 5, y: 0, want: undefined, by: undefined }, // 5 of 10, 5 unacked: anyone could still get 5+
    { x: 5, y: 4, want: xFirst ? 'did:x' : undefined, by: 'lead' }, // u = 1: y could reach 5 = x, the tiebreak decides
    { x: 5, y: 3, want: 'did:x', by: 'lead' }, // u = 2: y reaches at most 5... equal, tiebreak
    { x: 4, y: 3, want: undefined, by: undefined }, // u = 3: y could reach 6
    { x: 5, y: 5, want: xFirst ? 'did:x' : 'did:y', by: 'lead' }, // complete tally, tie: the tiebreak
    { x: 4, y: 6, want: 'did:y', by: 'quorum' },
  ])('x $x, y $y', (c) => {
    const st = settledHolder(tally(c.x, c.y), W_CID, 0)
    if (c.x === 5 && c.y === 3) {
      expect(st?.meshlet).toBe(xFirst ? 'did:x' : undefined)
      return
    }
    expect(st?.meshlet).toBe(c.want)
    if (c.want) expect(st?.by).toBe(c.by)
  })

  test('property: partial views never settle one number for two meshlets, and agree with the full view', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 9, maxLength: 9 }),
        fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
        fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
        (n, choice, seenByP, seenByQ) => {
          const ms = members(n)
          const electorate = eligibleOf(...ms)
          const claimers = ['did:x', 'did:y', 'did:z']
          const records = ms.map((m, i) => decline(m, 'k', choice[i] === 3 ? {} : { acks: [{ replica: 0, meshlet: claimers[choice[i]] }] }))
          const full = settledHolder(tallyAcks(workload(), 1, records, electorate), W_CID, 0)
          const p = settledHolder(tallyAcks(workload(), 1, records.filter((_, i) => seenByP[i]), electorate), W_CID, 0)
          const q = settledHolder(tallyAcks(workload(), 1, records.filter((_, i) => seenByQ[i]), electorate), W_CID, 0)
          if (p && q) expect(p.meshlet).toBe(q.meshlet)
          if (p) expect(full?.meshlet).toBe(p.meshlet)
          if (q) expect(full?.meshlet).toBe(q.meshlet)
        },
      ),
      { numRuns: 5000 },
    )
  })
})

describe('split acks: a claimer that does not lead renounces the number', () => {
  // Electorate of 10 (quorum 6): claimers m0 and m1, m9 silent for good (never acks).
  const ms = members(10)
  const electorate = eligibleOf(...ms)
  const records = (renounced: Did[]) =>
    ms.map((m, i) => {
      const acks = i < 5 ? [{ replica: 0, meshlet: 'did:m0' }] : i < 9 ? [{ replica: 0, meshlet: 'did:m1' }] : []
      return decline(m, 'k', { acks, ...(renounced.includes(m) ? { renounced: [0] } : {}) })
    })
  const m1First = tiebreak(W_CID, 'did:m1') < tiebreak(W_CID, 'did:m0')
  test('5-4 with one silent member: settled only if the leader also wins the tiebreak against 4 + 1', () => {
    expect(settledHolder(tallyAcks(workload(), 1, records([]), electorate), W_CID, 0)?.meshlet).toBe(m1First ? undefined : 'did:m0')
  })
  test('once the 4 renounces, the 5 holds it (5 > 1 unacked); the renouncer never holds it, whatever its acks', () => {
    expect(settledHolder(tallyAcks(workload(), 1, records(['did:m1']), electorate), W_CID, 0)).toEqual({ meshlet: 'did:m0', by: 'lead', acks: 5 })
    const both = tallyAcks(workload(), 1, records(['did:m0', 'did:m1']), electorate)
    expect(settledHolder(both, W_CID, 0)).toBeUndefined()
  })
  test('a renunciation counts only in the renouncer\'s own counting record, for numbers in range', () => {
    const recs = records([]).map((r) => (r.meshlet === 'did:m2' ? { ...r, renounced: [0] } : r))
    // m2 "renouncing" for m1 changes nothing: still the 5-4 split.
    expect(settledHolder(tallyAcks(workload(), 1, recs, electorate), W_CID, 0)?.meshlet).toBe(m1First ? undefined : 'did:m0')
    const out = records([]).map((r) => (r.meshlet === 'did:m1' ? { ...r, renounced: [1, -1, 0.5] } : r))
    expect(tallyAcks(workload(), 1, out, electorate).renounced.size).toBe(0)
  })
  test('a renounced claim is evicted and never gated; the leader may start', () => {
    const bids = [bid('did:m0', 5, { acks: [{ replica: 0, meshlet: 'did:m0' }] }), bid('did:m1', 9, { acks: [{ replica: 0, meshlet: 'did:m1' }], renounced: [0] }), ...records([]).slice(2)]
    const p = resolvePlacement(batch(), bids, [claim('did:m0', 5, { replica: 0 }), claim('did:m1', 9, { replica: 0 })], electorate, undefined, electorate)
    expect(ids(p.kept)).toEqual(['did:m0'])
    expect(p.evictions.map((e) => e.reason)).toEqual(['lost claim conflict: renounced replica 0 (split acks led by did:m0)'])
    expect(p.gates.has('did:m1')).toBe(false)
    expect(p.gates.get('did:m0')).toMatchObject({ allowed: true })
  })

  test('property: with a silent member and renunciations seen or not, two views settle a number for two meshlets only if one of them renounced it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 9 }),
        fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 9, maxLength: 9 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 9, maxLength: 9 }),
        fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 9, maxLength: 9 }),
        (n, choice, renounces, seenByP, seenByQ) => {
          const ms = members(n)
          const electorate = eligibleOf(...ms)
          const claimers = ms.slice(0, 3) // claimers are members; the last member is silent for good
          const final = ms.map((m, i) => ({ ack: i === n - 1 || choice[i] === 3 ? undefined : claimers[choice[i]], renounced: i < 3 && renounces[i] }))
          // A view sees a member's record not at all (0), or with its ack (1), its renunciation (2), or both (3).
          const view = (seen: number[]) =>
            ms.flatMap((m, i) => {
              if (seen[i] === 0) return []
              const f = final[i]
              const acks = f.ack && seen[i] !== 2 ? [{ replica: 0, meshlet: f.ack }] : []
              return [decline(m, 'k', { acks, ...(f.renounced && seen[i] >= 2 ? { renounced: [0] } : {}) })]
            })
          const settle = (seen: number[]) => settledHolder(tallyAcks(workload(), 1, view(seen), electorate), W_CID, 0)
          const full = settle(ms.map(() => 3))
          const renounced = (m: Did) => final[ms.indexOf(m)]?.renounced === true
          const p = settle(seenByP)
          const q = settle(seenByQ)
          if (p && q && p.meshlet !== q.meshlet) expect(renounced(p.meshlet) || renounced(q.meshlet)).toBe(true)
          if (p && !renounced(p.meshlet)) expect(full?.meshlet).toBe(p.meshlet)
          if (full) expect(renounced(full.meshlet)).toBe(false)
        },
      ),
      { numRuns: 5000 },
    )
  })
})
