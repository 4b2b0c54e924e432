import { describe, expect, test } from 'vitest'
import { decideWorkload, truncateUtf8, type DecideInput, type Offer, type PeerAction } from '../../src/core/decide.js'
import type { Bid, WorkloadStatus } from '../../src/core/types.js'
import { W_URI, bid, decline, eligibleOf, status, workload } from './fixtures.js'

const ME = 'did:me'
const capacity = { cpuMillisFree: 2000, memoryMbFree: 1000 }
const BID: Offer = { kind: 'bid', priority: 500, capacity }
const NO: Offer = { kind: 'decline', reason: 'insufficient memory: needs 4096 MiB, 1200 MiB free' }
const T0 = 1_000_000
const OPEN = T0 + 100 // window is 5000 ms
const CLOSED = T0 + 6000

function input(over: Partial<DecideInput> & { bids?: Bid[]; statuses?: WorkloadStatus[] } = {}): DecideInput {
  return {
    workload: workload({ replicas: 1 }),
    bids: [],
    statuses: [],
    eligible: eligibleOf(ME, 'did:a', 'did:b'),
    firstSeenAt: T0,
    now: OPEN,
    self: { meshlet: ME, owner: 'did:me-owner', draining: false, recovering: false },
    offer: BID,
    ...over,
  }
}

const myBid = (p = 500, over: Partial<Bid> = {}) => bid(ME, p, { rkey: '3kme1', ...over })
const oldRef = { uri: W_URI, cid: 'bafyold' }
/** A status of this meshlet backed by myBid(). */
const mine = (state: WorkloadStatus['state'], over: Partial<WorkloadStatus> = {}) => status(ME, state, { bid: { uri: myBid().uri, cid: myBid().cid }, ...over })

