// The decline budget (docs/protocol.md, Quotas): past it a decline is not written, except where a
// batch at-most-once member needs a record to ack in; withdrawals still happen.
import { describe, expect, test } from 'vitest'
import { decideWorkload, type DecideInput } from '../../src/core/decide.js'
import { declineCounts } from '../../src/core/decline-budget.js'
import { bid, decline, eligibleOf, status, workload, W_URI } from './fixtures.js'

const ME = 'did:me'
const T0 = 1_000_000
const NO = { kind: 'decline', reason: 'over quota: owner did:plc:owner already holds 1 of the 1 containers' } as const
const everyone = eligibleOf(ME, 'did:a', 'did:b')

function input(over: Partial<DecideInput> = {}): DecideInput {
  return {
    workload: workload({ replicas: 1 }),
    bids: [],
    statuses: [],
    eligible: everyone,
    electorate: everyone,
    firstSeenAt: T0,
    now: T0 + 100,
    self: { meshlet: ME, owner: 'did:me-owner', draining: false, recovering: false },
    offer: NO,
    ...over,
  }
}

describe('quiet declines', () => {
  test('window open: a decline is written within the budget and not past it', () => {
    expect(decideWorkload(input()).actions).toEqual([{ type: 'decline', reason: NO.reason }])
    expect(decideWorkload(input({ quietDecline: true })).actions).toEqual([])
  })
  test('a bid is never silenced by the flag', () => {
    const capacity = { cpuMillisFree: 1000, memoryMbFree: 1000 }
    expect(decideWorkload(input({ quietDecline: true, offer: { kind: 'bid', priority: 5, capacity } })).actions).toEqual([{ type: 'bid', priority: 5, capacity }])
  })
  test('window closed, open slot, no record: silent past the budget', () => {
    expect(decideWorkload(input({ now: T0 + 6000, quietDecline: true })).actions).toEqual([])
    expect(decideWorkload(input({ now: T0 + 6000 })).actions).toEqual([{ type: 'decline', reason: NO.reason }])
  })
  test('next in line but can no longer run it: the bid is withdrawn, the decline left unwritten', () => {
    const mine = bid(ME, 500, { rkey: '3kme1' })
    const d = decideWorkload(input({ now: T0 + 6000, bids: [mine], quietDecline: true }))
    expect(d.actions).toEqual([{ type: 'withdraw', rkey: '3kme1', reason: `can no longer run it: ${NO.reason}` }])
  })
  test('batch at-most-once: a member with no record still declines past the budget, so it can ack', () => {
    const w = workload({ replicas: 1, kind: 'batch' })
    const d = decideWorkload(input({ workload: w, now: T0 + 6000, quietDecline: true, bids: [bid('did:a', 900)], statuses: [status('did:a', 'pending', { priority: 900 })] }))
    expect(d.actions).toEqual([{ type: 'decline', reason: NO.reason }])
  })
})

describe('declineCounts', () => {
  test('counts own declines of known current workloads per owner; not bids, not others, not stale cids', () => {
    const w = workload()
    const other = workload({ uri: `${W_URI}x`, owner: 'did:plc:other' })
    const byUri = new Map([w, other].map((x) => [x.uri, x]))
    const counts = declineCounts(
      [
        decline(ME, 'no'),
        decline(ME, 'no', { uri: 'at://did:me/commune.scheduler.bid/2', workload: { uri: other.uri, cid: other.cid } }),
        decline(ME, 'old', { uri: 'at://did:me/commune.scheduler.bid/3', workload: { uri: w.uri, cid: 'bafyold' } }),
        bid(ME, 10, { uri: 'at://did:me/commune.scheduler.bid/4' }),
        decline('did:a', 'no'),
        decline(ME, 'gone', { uri: 'at://did:me/commune.scheduler.bid/5', workload: { uri: 'at://nobody', cid: 'x' } }),
      ],
      ME,
      (u) => byUri.get(u),
    )
    expect(counts).toEqual(new Map([[w.owner, 1], ['did:plc:other', 1]]))
  })
})
