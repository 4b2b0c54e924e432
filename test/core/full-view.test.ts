// A full view (core/view.ts caps) remembers which repos' bids and statuses about a workload it gave
// up, and decideWorkload then holds back everything that adds this meshlet or vouches for others
// (offer, claim, ack) while still letting it withdraw and release: it fails safe (no claim made
// blind to a rival's) and quiet (an own bid the view did not keep is not written again and again).
import { describe, expect, test } from 'vitest'
import { decideWorkload, type DecideInput } from '../../src/core/decide.js'
import { CommuneView, MAX_DROPPED_PAIRS } from '../../src/core/view.js'
import { NSID, type Bid, type RecordEvent, type WorkloadStatus } from '../../src/core/types.js'
import { W_URI, bid, eligibleOf, status, workload } from './fixtures.js'

const ME = 'did:me'
const capacity = { cpuMillisFree: 2000, memoryMbFree: 1000 }
const T0 = 1_000_000
const OPEN = T0 + 100
const CLOSED = T0 + 6000

function input(over: Partial<DecideInput> = {}): DecideInput {
  return {
    workload: workload({ replicas: 1 }),
    bids: [],
    statuses: [],
    eligible: eligibleOf(ME, 'did:a'),
    firstSeenAt: T0,
    now: OPEN,
    self: { meshlet: ME, owner: 'did:me-owner', draining: false, recovering: false },
    offer: { kind: 'bid', priority: 500, capacity },
    ...over,
  }
}

describe('decideWorkload on a view that gave up records (dropped)', () => {
  test('its own bid not kept: no second bid and no wake-up to retry; the reason says why', () => {
    const d = decideWorkload(input({ dropped: new Set([ME]) }))
    expect(d.actions).toEqual([])
    expect(d.wakeAt).toBeUndefined()
    expect(d.heldBack).toMatch(/view is full and did not keep every record of did:me about this workload: bid held back/)
    // The same view with nothing dropped bids and wakes at the window's close.
    const ok = decideWorkload(input())
    expect(ok.actions).toEqual([{ type: 'bid', priority: 500, capacity }])
    expect(ok.wakeAt).toBe(T0 + 5000)
    expect(ok.heldBack).toBeUndefined()
  })

  test("a rival's records not kept: the winner by its view does not claim", () => {
    const over = { now: CLOSED, bids: [bid(ME, 900, { rkey: '3kme1' }), bid('did:a', 100)] }
    expect(decideWorkload(input(over)).actions).toMatchObject([{ type: 'claim', replica: 0 }])
    const d = decideWorkload(input({ ...over, dropped: new Set(['did:a']) }))
    expect(d.actions).toEqual([])
    expect(d.heldBack).toMatch(/did:a .*claim held back/)
  })

  test("a stranger's records not kept (a flood) change nothing; a member outside the eligible set but in the electorate does", () => {
    const over = { now: CLOSED, bids: [bid(ME, 900, { rkey: '3kme1' })] }
    expect(decideWorkload(input({ ...over, dropped: new Set(['did:stranger']) })).actions).toMatchObject([{ type: 'claim' }])
    const electorate = eligibleOf(ME, 'did:a', 'did:lapsed')
    expect(decideWorkload(input({ ...over, electorate, dropped: new Set(['did:lapsed']) })).actions).toEqual([])
  })

  test('its own service claim no longer counted on a view that dropped records: released, as a yield', () => {
    // Its bid (the record the claim stands on) is not in the view: the claim does not count.
    const claim = status(ME, 'running', { priority: 900, bid: { uri: bid(ME, 900, { rkey: '3kme1' }).uri, cid: bid(ME, 900, { rkey: '3kme1' }).cid } })
    const over = { now: CLOSED, bids: [bid('did:a', 100)], statuses: [claim, status('did:a', 'running', { priority: 100 })] }
    expect(decideWorkload(input(over)).actions).toEqual([])
    const d = decideWorkload(input({ ...over, dropped: new Set([ME]) }))
    expect(d.actions).toEqual([{ type: 'release', reason: "lost claim conflict: this peer's view is full and no longer holds every record its claim stands on" }])
    // A claim its view still counts is kept.
    const counted = decideWorkload(input({ ...over, bids: [bid(ME, 900, { rkey: '3kme1' })], statuses: [claim], dropped: new Set(['did:a']) }))
    expect(counted.actions).toEqual([])
    expect(counted.holders).toEqual([ME])
  })

  test('releases and withdrawals still go out: taking itself out is always safe', () => {
    const mine: WorkloadStatus = status(ME, 'running', { priority: 5, bid: { uri: bid(ME, 5, { rkey: '3kme1' }).uri, cid: bid(ME, 5, { rkey: '3kme1' }).cid } })
    const d = decideWorkload(input({ eligible: eligibleOf('did:a'), statuses: [mine], dropped: new Set([ME]) }))
    expect(d.actions).toMatchObject([{ type: 'release' }])
    expect(d.heldBack).toBeUndefined()
    const old: Bid = bid(ME, 1, { rkey: '3kme1', workload: { uri: W_URI, cid: 'bafyold' } })
    const w = decideWorkload(input({ bids: [old], dropped: new Set([ME]) }))
    expect(w.actions).toMatchObject([{ type: 'withdraw', rkey: '3kme1' }])
    expect(w.heldBack).toMatch(/bid held back/)
  })
})

