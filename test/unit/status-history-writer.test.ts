// The status writer keeps the claims of earlier versions (history) and deletes what no peer counts
// any more (retired statuses and their bids): through the real RecordWriter, decode and view.
import { describe, expect, test } from 'vitest'
import { encodeBid } from '../../src/core/encode.js'
import { DECAY_WINDOW, EPOCH_MS, epochOf } from '../../src/core/epoch.js'
import { NSID, type StrongRef, type Workload } from '../../src/core/types.js'
import { OWNER, cid, setup } from './status-repo.js'

function putWorkload(view: ReturnType<typeof setup>['view'], w: Workload, at: number): void {
  view.apply({ op: 'put', did: OWNER, collection: NSID.workload, rkey: w.rkey, uri: w.uri, cid: w.cid, record: { collection: NSID.workload, value: w } }, at)
}

async function bid(writer: ReturnType<typeof setup>['writer'], w: Workload, createdAt: string): Promise<StrongRef> {
  const capacity = { cpuMillisFree: 1000, memoryMbFree: 1000, cpuMillisTotal: 4000, memoryMbTotal: 8192 }
  return writer.create(NSID.bid, encodeBid({ workload: { uri: w.uri, cid: w.cid }, priority: 500, capacity, epoch: epochOf(Date.parse(w.createdAt)), resources: w.resources, createdAt }))
}

describe('status history in the writer', () => {
  test('a claim on a new version keeps the old claim as a history entry, through transitions, renewals and retirement', async () => {
    const { reporter, writer, view, ws, advance, now } = setup()
    const v1 = ws[0]!
    const b1 = await bid(writer, v1, new Date(now()).toISOString())
    await reporter.claim(v1, { bid: b1, priority: 500, replica: 1 })
    const started = new Date(now()).toISOString()
    await reporter.update(v1, { state: 'running', containerId: 'c1', message: 'running', startedAt: started })
    advance(2 * EPOCH_MS)
    await reporter.renewDue()
    await writer.idle()
    const lastV1 = reporter.own(v1.uri)!.updatedAt

    const v2 = { ...v1, cid: cid('workload 1 v2') }
    putWorkload(view, v2, now())
    advance(60_000)
    const b2 = await bid(writer, v2, new Date(now()).toISOString())
    await reporter.claim(v2, { bid: b2, priority: 480, replica: 0 })
    const want = [{ cid: v1.cid, bid: b1, priority: 500, replica: 1, state: 'running', startedAt: started, updatedAt: lastV1 }]
    expect(reporter.own(v1.uri)).toMatchObject({ workload: { cid: v2.cid }, bid: b2, replica: 0, history: want })
    await reporter.update(v2, { state: 'running', containerId: 'c2', message: 'running' })
    expect(reporter.own(v1.uri)?.history).toEqual(want)
    advance(10 * 60_000)
    expect(await reporter.renewDue()).toBe(1)
    expect(reporter.own(v1.uri)?.history).toEqual(want)
    await reporter.retire(reporter.own(v1.uri)!, 'workload deleted')
    expect(reporter.own(v1.uri)).toMatchObject({ state: 'stopped', history: want })
    await writer.idle()
  })

  test('a claim that never started leaves no entry (it proves no usage)', async () => {
    const { reporter, writer, view, ws, now } = setup()
    const v1 = ws[0]!
    await reporter.claim(v1, { bid: await bid(writer, v1, new Date(now()).toISOString()), priority: 500, replica: 0 })
    const v2 = { ...v1, cid: cid('workload 1 v2') }
    putWorkload(view, v2, now())
    await reporter.claim(v2, { bid: await bid(writer, v2, new Date(now()).toISOString()), priority: 500, replica: 0 })
    expect(reporter.own(v1.uri)?.history).toBeUndefined()
    await writer.idle()
  })
})

describe('garbage collection of retired statuses', () => {
  test('a retired status and every bid it stands on go, in one commit, once every interval it proves is older than the replay floor', async () => {
    const { reporter, writer, view, ws, repo, advance, now } = setup()
    const [v1, other] = [ws[0]!, ws[1]!]
    const b1 = await bid(writer, v1, new Date(now()).toISOString())
    await reporter.claim(v1, { bid: b1, priority: 500, replica: 0 })
    await reporter.update(v1, { state: 'running', containerId: 'c1', message: 'running', startedAt: new Date(now()).toISOString() })
    const v2 = { ...v1, cid: cid('workload 1 v2') }
    putWorkload(view, v2, now())
    const b2 = await bid(writer, v2, new Date(now()).toISOString())
    await reporter.claim(v2, { bid: b2, priority: 500, replica: 0 })
    await reporter.update(v2, { state: 'running', containerId: 'c2', message: 'running', startedAt: new Date(now()).toISOString() })
    // Another workload, still on record, with a stopped status: never collected.
    const bo = await bid(writer, other, new Date(now()).toISOString())
    await reporter.claim(other, { bid: bo, priority: 500, replica: 0 })
    await reporter.release(other, 'stopped by its owner')
    view.apply({ op: 'delete', did: OWNER, collection: NSID.workload, rkey: v1.rkey, uri: v1.uri }, now())
    await reporter.retire(reporter.own(v1.uri)!, 'workload deleted')
    await writer.idle()
    const retiredAt = now()

    // The replay floor is 2 x DECAY_WINDOW epochs (+1 of margin) behind: not yet.
    advance((2 * DECAY_WINDOW + 1) * EPOCH_MS)
    expect(await reporter.collectGarbage()).toBe(0)
    expect(reporter.own(v1.uri)).toBeDefined()

    advance(EPOCH_MS + (EPOCH_MS - (retiredAt % EPOCH_MS)))
    const commits = repo.commits.length
    expect(await reporter.collectGarbage()).toBe(1)
    await writer.idle()
    expect(reporter.own(v1.uri)).toBeUndefined()
    expect(view.bidsFor(v1.uri)).toEqual([])
    expect(view.bidsFor(other.uri).map((b) => b.uri)).toEqual([bo.uri])
    expect(reporter.own(other.uri)?.state).toBe('stopped')
    // Status and both bids (current and history) in one applyWrites commit.
    expect(repo.commits.slice(commits)).toEqual([
      expect.arrayContaining([
        { op: 'delete', collection: NSID.workloadStatus, rkey: expect.any(String) },
        { op: 'delete', collection: NSID.bid, rkey: b1.uri.split('/').pop() },
        { op: 'delete', collection: NSID.bid, rkey: b2.uri.split('/').pop() },
      ]),
    ])
    expect(repo.commits.slice(commits)[0]).toHaveLength(3)
    expect(await reporter.collectGarbage()).toBe(0)
  })
})
