// A late offer (a slot opened after the bid window closed: a holder lapsed, peers waiting in line
// all offer at once) waits a window of its own before it claims, so the late offerers see each
// other's offers and the same one claims (docs/protocol.md, "Claims and convergence").
import { describe, expect, test } from 'vitest'
import { decideWorkload, type DecideInput } from '../../src/core/decide.js'
import type { Bid, WorkloadStatus } from '../../src/core/types.js'
import { bid, decline, eligibleOf, status, workload } from './fixtures.js'

const ME = 'did:me'
const iso = (ms: number) => new Date(ms).toISOString()
const WINDOW = 5000 // fixtures' bidWindowMs
const LATE = 60_000 // when the slot opened and this peer offered, long after its window (0..5000)

function input(bids: Bid[], now: number, statuses: WorkloadStatus[] = []): DecideInput {
  return {
    workload: workload({ replicas: 1 }),
    bids,
    statuses,
    // did:gone held the replica and lapsed: it is no longer eligible
    eligible: eligibleOf(ME, 'did:b'),
    firstSeenAt: 0,
    now,
    self: { meshlet: ME, owner: 'did:me-owner', draining: false, recovering: false },
    offer: { kind: 'bid', priority: 5, capacity: { cpuMillisFree: 1000, memoryMbFree: 1000 } },
  }
}
const mine = bid(ME, 5, { createdAt: iso(LATE) })
const lapsed = status('did:gone', 'running', { priority: 9 })

describe('a late offer waits a window of its own', () => {
  test('alone in line so far: no claim until a window after its offer, with a wake-up then', () => {
    const d = decideWorkload(input([mine, bid('did:gone', 9)], LATE + 200, [lapsed]))
    expect(d.actions).toEqual([])
    expect(d.wakeAt).toBe(LATE + WINDOW)
    expect(d.self?.reason).toMatch(/next in line/)
  })

  test('its window over: it claims', () => {
    const d = decideWorkload(input([mine], LATE + WINDOW, [lapsed]))
    expect(d.actions).toMatchObject([{ type: 'claim', replica: 0, priority: 5 }])
    expect(d.wakeAt).toBeUndefined()
  })

  test('every eligible peer has offered: the best one claims at once, the other waits in line', () => {
    expect(decideWorkload(input([mine, bid('did:b', 3, { createdAt: iso(LATE + 100) })], LATE + 300, [lapsed])).actions).toMatchObject([{ type: 'claim', replica: 0 }])
    const outranked = decideWorkload(input([mine, bid('did:b', 7, { createdAt: iso(LATE + 100) })], LATE + 300, [lapsed]))
    expect(outranked.actions).toEqual([])
    expect(outranked.wakeAt).toBeUndefined()
    // a decline is an answer too
    expect(decideWorkload(input([mine, decline('did:b', 'busy')], LATE + 300, [lapsed])).actions).toMatchObject([{ type: 'claim' }])
  })

  test('an offer made inside the window claims as soon as the window closes (no second wait)', () => {
    const early = bid(ME, 5, { createdAt: iso(WINDOW - 1) })
    expect(decideWorkload(input([early], WINDOW + 1)).actions).toMatchObject([{ type: 'claim' }])
  })

  test('an offer dated after now (this clock stepped back) does not stall the claim', () => {
    const ahead = bid(ME, 5, { createdAt: iso(LATE + 10_000) })
    expect(decideWorkload(input([ahead], LATE)).actions).toMatchObject([{ type: 'claim' }])
  })
})
