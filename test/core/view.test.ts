import { describe, expect, test } from 'vitest'
import { CommuneView } from '../../src/core/view.js'
import { NSID, type RecordEvent, type SchedulerRecord } from '../../src/core/types.js'
import { W_URI, bid, status, workload } from './fixtures.js'

function put(uri: string, record: SchedulerRecord, cid = 'bafyrec'): RecordEvent {
  const [, , did, collection, rkey] = uri.split('/')
  return { op: 'put', uri, did, collection, rkey, cid, record }
}
function del(uri: string): RecordEvent {
  const [, , did, collection, rkey] = uri.split('/')
  return { op: 'delete', uri, did, collection, rkey }
}
function reject(uri: string, reason: string): RecordEvent {
  const [, , did, collection, rkey] = uri.split('/')
  return { op: 'rejected', uri, did, collection, rkey, reason }
}

const W2 = 'at://did:plc:owner/commune.scheduler.workload/3kw0000000002'

describe('CommuneView (rule 10)', () => {
  test('a put stores, a newer put replaces, a delete removes', () => {
    const v = new CommuneView()
    const c1 = v.apply(put(W_URI, { collection: NSID.workload, value: workload({ replicas: 1 }) }), 10)
    expect(c1).toMatchObject({ op: 'put', collection: NSID.workload, uri: W_URI, workloadUri: W_URI, did: 'did:plc:owner' })
    v.apply(put(W_URI, { collection: NSID.workload, value: workload({ replicas: 3, cid: 'bafyv2' }) }), 20)
    expect(v.workload(W_URI)?.replicas).toBe(3)
    expect(v.workloads()).toHaveLength(1)
    v.apply(del(W_URI), 30)
    expect(v.workload(W_URI)).toBeUndefined()
    expect(v.size()).toEqual({ workloads: 0, bids: 0, statuses: 0, records: 0 })
  })

  test('firstSeen is per version and is not moved by a re-delivery', () => {
    const v = new CommuneView()
    v.apply(put(W_URI, { collection: NSID.workload, value: workload() }), 100)
    v.apply(put(W_URI, { collection: NSID.workload, value: workload() }), 900)
    v.apply(put(W_URI, { collection: NSID.workload, value: workload({ cid: 'bafyv2' }) }), 1000)
    expect(v.firstSeen(W_URI, workload().cid)).toBe(100)
    expect(v.firstSeen(W_URI, 'bafyv2')).toBe(1000)
    expect(v.firstSeen(W_URI, 'bafynever')).toBeUndefined()
  })

  test('bids and statuses are indexed by workload, and a delete reports which workload changed', () => {
    const v = new CommuneView()
    const b1 = bid('did:a', 1)
    const b2 = bid('did:b', 2, { workload: { uri: W2, cid: 'x' } })
    const s1 = status('did:a', 'running')
    v.apply(put(b1.uri, { collection: NSID.bid, value: b1 }), 1)
    v.apply(put(b2.uri, { collection: NSID.bid, value: b2 }), 1)
    v.apply(put(s1.uri, { collection: NSID.workloadStatus, value: s1 }), 1)
    expect(v.bidsFor(W_URI)).toEqual([b1])
    expect(v.bidsFor(W2)).toEqual([b2])
    expect(v.statusesFor(W_URI)).toEqual([s1])
    expect(v.statusesBy('did:a')).toEqual([s1])
    expect(v.statusesBy('did:b')).toEqual([])
    expect(v.apply(del(b1.uri), 2)).toMatchObject({ op: 'delete', workloadUri: W_URI })
    expect(v.bidsFor(W_URI)).toEqual([])
    expect(v.size()).toMatchObject({ bids: 1, statuses: 1 })
  })

  test('a status update overwrites in place; re-pointing a record moves it between indexes', () => {
    const v = new CommuneView()
    v.apply(put(status('did:a', 'pending').uri, { collection: NSID.workloadStatus, value: status('did:a', 'pending') }), 1)
    v.apply(put(status('did:a', 'running').uri, { collection: NSID.workloadStatus, value: status('did:a', 'running') }), 2)
    expect(v.statusesFor(W_URI).map((s) => s.state)).toEqual(['running'])
    const moved = status('did:a', 'running', { workload: { uri: W2, cid: 'x' } })
    v.apply(put(moved.uri, { collection: NSID.workloadStatus, value: moved }), 3)
    expect(v.statusesFor(W_URI)).toEqual([])
    expect(v.statusesFor(W2)).toEqual([moved])
    expect(v.allStatuses()).toEqual([moved])
  })

  test('a rejected version removes the previous valid one and records why', () => {
    const v = new CommuneView()
    v.apply(put(W_URI, { collection: NSID.workload, value: workload() }), 1)
    const ch = v.apply(reject(W_URI, 'replicas must be >= 1'), 2)
    expect(ch).toMatchObject({ op: 'rejected', workloadUri: W_URI })
    expect(v.workload(W_URI)).toBeUndefined()
    expect(v.rejection(W_URI)).toEqual({ uri: W_URI, did: 'did:plc:owner', collection: NSID.workload, reason: 'replicas must be >= 1' })
    // A fixed version clears the rejection.
    v.apply(put(W_URI, { collection: NSID.workload, value: workload({ cid: 'bafyfixed' }) }), 3)
    expect(v.rejection(W_URI)).toBeUndefined()
    expect(v.workload(W_URI)?.cid).toBe('bafyfixed')
  })

  test('a rejected bid stops counting', () => {
    const v = new CommuneView()
    const b = bid('did:a', 1)
    v.apply(put(b.uri, { collection: NSID.bid, value: b }), 1)
    v.apply(reject(b.uri, 'priority: must be an integer'), 2)
    expect(v.bidsFor(W_URI)).toEqual([])
    expect(v.rejections()).toHaveLength(1)
  })

  test('rejections are capped, oldest forgotten first', () => {
    const v = new CommuneView({ maxRejections: 1000 })
    for (let i = 0; i < 5000; i++) v.apply(reject(`at://did:spam/${NSID.workload}/r${i}`, 'garbage'), i)
    expect(v.rejections()).toHaveLength(1000)
    expect(v.rejection(`at://did:spam/${NSID.workload}/r0`)).toBeUndefined()
    expect(v.rejection(`at://did:spam/${NSID.workload}/r4999`)).toBeDefined()
  })

  test('linkage, membership and profiles', () => {
    const v = new CommuneView()
    v.apply(put(`at://did:o/${NSID.meshlet}/did:m`, { collection: NSID.meshlet, value: { owner: 'did:o', meshlet: 'did:m' } }), 1)
    v.apply(put(`at://did:m/${NSID.meshletOwner}/self`, { collection: NSID.meshletOwner, value: { owner: 'did:o', meshlet: 'did:m' } }), 1)
    v.apply(put(`at://did:m/${NSID.membership}/self`, { collection: NSID.membership, value: { meshlet: 'did:m', members: ['did:o', 'did:p'] } }), 1)
    const profile = { meshlet: 'did:m', endpoint: 'http://127.0.0.1:1', roles: [], labels: [], capabilities: [], cpuMillis: 1000, memoryMb: 1024, updatedAt: '2025-01-01T00:00:00Z' }
    v.apply(put(`at://did:m/${NSID.profile}/self`, { collection: NSID.profile, value: profile }), 1)
    expect(v.links()).toEqual([{ owner: 'did:o', meshlet: 'did:m' }])
    expect(v.owners()).toEqual([{ owner: 'did:o', meshlet: 'did:m' }])
    expect(v.memberships()).toEqual([{ meshlet: 'did:m', members: ['did:o', 'did:p'] }])
    expect(v.profile('did:m')).toEqual(profile)
    expect(v.size().records).toBe(4)
    v.apply(del(`at://did:m/${NSID.profile}/self`), 2)
    expect(v.profile('did:m')).toBeUndefined()
    expect(v.profiles()).toEqual([])
  })

  test('thousands of workloads: per-workload lookups stay indexed', () => {
    const v = new CommuneView()
    for (let i = 0; i < 5000; i++) {
      const wuri = `at://did:plc:owner/${NSID.workload}/w${i}`
      v.apply(put(wuri, { collection: NSID.workload, value: workload({ uri: wuri }) }), i)
      for (const m of ['did:a', 'did:b']) {
        const b = bid(m, i, { uri: `at://${m}/${NSID.bid}/b${i}`, rkey: `b${i}`, workload: { uri: wuri, cid: 'c' } })
        v.apply(put(b.uri, { collection: NSID.bid, value: b }), i)
      }
    }
    expect(v.size()).toMatchObject({ workloads: 5000, bids: 10000 })
    expect(v.bidsFor(`at://did:plc:owner/${NSID.workload}/w4321`).map((b) => b.priority)).toEqual([4321, 4321])
  })
})