function putBid(b: Bid): RecordEvent {
  return { op: 'put', uri: b.uri, did: b.meshlet, collection: NSID.bid, rkey: b.rkey, cid: b.cid, record: { collection: NSID.bid, value: b } }
}

describe('CommuneView.droppedFor', () => {
  test('names the repos whose bids about a workload the caps refused or evicted; forgotten with the workload', () => {
    const v = new CommuneView({ maxRecords: 3 })
    v.apply({ op: 'put', uri: W_URI, did: 'did:plc:owner', collection: NSID.workload, rkey: '3kw0000000001', cid: 'bafycurrent', record: { collection: NSID.workload, value: workload() } }, 1)
    v.apply(putBid(bid('did:a', 1, { rkey: '3ka5' })), 1)
    v.apply(putBid(bid('did:b', 1, { rkey: '3kb1' })), 1)
    expect(v.droppedFor(W_URI)).toBeUndefined()
    // Full, every repo holding one: the tie goes to the smallest key, so did:a's bid is evicted for did:c's.
    v.apply(putBid(bid('did:c', 1, { rkey: '3kc1' })), 1)
    expect(v.bidsFor(W_URI).map((b) => b.meshlet).sort()).toEqual(['did:b', 'did:c'])
    expect(v.droppedFor(W_URI)).toEqual(new Set(['did:a']))
    // did:c's second bid makes its group the largest: its highest key, the new one, is refused.
    v.apply(putBid(bid('did:c', 1, { rkey: '3kc2' })), 1)
    expect(v.bidsFor(W_URI).map((b) => b.rkey).sort()).toEqual(['3kb1', '3kc1'])
    expect(v.droppedFor(W_URI)).toEqual(new Set(['did:a', 'did:c']))
    v.apply({ op: 'delete', uri: W_URI, did: 'did:plc:owner', collection: NSID.workload, rkey: '3kw0000000001' }, 2)
    expect(v.droppedFor(W_URI)).toBeUndefined()
  })

  test('holds at most maxRecords (workload, repo) pairs: the oldest workloads are forgotten first', () => {
    const v = new CommuneView({ maxRecords: 2 })
    for (let i = 0; i < 10; i++) v.apply(putBid(bid('did:flood', 1, { rkey: `3kf${i}`, workload: { uri: `at://did:plc:owner/${NSID.workload}/w${i}`, cid: 'x' } })), 1)
    const remembered = Array.from({ length: 10 }, (_, i) => v.droppedFor(`at://did:plc:owner/${NSID.workload}/w${i}`)).filter(Boolean)
    expect(remembered).toHaveLength(2)
    expect(v.droppedFor(`at://did:plc:owner/${NSID.workload}/w9`)).toEqual(new Set(['did:flood']))
  })

  test('a large view still remembers at most MAX_DROPPED_PAIRS: a flood about made-up workloads stays bounded', () => {
    const v = new CommuneView({ maxRecords: MAX_DROPPED_PAIRS + 10 })
    const about = (i: number) => `at://did:plc:owner/${NSID.workload}/w${i}`
    const total = 2 * MAX_DROPPED_PAIRS + 20
    for (let i = 0; i < total; i++) v.apply(putBid(bid('did:flood', 1, { rkey: `3kf${String(i).padStart(7, '0')}`, workload: { uri: about(i), cid: 'x' } })), 1)
    // Past the record bound every new bid is refused (its key is the flooder's highest): one pair each.
    const dropped = total - (MAX_DROPPED_PAIRS + 10)
    expect(dropped).toBeGreaterThan(MAX_DROPPED_PAIRS)
    expect(v.droppedFor(about(total - 1))).toEqual(new Set(['did:flood']))
    expect(v.droppedFor(about(total - MAX_DROPPED_PAIRS))).toEqual(new Set(['did:flood']))
    expect(v.droppedFor(about(total - MAX_DROPPED_PAIRS - 1))).toBeUndefined()
  })
})
