// burst (issue 16): which open offers count as work in hand (committed resources, pendingReplicas).
import { describe, expect, test } from 'vitest'
import { openBidCounts } from '../../src/services/burst-spread.js'

describe('openBidCounts', () => {
  const bid = { kind: 'bid' }
  test.each<[string, Parameters<typeof openBidCounts>[0], boolean]>([
    ['a bid whose own record is not in view yet', { phase: 'bidding', offer: bid }, true],
    ['a bid that leads so far', { phase: 'bidding', offer: bid, self: { outcome: 'won' } }, true],
    ['a bid the bids in view already outrank', { phase: 'bidding', offer: bid, self: { outcome: 'lost' } }, false],
    ['a decline', { phase: 'bidding', offer: { kind: 'decline' } }, false],
    ['a bid whose window closed (a claim counts through its status)', { phase: 'claimed', offer: bid, self: { outcome: 'won' } }, false],
  ])('%s: %s', (_what, d, counts) => {
    expect(openBidCounts(d)).toBe(counts)
  })
})
