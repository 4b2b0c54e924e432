// The view is bounded by approximate bytes as well as records (docs/protocol.md, Quotas): big
// records from one repo evict that repo's own highest keys, never a small honest repo's records.
import { describe, expect, test } from 'vitest'
import { CommuneView, approxRecordBytes, RECORD_OVERHEAD_BYTES } from '../../src/core/view.js'
import { NSID, type RecordEvent, type Workload } from '../../src/core/types.js'
import { workload } from './fixtures.js'

function putWorkload(owner: string, rkey: string, pad: number): { event: RecordEvent; w: Workload } {
  const uri = `at://${owner}/${NSID.workload}/${rkey}`
  const w = workload({ uri, owner, rkey, env: pad > 0 ? [{ name: 'PAD', value: 'x'.repeat(pad) }] : [] })
  return { w, event: { op: 'put', uri, did: owner, collection: NSID.workload, rkey, cid: w.cid, record: { collection: NSID.workload, value: w } } }
}

describe('byte-bounded view', () => {
  test('a record costs its JSON plus a fixed overhead', () => {
    const { w } = putWorkload('did:plc:a', '3k1', 1000)
    expect(approxRecordBytes(w.uri, w)).toBe(JSON.stringify(w).length + w.uri.length + RECORD_OVERHEAD_BYTES)
  })
  test('60 KB records from a flooder stop at the byte cap; its highest keys go, the honest repo stays whole', () => {
    const big = putWorkload('did:plc:flood', '3k0', 60_000)
    const perBig = approxRecordBytes(big.w.uri, big.w)
    const v = new CommuneView({ maxBytes: perBig * 10 + 5_000, maxRecords: 1_000_000 })
    const honest = ['3ka1', '3ka2', '3ka3'].map((k) => putWorkload('did:plc:honest', k, 0))
    for (const h of honest) v.apply(h.event, 1)
    for (let i = 0; i < 40; i++) v.apply(putWorkload('did:plc:flood', `3k${String(i).padStart(3, '0')}`, 60_000).event, 1)
    expect(v.bytes()).toBeLessThanOrEqual(perBig * 10 + 5_000)
    for (const h of honest) expect(v.workload(h.w.uri)).toBeDefined()
    const kept = v.workloads().filter((w) => w.owner === 'did:plc:flood').map((w) => w.rkey).sort()
    // The lowest keys are kept (what arrived last with a higher key is the one refused).
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => `3k${String(i).padStart(3, '0')}`))
    expect(kept.length).toBeGreaterThanOrEqual(9)
    expect(v.rejection(`at://did:plc:flood/${NSID.workload}/3k039`)?.reason).toMatch(/limit of \d+ record bytes and did:plc:flood\/commune\.scheduler\.workload holds the most/)
  })
  test('one record that needs the room of several evicts several, and each counts as dropped', () => {
    const small = putWorkload('did:plc:many', '3k000', 0)
    const per = approxRecordBytes(small.w.uri, small.w)
    const v = new CommuneView({ maxBytes: per * 10, maxRecords: 1_000_000 })
    for (let i = 0; i < 10; i++) v.apply(putWorkload('did:plc:many', `3k${String(i).padStart(3, '0')}`, 0).event, 1)
    expect(v.droppedRecords()).toBe(0)
    const big = putWorkload('did:plc:one', '3k1', per * 3 - per + 10) // a little over 3 small records
    const change = v.apply(big.event, 1)
    expect(v.workload(big.w.uri)).toBeDefined()
    const gone = 10 - v.workloads().filter((w) => w.owner === 'did:plc:many').length
    expect(gone).toBeGreaterThanOrEqual(3)
    expect(v.droppedRecords()).toBe(gone)
    expect(change.full).toMatch(/record bytes and did:plc:many/)
  })
  test('deleting records frees their bytes', () => {
    const v = new CommuneView()
    const a = putWorkload('did:plc:a', '3k1', 5000)
    v.apply(a.event, 1)
    expect(v.bytes()).toBe(approxRecordBytes(a.w.uri, a.w))
    v.apply({ op: 'delete', uri: a.w.uri, did: 'did:plc:a', collection: NSID.workload, rkey: '3k1' }, 2)
    expect(v.bytes()).toBe(0)
  })
})
