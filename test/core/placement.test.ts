import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { isYielded, replicaIndexFor, resolvePlacement } from '../../src/core/placement.js'
import { tiebreak } from '../../src/core/hash.js'
import type { Bid, StatusState, WorkloadStatus } from '../../src/core/types.js'
import { W_CID, bid, decline, eligibleOf, status, workload } from './fixtures.js'

type CaseOf<A> = A extends fc.Arbitrary<infer T> ? T : never

const all = eligibleOf('did:a', 'did:b', 'did:c', 'did:d')
const ids = (xs: { meshlet: string }[]) => xs.map((x) => x.meshlet)

describe('resolvePlacement (rule 5)', () => {
  test.each<{
    name: string
    replicas: number
    kind?: 'service' | 'batch'
    delivery?: 'at-most-once' | 'at-least-once'
    bids: Bid[]
    statuses: WorkloadStatus[]
    eligible?: string[]
    kept: string[]
    evicted: string[]
    completed?: string[]
    openSlots: number
    next: string[]
    queued: boolean
  }>([
    {
      name: 'no claims yet: the best bids are next',
      replicas: 2,
      bids: [bid('did:a', 1), bid('did:b', 3), bid('did:c', 2)],
      statuses: [],
      kept: [],
      evicted: [],
      openSlots: 2,
      next: ['did:b', 'did:c'],
      queued: false,
    },
    {
      name: 'an existing claim keeps its slot even against a higher late bid',
      replicas: 1,
      bids: [bid('did:a', 1), bid('did:b', 9)],
      statuses: [status('did:a', 'running', { priority: 1 })],
      kept: ['did:a'],
      evicted: [],
      openSlots: 0,
      next: [],
      queued: false,
    },
    {
      name: 'double claim: the higher claim priority is kept, the other evicted',
      replicas: 1,
      bids: [bid('did:a', 4), bid('did:b', 6)],
      statuses: [status('did:a', 'pending', { priority: 4 }), status('did:b', 'pending', { priority: 6 })],
      kept: ['did:b'],
      evicted: ['did:a'],
      openSlots: 0,
      next: [],
      queued: false,
    },
    {
      name: 'a claim whose priority is its bid\'s + 1 is invalid and evicts nobody',
      replicas: 1,
      bids: [bid('did:a', 5), bid('did:b', 4)],
      statuses: [status('did:a', 'running', { priority: 6 }), status('did:b', 'running', { priority: 4 })],
      kept: ['did:b'],
      evicted: [],
      openSlots: 0,
      next: [],
      queued: false,
    },
    {
      name: 'failover: a claim of a meshlet that is no longer eligible dies and the next bidder steps in',
      replicas: 1,
      bids: [bid('did:a', 9), bid('did:b', 5), bid('did:c', 1)],
      statuses: [status('did:a', 'running', { priority: 9 })],
      eligible: ['did:b', 'did:c'],
      kept: [],
      evicted: [],
      openSlots: 1,
      next: ['did:b'],
      queued: false,
    },
    {
      name: 'a meshlet that failed, stopped or exited is never a candidate again for this cid',
      replicas: 2,
      bids: [bid('did:a', 9), bid('did:b', 8), bid('did:c', 7), bid('did:d', 1)],
      statuses: [status('did:a', 'failed'), status('did:b', 'stopped'), status('did:c', 'exited', { exitCode: 0 })],
      kept: [],
      evicted: [],
      openSlots: 2,
      next: ['did:d'],
      queued: true,
    },
    {
      name: 'a meshlet that yielded (lost a claim conflict) is a last-resort candidate, after fresh bidders',
      replicas: 2,
      bids: [bid('did:a', 9), bid('did:b', 1), bid('did:c', 5)],
      statuses: [status('did:a', 'stopped', { message: 'lost claim conflict to did:x (priority 10 vs 9)' }), status('did:c', 'stopped', { message: 'stopped by the owner' })],
      kept: [],
      evicted: [],
      openSlots: 2,
      next: ['did:b', 'did:a'],
      queued: false,
    },
    {
      name: 'a yielded meshlet waits while fresh bidders fill the slots',
      replicas: 1,
      bids: [bid('did:a', 9), bid('did:b', 1)],
      statuses: [status('did:a', 'stopped', { message: 'no longer eligible: heartbeat lapsed' })],
      kept: [],
      evicted: [],
      openSlots: 1,
      next: ['did:b'],
      queued: false,
    },
    {
      name: 'a status for an older cid is no claim and does not block a candidate',
      replicas: 1,
      bids: [bid('did:a', 9)],
      statuses: [status('did:a', 'running', { workload: { uri: workload().uri, cid: 'bafyold' } }), status('did:b', 'running', { workload: { uri: workload().uri, cid: 'bafyold' } })],
      kept: [],
      evicted: [],
      openSlots: 1,
      next: ['did:a'],
      queued: false,
    },
    {
      name: 'batch: an exit-0 replica holds its slot forever',
      replicas: 2,
      kind: 'batch',
      delivery: 'at-least-once',
      bids: [bid('did:a', 9), bid('did:b', 8), bid('did:c', 7)],
      statuses: [status('did:a', 'exited', { exitCode: 0, priority: 9 })],
      eligible: ['did:b', 'did:c'],
      kept: [],
      evicted: [],
      completed: ['did:a'],
      openSlots: 1,
      next: ['did:b'],
      queued: false,
    },
    {
      name: 'batch: completed slots shrink the claims kept',
      replicas: 1,
      kind: 'batch',
      delivery: 'at-least-once',
      bids: [bid('did:a', 1), bid('did:b', 3)],
      statuses: [status('did:a', 'exited', { exitCode: 0, priority: 1 }), status('did:b', 'running', { priority: 3 })],
      kept: [],
      evicted: ['did:b'],
      completed: ['did:a'],
      openSlots: 0,
      next: [],
      queued: false,
    },
    {
      name: 'batch: a run that exited non-zero is done too (batch jobs are not re-run elsewhere)',
      replicas: 1,
      kind: 'batch',
      delivery: 'at-least-once',
      bids: [bid('did:a', 9), bid('did:b', 1)],
      statuses: [status('did:a', 'exited', { exitCode: 1, priority: 9 })],
      kept: [],
      evicted: [],
      completed: ['did:a'],
      openSlots: 0,
      next: [],
      queued: false,
    },
    {
      name: 'batch: a replica that ran and failed (OOM) is done; one that never started frees the slot',
      replicas: 2,
      kind: 'batch',
      delivery: 'at-least-once',
      bids: [bid('did:a', 9), bid('did:b', 5), bid('did:c', 1)],
      statuses: [status('did:a', 'failed', { exitCode: 137, containerId: 'c1', priority: 9 }), status('did:b', 'failed', { message: 'image not found', priority: 5 })],
      kept: [],
      evicted: [],
      completed: ['did:a'],
      openSlots: 1,
      next: ['did:c'],
      queued: false,
    },
    {
      name: 'declines are never candidates: queued when nobody can take a slot',
      replicas: 2,
      bids: [bid('did:a', 5), decline('did:b', 'busy'), decline('did:c', 'busy')],
      statuses: [],
      kept: [],
      evicted: [],
      openSlots: 2,
      next: ['did:a'],
      queued: true,
    },
  ])('$name', (c) => {
    const p = resolvePlacement(workload({ replicas: c.replicas, kind: c.kind ?? 'service', delivery: c.delivery ?? 'at-most-once' }), c.bids, c.statuses, c.eligible ? eligibleOf(...c.eligible) : all, undefined, all)
    expect(ids(p.kept)).toEqual(c.kept)
    expect(ids(p.evicted)).toEqual(c.evicted)
    expect(ids(p.completed)).toEqual(c.completed ?? [])
    expect(p.openSlots).toBe(c.openSlots)
    expect(ids(p.next)).toEqual(c.next)
    expect(p.queued).toBe(c.queued)
  })

  test('outcomes explain claims, evictions, candidates, lapses and declines', () => {
    const p = resolvePlacement(
      workload({ replicas: 1 }),
      [bid('did:a', 4), bid('did:b', 6), bid('did:c', 2), decline('did:d', 'thermal throttling'), bid('did:z', 99)],
      [status('did:a', 'pending', { priority: 4, replica: 0 }), status('did:b', 'running', { priority: 6, replica: 0 }), status('did:z', 'running', { priority: 99 })],
      eligibleOf('did:a', 'did:b', 'did:c', 'did:d'),
      undefined,
      eligibleOf('did:a', 'did:b', 'did:c', 'did:d', 'did:z'),
    )
    const by = new Map(p.outcomes.map((o) => [o.meshlet, o]))
    expect(by.get('did:b')).toMatchObject({ outcome: 'won', reason: 'holds replica 0 (running): claim rank 1 of 2, replicas 1' })
    expect(by.get('did:a')).toMatchObject({ outcome: 'lost', reason: 'evicted: lost claim conflict: replica 0 is held by did:b (priority 6 vs 4)' })
    expect(p.evictions[0].reason).toBe('lost claim conflict: replica 0 is held by did:b (priority 6 vs 4)')
    expect(by.get('did:c')).toMatchObject({ outcome: 'lost', reason: 'rank 3 of 3, replicas 1: all slots are held (by did:b); waiting in case one frees' })
    expect(by.get('did:d')).toMatchObject({ outcome: 'declined', reason: 'declined: thermal throttling' })
    const z = p.outcomes.find((o) => o.meshlet === 'did:z')
    expect(z).toMatchObject({ outcome: 'lost' })
    expect(z!.reason).toMatch(/^claim lapsed: did:z is no longer an eligible runner/)
  })

  test('next in line is a win; an outranked candidate names who is ahead', () => {
    const p = resolvePlacement(workload({ replicas: 1 }), [bid('did:a', 4), bid('did:b', 6)], [], all)
    const by = new Map(p.outcomes.map((o) => [o.meshlet, o]))
    expect(by.get('did:b')).toMatchObject({ outcome: 'won', reason: 'rank 1 of 2, replicas 1: next in line for a free slot (priority 6)' })
    expect(by.get('did:a')).toMatchObject({ outcome: 'lost', reason: 'rank 2 of 2, replicas 1: outranked by did:b (priority 6 vs 4)' })
  })

  test('equal claim priorities break on the same hash tiebreak as bids', () => {
    const statuses = ['did:a', 'did:b', 'did:c'].map((m) => status(m, 'pending', { priority: 5 }))
    const p = resolvePlacement(workload({ replicas: 1 }), ['did:a', 'did:b', 'did:c'].map((m) => bid(m, 5)), statuses, all)
    const expected = ['did:a', 'did:b', 'did:c'].sort((x, y) => (tiebreak(W_CID, x) < tiebreak(W_CID, y) ? -1 : 1))[0]
    expect(ids(p.kept)).toEqual([expected])
  })
})

