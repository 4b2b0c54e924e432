// decideWorkload's side of batch at-most-once: the ack action, the start gate, drain and hygiene.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { LATE_SPLIT_GRACES, decideWorkload, splitGraceMs, type DecideInput } from '../../src/core/decide.js'
import type { Ack, Bid, Did, WorkloadStatus } from '../../src/core/types.js'
import { W_URI, bid, decline, eligibleOf, status, workload } from './fixtures.js'

const ME = 'did:me'
const T0 = 1_000_000
const CLOSED = T0 + 6000
const capacity = { cpuMillisFree: 2000, memoryMbFree: 1000 }
const myBid = (p = 500, over: Partial<Bid> = {}) => bid(ME, p, { rkey: '3kme1', ...over })
const mine = (state: WorkloadStatus['state'], over: Partial<WorkloadStatus> = {}) => status(ME, state, { bid: { uri: myBid().uri, cid: myBid().cid }, priority: 500, ...over })
const everyone = eligibleOf(ME, 'did:a', 'did:b')

function input(over: Partial<DecideInput> = {}): DecideInput {
  return {
    workload: workload({ replicas: 1, kind: 'batch' }),
    bids: [],
    statuses: [],
    eligible: everyone,
    electorate: everyone,
    firstSeenAt: T0,
    now: CLOSED,
    self: { meshlet: ME, owner: 'did:me-owner', draining: false, recovering: false },
    offer: { kind: 'bid', priority: 500, capacity },
    ...over,
  }
}
const ackA: Ack[] = [{ replica: 0, meshlet: 'did:a' }]