describe('decideWorkload (rule 9)', () => {
  test.each<{ name: string; in: DecideInput; phase: string; actions: PeerAction[] | ((a: PeerAction[]) => void); wakeAt?: number }>([
    { name: 'not eligible: no bid', in: input({ eligible: eligibleOf('did:a') }), phase: 'ineligible', actions: [] },
    {
      name: 'not eligible while holding a claim: release',
      in: input({ eligible: eligibleOf('did:a'), statuses: [mine('running', { priority: 5 })] }),
      phase: 'ineligible',
      actions: (a) => {
        expect(a).toHaveLength(1)
        expect(a[0]).toMatchObject({ type: 'release' })
        expect((a[0] as { reason: string }).reason).toMatch(/^no longer eligible: /)
      },
    },
    { name: 'window open, no record: bid', in: input(), phase: 'bidding', actions: [{ type: 'bid', priority: 500, capacity }], wakeAt: T0 + 5000 },
    { name: 'window open, cannot run it: decline', in: input({ offer: NO }), phase: 'bidding', actions: [{ type: 'decline', reason: NO.kind === 'decline' ? NO.reason : '' }], wakeAt: T0 + 5000 },
    { name: 'window open, already bid: nothing', in: input({ bids: [myBid()] }), phase: 'bidding', actions: [], wakeAt: T0 + 5000 },
    { name: 'window open, already declined: nothing even if it could run it now', in: input({ bids: [decline(ME, 'busy', { rkey: '3kme1' })] }), phase: 'bidding', actions: [], wakeAt: T0 + 5000 },
    {
      name: 'records for an older cid are withdrawn, then a fresh bid',
      in: input({ bids: [myBid(1, { workload: oldRef })] }),
      phase: 'bidding',
      actions: [
        { type: 'withdraw', rkey: '3kme1', reason: 'bid was for an older version of the workload (cid bafyold)' },
        { type: 'bid', priority: 500, capacity },
      ],
      wakeAt: T0 + 5000,
    },
    {
      name: 'window closed and next in line: claim with its bid, priority and replica 0',
      in: input({ now: CLOSED, bids: [myBid(500), bid('did:a', 100)] }),
      phase: 'placed',
      actions: [{ type: 'claim', bid: { uri: myBid().uri, cid: myBid().cid }, priority: 500, replica: 0 }],
    },
    {
      name: 'closes early when everyone answered',
      in: input({ now: OPEN, bids: [myBid(500), bid('did:a', 100), decline('did:b', 'busy')] }),
      phase: 'placed',
      actions: [{ type: 'claim', bid: { uri: myBid().uri, cid: myBid().cid }, priority: 500, replica: 0 }],
    },
    {
      name: 'next in line but can no longer run it: withdraw the bid and decline',
      in: input({ now: CLOSED, offer: NO, bids: [myBid(500), bid('did:a', 100)] }),
      phase: 'placed',
      actions: [
        { type: 'withdraw', rkey: '3kme1', reason: `can no longer run it: ${NO.kind === 'decline' ? NO.reason : ''}` },
        { type: 'decline', reason: NO.kind === 'decline' ? NO.reason : '' },
      ],
    },
    { name: 'outranked: nothing', in: input({ now: CLOSED, bids: [myBid(100), bid('did:a', 500)] }), phase: 'placed', actions: [] },
    { name: 'holding the kept claim: nothing', in: input({ now: CLOSED, bids: [myBid(500)], statuses: [mine('running', { priority: 500 })] }), phase: 'placed', actions: [] },
    {
      name: 'evicted by a higher claim: release naming the winner',
      in: input({ now: CLOSED, bids: [myBid(100), bid('did:a', 500)], statuses: [mine('pending', { priority: 100 }), status('did:a', 'pending', { priority: 500 })] }),
      phase: 'placed',
      actions: [{ type: 'release', reason: 'lost claim conflict: replica 0 is held by did:a (priority 500 vs 100)' }],
    },
    {
      name: 'queued and declined earlier, capacity freed: withdraw the decline and bid again',
      in: input({ now: CLOSED, bids: [decline(ME, 'busy', { rkey: '3kme1' }), decline('did:a', 'busy'), decline('did:b', 'busy')] }),
      phase: 'queued',
      actions: [
        { type: 'withdraw', rkey: '3kme1', reason: 'capacity freed: re-offering' },
        { type: 'bid', priority: 500, capacity },
      ],
    },
    {
      name: 'queued and still cannot run it: nothing',
      in: input({ now: CLOSED, offer: NO, bids: [decline(ME, 'busy', { rkey: '3kme1' }), decline('did:a', 'busy'), decline('did:b', 'busy')] }),
      phase: 'queued',
      actions: [],
    },
    {
      name: 'declined, but the workload is placed elsewhere: no re-offer',
      in: input({ now: CLOSED, bids: [decline(ME, 'busy', { rkey: '3kme1' }), bid('did:a', 1)], statuses: [status('did:a', 'running', { priority: 1 })] }),
      phase: 'placed',
      actions: [],
    },
    { name: 'missed the window, open slot: bid now', in: input({ now: CLOSED, bids: [decline('did:a', 'busy')] }), phase: 'queued', actions: [{ type: 'bid', priority: 500, capacity }] },
    { name: 'missed the window, slots full: nothing', in: input({ now: CLOSED, bids: [bid('did:a', 1)], statuses: [status('did:a', 'running', { priority: 1 })] }), phase: 'placed', actions: [] },
    {
      name: 'failed before on this version: never a candidate again, no new bid',
      in: input({ now: CLOSED, bids: [myBid(900)], statuses: [mine('failed')] }),
      phase: 'queued',
      actions: [],
    },
    {
      name: 'evicted earlier, a slot frees and nobody else can take it: claim again',
      in: input({
        now: CLOSED,
        workload: workload({ replicas: 2 }),
        bids: [myBid(100), bid('did:a', 500), decline('did:b', 'busy')],
        statuses: [mine('stopped', { message: 'lost claim conflict to did:x (priority 600 vs 100)' }), status('did:a', 'running', { priority: 500, replica: 0 })],
      }),
      phase: 'placed',
      actions: [{ type: 'claim', bid: { uri: myBid().uri, cid: myBid().cid }, priority: 100, replica: 1 }],
    },
    {
      name: 'stopped by its owner: never claims this version again',
      in: input({ now: CLOSED, bids: [myBid(100), decline('did:a', 'busy'), decline('did:b', 'busy')], statuses: [mine('stopped', { message: 'stopped by the owner' })] }),
      phase: 'queued',
      actions: [],
    },
    {
      name: 'draining while holding a claim: release so another meshlet takes it',
      in: input({ now: CLOSED, offer: { kind: 'decline', reason: 'draining' }, self: { meshlet: ME, owner: 'o', draining: true, recovering: false }, bids: [myBid(500)], statuses: [mine('running', { priority: 500 })] }),
      phase: 'placed',
      actions: [{ type: 'release', reason: 'draining: handing this replica over to another meshlet' }],
    },
    {
      name: 'recovering, replaced by others while away: release',
      in: input({ now: CLOSED, self: { meshlet: ME, owner: 'o', draining: false, recovering: true }, bids: [myBid(900), bid('did:a', 100)], statuses: [mine('running', { priority: 900 }), status('did:a', 'running', { priority: 100 })] }),
      phase: 'placed',
      actions: [{ type: 'release', reason: 'replaced while this meshlet was away: 1 other live claim(s) hold all 1 slot(s)' }],
    },
    {
      name: 'recovering, nobody replaced it: keep',
      in: input({ now: CLOSED, workload: workload({ replicas: 2 }), self: { meshlet: ME, owner: 'o', draining: false, recovering: true }, bids: [myBid(900), bid('did:a', 100)], statuses: [mine('running', { priority: 900 }), status('did:a', 'running', { priority: 100, replica: 1 })] }),
      phase: 'placed',
      actions: [],
    },
    {
      name: 'a held claim means the window already closed for this peer',
      in: input({ now: OPEN, bids: [myBid(100), bid('did:a', 500)], statuses: [mine('pending', { priority: 100 }), status('did:a', 'pending', { priority: 500 })] }),
      phase: 'placed',
      actions: [{ type: 'release', reason: 'lost claim conflict: replica 0 is held by did:a (priority 500 vs 100)' }],
    },
  ])('$name', (c) => {
    const d = decideWorkload(c.in)
    expect(d.phase).toBe(c.phase)
    if (typeof c.actions === 'function') c.actions(d.actions)
    else expect(d.actions).toEqual(c.actions)
    expect(d.wakeAt).toBe(c.wakeAt)
  })

  test('the second claimer of one round takes the next free replica index', () => {
    const w = workload({ replicas: 3 })
    const d = decideWorkload(input({ workload: w, now: CLOSED, bids: [myBid(500), bid('did:a', 900), bid('did:b', 1), bid('did:x', 5)], statuses: [status('did:x', 'running', { priority: 5, replica: 0 })], eligible: eligibleOf(ME, 'did:a', 'did:b', 'did:x') }))
    // kept uses 0; did:a is next[0] -> 1; ME is next[1] -> 2.
    expect(d.actions).toEqual([{ type: 'claim', bid: { uri: myBid().uri, cid: myBid().cid }, priority: 500, replica: 2 }])
  })

  test('reports holders and this meshlet\'s own outcome', () => {
    const d = decideWorkload(input({ now: CLOSED, bids: [myBid(100), bid('did:a', 500)], statuses: [status('did:a', 'running', { priority: 500 })] }))
    expect(d.holders).toEqual(['did:a'])
    expect(d.self).toMatchObject({ meshlet: ME, outcome: 'lost' })
    expect(d.self!.reason).toMatch(/all slots are held \(by did:a\)/)
  })

  test('while the window is open, "next in line" is marked provisional', () => {
    const d = decideWorkload(input({ bids: [myBid(500)] }))
    expect(d.self?.reason).toMatch(/^bid window open: /)
  })

  test('same input, same output; once its actions are applied the next evaluation is quiet', () => {
    const i = input({ now: CLOSED, bids: [myBid(500), bid('did:a', 100)] })
    const first = decideWorkload(i)
    expect(decideWorkload(i)).toEqual(first)
    const claim = first.actions[0]
    if (claim.type !== 'claim') throw new Error('expected a claim')
    const applied = decideWorkload({ ...i, statuses: [mine('pending', { priority: claim.priority, replica: claim.replica, bid: claim.bid })] })
    expect(applied.actions).toEqual([])
    expect(applied.holders).toEqual([ME])
  })

  test('a long decline reason is cut to the lexicon limit of 512 bytes without splitting a character', () => {
    const d = decideWorkload(input({ offer: { kind: 'decline', reason: 'é'.repeat(400) } }))
    const a = d.actions[0]
    expect(a.type).toBe('decline')
    if (a.type === 'decline') {
      expect(new TextEncoder().encode(a.reason).length).toBeLessThanOrEqual(512)
      expect(a.reason).toBe('é'.repeat(256))
    }
    expect(truncateUtf8('a😀b', 4)).toBe('a')
  })

  test('an out-of-range priority is clamped to what the lexicon accepts', () => {
    const d = decideWorkload(input({ offer: { kind: 'bid', priority: Number.NaN, capacity } }))
    expect(d.actions).toEqual([{ type: 'bid', priority: 0, capacity }])
  })
})