describe('replicaIndexFor', () => {
  test.each<[(number | undefined)[], number, number]>([
    [[], 0, 0],
    [[0], 0, 1],
    [[0, 2], 0, 1],
    [[1, 2], 0, 0],
    [[0, 2], 1, 3],
    [[], 2, 2],
    [[undefined, 0], 0, 1],
  ])('kept replicas %j, position %i -> %i', (used, position, expected) => {
    const kept = used.map((r, i) => status(`did:${i}`, 'running', r === undefined ? {} : { replica: r }))
    expect(replicaIndexFor(kept, position)).toBe(expected)
  })
})

describe('placement properties', () => {
  const meshlets = ['did:plc:a', 'did:plc:b', 'did:plc:c', 'did:plc:d', 'did:plc:e']
  const states: StatusState[] = ['pending', 'pulling', 'starting', 'running', 'exited', 'failed', 'stopped']
  const arbCase = fc.record({
    replicas: fc.integer({ min: 1, max: 4 }),
    kind: fc.constantFrom<'service' | 'batch'>('service', 'batch'),
    bids: fc.array(
      fc.record({ m: fc.constantFrom(...meshlets), p: fc.integer({ min: 0, max: 4 }), rkey: fc.integer({ min: 1, max: 3 }), decline: fc.boolean(), old: fc.boolean() }),
      { maxLength: 12 },
    ),
    statuses: fc.array(
      fc.record({
        m: fc.constantFrom(...meshlets),
        state: fc.constantFrom(...states),
        p: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        exit: fc.constantFrom(0, 1),
        old: fc.boolean(),
        message: fc.constantFrom(undefined, 'lost claim conflict to did:plc:x (priority 3 vs 1)', 'stopped by the owner'),
      }),
      { maxLength: 6 },
    ),
    eligible: fc.subarray(meshlets),
  })
  const build = (c: CaseOf<typeof arbCase>) => {
    const w = workload({ replicas: c.replicas, kind: c.kind })
    const ref = (old: boolean) => ({ uri: w.uri, cid: old ? 'bafyold' : w.cid })
    const bids = c.bids.map((b) => (b.decline ? decline(b.m, 'no', { rkey: `3k${b.rkey}`, workload: ref(b.old) }) : bid(b.m, b.p, { rkey: `3k${b.rkey}`, workload: ref(b.old) })))
    // One status record per meshlet (its rkey is derived from the workload).
    const statuses = [...new Map(c.statuses.map((s) => [s.m, status(s.m, s.state, { priority: s.p, exitCode: s.exit, message: s.message, workload: ref(s.old) })])).values()]
    return { w, bids: [...new Map(bids.map((b) => [b.uri, b])).values()], statuses, elig: eligibleOf(...c.eligible) }
  }

  test('independent of arrival order and duplicated records', () => {
    fc.assert(
      fc.property(arbCase, fc.func(fc.integer()), (c, f) => {
        const { w, bids, statuses, elig } = build(c)
        const base = resolvePlacement(w, bids, statuses, elig)
        const shuffle = <T,>(xs: T[]) => xs.map((x, i) => ({ x, k: f(i) })).sort((a, b) => a.k - b.k).map((e) => e.x)
        const again = resolvePlacement(w, shuffle([...bids, ...bids]), shuffle([...statuses, ...statuses]), elig)
        expect(again).toEqual(base)
      }),
      { numRuns: 500 },
    )
  })

  test('safety: kept <= replicas, kept + completed + next <= replicas, kept are live eligible claims, next have no status', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const { w, bids, statuses, elig } = build(c)
        const p = resolvePlacement(w, bids, statuses, elig)
        expect(p.kept.length).toBeLessThanOrEqual(w.replicas)
        expect(p.kept.length + Math.min(p.completed.length, w.replicas) + p.next.length).toBeLessThanOrEqual(w.replicas)
        expect(p.openSlots).toBeGreaterThanOrEqual(0)
        for (const s of p.kept) {
          expect(elig.has(s.meshlet)).toBe(true)
          expect(['pending', 'pulling', 'starting', 'running']).toContain(s.state)
          expect(s.workload.cid).toBe(w.cid)
        }
        // Only meshlets without a status, or that yielded to the protocol, may be next.
        const barred = new Set(statuses.filter((s) => s.workload.cid === w.cid && !isYielded(s)).map((s) => s.meshlet))
        for (const b of p.next) {
          expect(barred.has(b.meshlet)).toBe(false)
          expect(elig.has(b.meshlet)).toBe(true)
          expect(b.decline).toBeUndefined()
        }
        const holders = [...p.kept, ...p.completed].map((s) => s.meshlet).concat(p.next.map((b) => b.meshlet))
        expect(new Set(holders).size).toBe(holders.length)
        if (p.queued) expect(p.next.length).toBeLessThan(p.openSlots)
      }),
      { numRuns: 1000 },
    )
  })
})