describe('the ack rule', () => {
  test('window closed, did:a kept for replica 0, every live member heard: ack it in the own counting record', () => {
    const d = decideWorkload(input({ bids: [myBid(100), bid('did:a', 900), decline('did:b', 'busy')], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions).toEqual([{ type: 'ack', rkey: '3kme1', acks: ackA, reason: 'replica 0 -> did:a' }])
  })
  test('a live member not heard yet: wait for its offer, or a grace after the window', () => {
    const w = workload({ replicas: 1, kind: 'batch' })
    const ackAt = T0 + w.bidWindowMs + splitGraceMs(w)
    const at = (now: number) => decideWorkload(input({ now, bids: [myBid(100), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(at(ackAt - 1).actions).toEqual([])
    expect(at(ackAt - 1).wakeAt).toBe(ackAt)
    expect(at(ackAt).actions).toEqual([{ type: 'ack', rkey: '3kme1', acks: ackA, reason: 'replica 0 -> did:a' }])
    // A member that is not alive (not eligible) is not waited for.
    const asleep = decideWorkload(input({ bids: [myBid(100), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })], eligible: eligibleOf(ME, 'did:a') }))
    expect(asleep.actions).toEqual([{ type: 'ack', rkey: '3kme1', acks: ackA, reason: 'replica 0 -> did:a' }])
  })
  test('a decline carries acks too', () => {
    const d = decideWorkload(input({ bids: [decline(ME, 'busy', { rkey: '3kme1' }), bid('did:a', 900), decline('did:b', 'busy')], statuses: [status('did:a', 'pending', { priority: 900 })], offer: { kind: 'decline', reason: 'busy' } }))
    expect(d.actions).toEqual([{ type: 'ack', rkey: '3kme1', acks: ackA, reason: 'replica 0 -> did:a' }])
  })
  test('already acked replica 0 for someone else: never changed', () => {
    const d = decideWorkload(input({ bids: [myBid(100, { acks: [{ replica: 0, meshlet: 'did:b' }] }), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions).toEqual([])
  })
  test('acks accumulate per number, sorted, the old ones kept', () => {
    const w = workload({ replicas: 2, kind: 'batch' })
    const d = decideWorkload(input({ workload: w, bids: [myBid(100, { acks: [{ replica: 1, meshlet: 'did:b' }] }), bid('did:a', 900), bid('did:b', 800)], statuses: [status('did:a', 'pending', { priority: 900 }), status('did:b', 'pending', { priority: 800, replica: 1 })] }))
    expect(d.actions).toEqual([{ type: 'ack', rkey: '3kme1', acks: [ackA[0], { replica: 1, meshlet: 'did:b' }], reason: 'replica 0 -> did:a' }])
  })
  test('window open: no ack yet', () => {
    const d = decideWorkload(input({ now: T0 + 100, bids: [myBid(100), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions.filter((a) => a.type === 'ack')).toEqual([])
  })
  test('services and at-least-once batch: no acks', () => {
    for (const w of [workload({ replicas: 1 }), workload({ replicas: 1, kind: 'batch', delivery: 'at-least-once' })]) {
      const d = decideWorkload(input({ workload: w, bids: [myBid(100), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
      expect(d.actions).toEqual([])
    }
  })
  test('not in the electorate: no ack', () => {
    const d = decideWorkload(input({ electorate: eligibleOf('did:a', 'did:b'), bids: [myBid(100), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions).toEqual([])
  })
  test('a member with no record offers, so it has a record to ack in', () => {
    const d = decideWorkload(input({ bids: [bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions).toEqual([{ type: 'bid', priority: 500, capacity }])
  })
})

describe('start gate in the decision', () => {
  test('own claim without a quorum: waiting, with the count', () => {
    const d = decideWorkload(input({ bids: [myBid(500, { acks: [{ replica: 0, meshlet: ME }] }), bid('did:a', 1)], statuses: [mine('pending')] }))
    expect(d.start).toEqual({ replica: 0, allowed: false, reason: 'waiting for acks 1/2 for replica 0' })
  })
  test('own claim with a quorum: may start', () => {
    const d = decideWorkload(input({ bids: [myBid(500, { acks: [{ replica: 0, meshlet: ME }] }), bid('did:a', 1, { acks: [{ replica: 0, meshlet: ME }] })], statuses: [mine('pending')] }))
    expect(d.start).toEqual({ replica: 0, allowed: true, reason: 'quorum of acks 2/2 for replica 0' })
  })
  test('no own claim: no gate', () => {
    expect(decideWorkload(input({ bids: [myBid(100), bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] })).start).toBeUndefined()
  })
})

describe('drain and hygiene', () => {
  const drain = { meshlet: ME, owner: 'o', draining: true, recovering: false }
  const quorum = [myBid(500, { acks: [{ replica: 0, meshlet: ME }] }), bid('did:a', 1, { acks: [{ replica: 0, meshlet: ME }] })]
  test('draining, batch claim still pending without a quorum: released', () => {
    const d = decideWorkload(input({ self: drain, offer: { kind: 'decline', reason: 'draining' }, bids: [myBid(500)], statuses: [mine('pending')] }))
    expect(d.actions).toEqual([{ type: 'release', reason: 'draining: handing this replica over to another meshlet' }])
  })
  test('draining, batch claim holding a quorum: kept (it may have started)', () => {
    const d = decideWorkload(input({ self: drain, offer: { kind: 'decline', reason: 'draining' }, bids: quorum, statuses: [mine('pending')] }))
    expect(d.actions.filter((a) => a.type === 'release')).toEqual([])
  })
  test('draining, batch replica running: never handed over', () => {
    const d = decideWorkload(input({ workload: workload({ replicas: 1, kind: 'batch', delivery: 'at-least-once' }), self: drain, offer: { kind: 'decline', reason: 'draining' }, bids: [myBid(500)], statuses: [mine('running')] }))
    expect(d.actions).toEqual([])
  })
  test('a bid its own status references is never withdrawn, even for an older cid', () => {
    const old = { uri: W_URI, cid: 'bafyold' }
    const d = decideWorkload(input({ bids: [myBid(500, { workload: old })], statuses: [mine('exited', { workload: old })] }))
    expect(d.actions.filter((a) => a.type === 'withdraw')).toEqual([])
  })
  test('a record carrying acks is not withdrawn to re-offer', () => {
    const w = workload({ replicas: 2, kind: 'batch' })
    const d = decideWorkload(input({ workload: w, bids: [decline(ME, 'busy', { rkey: '3kme1', acks: ackA }), bid('did:a', 900), decline('did:b', 'busy')], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions.filter((a) => a.type === 'withdraw')).toEqual([])
  })
})

describe('property: the real ack rule, any interleaving and partial views, never two starts', () => {
  test('two claimers for replica 0; members ack from random partial views', () => {
    const ms = ['did:a', 'did:b', 'did:c', 'did:d', 'did:e']
    const claims = [status('did:a', 'pending', { priority: 5 }), status('did:b', 'pending', { priority: 7 })]
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.array(fc.record({ who: fc.nat(4), seesA: fc.boolean(), seesB: fc.boolean(), seeMask: fc.nat(31) }), { maxLength: 20 }), (n, steps) => {
        const members = ms.slice(0, n)
        const electorate = eligibleOf(...members)
        const records = new Map<Did, Bid>(members.map((m) => [m, m === 'did:a' ? bid(m, 5) : m === 'did:b' ? bid(m, 7) : decline(m, 'x')]))
        const w = workload({ replicas: 1, kind: 'batch' })
        const allowedEver = new Set<Did>()
        for (const step of steps) {
          const me = members[step.who % n]
          const seen = [...records.values()].filter((r, i) => r.meshlet === me || (step.seeMask >> i) & 1)
          const statuses = claims.filter((s) => (s.meshlet === 'did:a' ? step.seesA : step.seesB) || s.meshlet === me)
          const d = decideWorkload({ workload: w, bids: seen, statuses, eligible: electorate, electorate, firstSeenAt: 0, now: 10_000, self: { meshlet: me, owner: 'o', draining: false, recovering: false }, offer: { kind: 'decline', reason: 'x' } })
          if (d.start?.allowed) allowedEver.add(me)
          for (const a of d.actions) if (a.type === 'ack') records.set(me, { ...records.get(me)!, acks: a.acks })
        }
        // Every peer, with the full view, at the end.
        for (const me of ['did:a', 'did:b']) {
          const d = decideWorkload({ workload: w, bids: [...records.values()], statuses: claims, eligible: electorate, electorate, firstSeenAt: 0, now: 10_000, self: { meshlet: me, owner: 'o', draining: false, recovering: false }, offer: { kind: 'decline', reason: 'x' } })
          if (d.start?.allowed) allowedEver.add(me)
        }
        expect(allowedEver.size).toBeLessThanOrEqual(1)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('split acks: renouncing a number', () => {
  // Electorate of 7 (quorum 4): me (500) and did:a claim replica 0; m0..m4 vote. u = unacked members.
  const ms = ['did:m0', 'did:m1', 'did:m2', 'did:m3', 'did:m4']
  const electorate = eligibleOf(ME, 'did:a', ...ms)
  const w = workload({ replicas: 1, kind: 'batch' })
  const grace = splitGraceMs(w)
  const claimedAt = CLOSED
  const ack = (m: Did): Ack[] => [{ replica: 0, meshlet: m }]
  const setup = (aPriority: number, aAckers: number, meAckers: number, now: number, zAckers = 0) => {
    const to = (i: number) => (i < aAckers ? ack('did:a') : i < aAckers + meAckers ? ack(ME) : i < aAckers + meAckers + zAckers ? ack('did:z') : [])
    const voters = ms.map((m, i) => decline(m, 'busy', { acks: to(i) }))
    const bids = [myBid(500, { acks: ack(ME) }), bid('did:a', aPriority, { acks: ack('did:a') }), ...voters]
    const statuses = [mine('pending', { replica: 0, startedAt: new Date(claimedAt).toISOString() }), status('did:a', 'pending', { priority: aPriority, replica: 0 })]
    return decideWorkload(input({ workload: w, bids, statuses, eligible: electorate, electorate, now }))
  }
  test('a better-ranked rival that could settle (3 acks > 1 unacked): wait out the grace, then renounce, record first', () => {
    const early = setup(900, 2, 2, claimedAt + grace - 1)
    expect(early.actions).toEqual([])
    expect(early.wakeAt).toBe(claimedAt + grace)
    const d = setup(900, 2, 2, claimedAt + grace)
    expect(d.actions.map((a) => a.type)).toEqual(['ack', 'release'])
    expect(d.actions[0]).toMatchObject({ rkey: '3kme1', acks: ack(ME), renounced: [0], reason: 'renounced replica 0' })
    expect(d.actions[1]).toMatchObject({ reason: expect.stringMatching(/^lost claim conflict: renounced replica 0 to did:a \(split acks 3 vs 3 of 7\)/) })
    expect(d.start).toMatchObject({ allowed: false })
  })
  test('a rival with too few acks to settle (3, with 3 unacked) is no reason to renounce', () => {
    const d = setup(900, 2, 0, claimedAt + grace)
    expect(d.actions).toEqual([])
    expect(d.wakeAt).toBe(claimedAt + (1 + LATE_SPLIT_GRACES) * grace)
  })
  test('a worse-ranked rival: keep the claim, even with fewer acks, until the late grace, and then only if this claim cannot settle', () => {
    expect(setup(100, 2, 2, claimedAt + grace).actions).toEqual([])
    expect(setup(100, 2, 2, claimedAt + (1 + LATE_SPLIT_GRACES) * grace).actions).toEqual([]) // 3 acks > 1 unacked: it could
    expect(setup(100, 2, 0, claimedAt + (1 + LATE_SPLIT_GRACES) * grace - 1, 1).actions).toEqual([])
    const late = setup(100, 2, 0, claimedAt + (1 + LATE_SPLIT_GRACES) * grace, 1) // 1 ack, 2 unacked: it cannot; did:a (3) can
    expect(late.actions.map((a) => a.type)).toEqual(['ack', 'release'])
  })
  test('a number already renounced is never claimed again', () => {
    const d = decideWorkload(input({ workload: workload({ replicas: 2, kind: 'batch' }), bids: [myBid(500, { renounced: [0] })], statuses: [mine('stopped', { replica: 0, message: 'lost claim conflict: renounced replica 0 to did:a' })] }))
    expect(d.actions.find((a) => a.type === 'claim')).toMatchObject({ replica: 1 })
  })
})
