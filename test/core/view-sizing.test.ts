// The view's default bound is sized for a commune, not just against floods (issue 16): a default peer
// keeps every record of 10,000 live workloads at the sizes real peers write (full-length DIDs, CIDs,
// digests, a status history), and says so when its bound does drop something.
import { describe, expect, test } from 'vitest'
import { createHash } from 'node:crypto'
import { CommuneView, DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS } from '../../src/core/view.js'
import { statusRkey } from '../../src/core/hash.js'
import { NSID, type Bid, type RecordEvent, type WorkloadStatus } from '../../src/core/types.js'
import { workload } from './fixtures.js'

const b32 = (seed: string, n: number) =>
  createHash('sha256')
    .update(seed)
    .digest('hex')
    .replace(/[^a-z2-7]/g, 'a')
    .padEnd(n, 'q')
    .slice(0, n)
/** A did:plc as the directory mints them (24 base32 characters). */
const did = (seed: string) => `did:plc:${b32(seed, 24)}`
/** A CIDv1 base32 string of real length (59 characters). */
const cid = (seed: string) => `bafyrei${b32(`c${seed}`, 52)}`
/** A TID-length record key (13 characters). */
const tid = (n: number) => `3l${n.toString(32).padStart(11, '2')}`

const OWNERS = Array.from({ length: 5 }, (_, i) => did(`owner${i}`))
const MESHLETS = Array.from({ length: 100 }, (_, i) => did(`meshlet${i}`))
/** What every view held per workload in the 100-peer x 10,000 simulation (~16), and more: 14 bids, 3 statuses. */
const BIDS_PER_WORKLOAD = 14
const STATUSES_PER_WORKLOAD = 3

function* commune(workloads: number): Generator<RecordEvent> {
  for (let i = 0; i < workloads; i++) {
    const owner = OWNERS[i % OWNERS.length]!
    const rkey = tid(i)
    const wUri = `at://${owner}/${NSID.workload}/${rkey}`
    const w = workload({ uri: wUri, cid: cid(`w${i}`), owner, rkey, name: `job-${i}`, image: '127.0.0.1:5000/commune/web-frontend:2026.11.30', env: [{ name: 'MODE', value: 'production' }] })
    yield { op: 'put', uri: wUri, did: owner, collection: NSID.workload, rkey, cid: w.cid, record: { collection: NSID.workload, value: w } }
    const ref = { uri: wUri, cid: w.cid }
    for (let j = 0; j < BIDS_PER_WORKLOAD; j++) {
      const meshlet = MESHLETS[(i * 7 + j * 13) % MESHLETS.length]!
      const bRkey = tid(i * 100 + j)
      const b: Bid = {
        uri: `at://${meshlet}/${NSID.bid}/${bRkey}`,
        cid: cid(`b${i}.${j}`),
        meshlet,
        rkey: bRkey,
        workload: ref,
        priority: 1_000_000 - j,
        capacity: { cpuMillisFree: 3500, memoryMbFree: 14_000 },
        epoch: 20_422,
        resources: { cpuMillis: 500, memoryMb: 256 },
        createdAt: '2026-11-30T22:10:01.123Z',
      }
      yield { op: 'put', uri: b.uri, did: meshlet, collection: NSID.bid, rkey: bRkey, cid: b.cid, record: { collection: NSID.bid, value: b } }
      if (j >= STATUSES_PER_WORKLOAD) continue
      const sRkey = statusRkey(wUri)
      const version = { cid: w.cid, bid: { uri: b.uri, cid: b.cid }, priority: b.priority, replica: j, state: 'running' as const, startedAt: '2026-11-30T22:10:03.456Z', updatedAt: '2026-11-30T22:10:04.789Z' }
      const s: WorkloadStatus = {
        uri: `at://${meshlet}/${NSID.workloadStatus}/${sRkey}`,
        cid: cid(`s${i}.${j}`),
        meshlet,
        workload: ref,
        state: j === 2 ? 'exited' : 'running',
        bid: version.bid,
        priority: b.priority,
        replica: j,
        containerId: b32(`ctr${i}.${j}`, 64),
        imageDigest: `sha256:${createHash('sha256').update(`img${i}`).digest('hex')}`,
        leaseMs: 15_000,
        startedAt: version.startedAt,
        updatedAt: version.updatedAt,
        history: [version, { ...version, cid: cid(`old${i}`), state: 'exited' }],
        message: j === 2 ? 'exited with code 0' : 'running',
      }
      yield { op: 'put', uri: s.uri, did: meshlet, collection: NSID.workloadStatus, rkey: sRkey, cid: s.cid!, record: { collection: NSID.workloadStatus, value: s } }
    }
  }
}

describe('the view bound, sized for a commune', () => {
  test('a default view keeps every record of 10,000 live workloads at real record sizes', () => {
    const view = new CommuneView()
    let applied = 0
    let full: string | undefined
    for (const event of commune(10_000)) {
      const change = view.apply(event, 1)
      full ??= change.full
      applied++
    }
    expect(full).toBeUndefined()
    expect(view.rejections()).toEqual([])
    expect(applied).toBe(10_000 * (1 + BIDS_PER_WORKLOAD + STATUSES_PER_WORKLOAD))
    expect(view.records()).toBe(applied)
    expect(view.size().workloads).toBe(10_000)
    // Both bounds keep headroom (a rollout doubles a workload's records for a while).
    expect(view.records() * 2).toBeLessThan(DEFAULT_MAX_RECORDS)
    expect(view.bytes() * 1.5).toBeLessThan(DEFAULT_MAX_BYTES)
    // What the defaults would still hold, in live workloads, stated where the docs cite it.
    const perWorkload = view.bytes() / 10_000
    expect(Math.floor(DEFAULT_MAX_BYTES / perWorkload)).toBeGreaterThan(15_000)
  })

  test('a bound that drops records says so on the change: refused, and evicted', () => {
    const view = new CommuneView({ maxRecords: 3 })
    const events = [...commune(1)].slice(0, 5) // the workload and its first bids/status
    const changes = events.map((e) => view.apply(e, 1))
    expect(changes.slice(0, 3).map((c) => c.full)).toEqual([undefined, undefined, undefined])
    // The fourth record does not fit: whichever group gives way, the change names the bound.
    expect(changes[3]!.full).toMatch(/holds its limit of 3 records/)
    expect(view.records()).toBe(3)
    expect(view.limits()).toEqual({ maxRecords: 3, maxBytes: DEFAULT_MAX_BYTES })
  })

  test('limits are the options given, defaults filled in', () => {
    expect(new CommuneView().limits()).toEqual({ maxRecords: DEFAULT_MAX_RECORDS, maxBytes: DEFAULT_MAX_BYTES })
    expect(new CommuneView({ maxRecords: 5000, maxBytes: 1 << 20 }).limits()).toEqual({ maxRecords: 5000, maxBytes: 1 << 20 })
  })
})
