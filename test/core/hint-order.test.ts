// notify (issue 16): a hinted record never applies an older version over a newer one, and the
// firehose, delivering the commits in between later, never undoes a hint with an older version.
import { describe, expect, it } from 'vitest'
import { HintedRevs } from '../../src/core/hint-order.js'

const DID = 'did:plc:alice'
const PATH = 'commune.scheduler.bid/3k1'

describe('HintedRevs.judge', () => {
  it('applies a record the view does not hold, above the floor', () => {
    expect(new HintedRevs().judge(DID, PATH, { rev: '3k5', cid: 'b', seenCid: 'a', floor: '3k4' })).toBe('apply')
    expect(new HintedRevs().judge(DID, PATH, { rev: '3k5', cid: 'b', seenCid: undefined, floor: undefined })).toBe('apply')
  })

  it('a record the view holds at that cid is a duplicate, whatever its rev', () => {
    expect(new HintedRevs().judge(DID, PATH, { rev: '3k9', cid: 'b', seenCid: 'b', floor: '3k1' })).toBe('duplicate')
  })

  it('a proof at or below the repo floor is stale (the view already has that commit or newer)', () => {
    const h = new HintedRevs()
    expect(h.judge(DID, PATH, { rev: '3k4', cid: 'b', seenCid: 'c', floor: '3k4' })).toBe('stale')
    expect(h.judge(DID, PATH, { rev: '3k3', cid: 'b', seenCid: 'c', floor: '3k4' })).toBe('stale')
  })

  it('a hint older than, or as old as, an applied hint of the same record is stale', () => {
    const h = new HintedRevs()
    h.applied(DID, PATH, '3k7')
    expect(h.judge(DID, PATH, { rev: '3k6', cid: 'x', seenCid: 'y', floor: undefined })).toBe('stale')
    expect(h.judge(DID, PATH, { rev: '3k7', cid: 'x', seenCid: 'y', floor: undefined })).toBe('stale')
    expect(h.judge(DID, PATH, { rev: '3k8', cid: 'x', seenCid: 'y', floor: undefined })).toBe('apply')
    // Other records and repos are not affected.
    expect(h.judge(DID, 'commune.scheduler.bid/other', { rev: '3k6', cid: 'x', seenCid: undefined, floor: undefined })).toBe('apply')
    expect(h.judge('did:plc:bob', PATH, { rev: '3k6', cid: 'x', seenCid: undefined, floor: undefined })).toBe('apply')
  })
})

describe('HintedRevs.superseded', () => {
  it('skips stream ops on the record older than the hint, then lets the stream take over once it caught up', () => {
    const h = new HintedRevs()
    h.applied(DID, PATH, '3k7')
    expect(h.tracked).toBe(1)
    expect(h.superseded(DID, PATH, '3k6')).toBe(true)
    expect(h.superseded(DID, 'commune.scheduler.bid/other', '3k6')).toBe(false)
    // The stream reaches the hinted commit: not skipped (the emitter dedups by cid), entry done.
    expect(h.superseded(DID, PATH, '3k7')).toBe(false)
    expect(h.tracked).toBe(0)
    expect(h.superseded(DID, PATH, '3k1')).toBe(false)
  })

  it('a newer stream op is never skipped', () => {
    const h = new HintedRevs()
    h.applied(DID, PATH, '3k7')
    expect(h.superseded(DID, PATH, '3k8')).toBe(false)
  })

  it('forget drops a repo entirely', () => {
    const h = new HintedRevs()
    h.applied(DID, PATH, '3k7')
    h.applied(DID, 'commune.scheduler.bid/2', '3k7')
    h.applied('did:plc:bob', PATH, '3k7')
    h.forget(DID)
    expect(h.tracked).toBe(1)
    expect(h.superseded(DID, PATH, '3k1')).toBe(false)
    expect(h.superseded('did:plc:bob', PATH, '3k1')).toBe(true)
  })
})
