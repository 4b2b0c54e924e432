// RecordWriter: how a meshlet's own writes reach its PDS. A lone status update is one putRecord;
// status updates that pile up while one is in flight share one applyWrites commit; the newest value
// of a record wins and writes of one record never reorder.
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import { RecordWriter, type WrittenRecord } from '../../src/services/record-writer.js'
import type { RecordPublisher, RecordValue, RepoWrite } from '../../src/ports/record-publisher.js'
import type { StrongRef } from '../../src/core/types.js'

const DID = 'did:plc:writerwriterwriterwriter'
const STATUS = 'commune.scheduler.workloadStatus'
const BID = 'commune.scheduler.bid'

type Call = { kind: 'put' | 'create' | 'delete' | 'applyWrites'; writes: RepoWrite[] }

/** A PDS stand-in: records in a map, every call logged, each call held until release() when `gated`. */
class FakePublisher implements RecordPublisher {
  readonly did = DID
  readonly calls: Call[] = []
  readonly records = new Map<string, RecordValue>()
  gated = false
  failRkeys = new Set<string>()
  private gates: (() => void)[] = []
  private n = 0

  release(): void {
    for (const g of this.gates.splice(0)) g()
  }

  private async gate(): Promise<void> {
    if (this.gated) await new Promise<void>((r) => this.gates.push(r))
  }

  private write(w: RepoWrite): StrongRef | undefined {
    const rkey = w.op === 'create' ? (w.rkey ?? `3tid${++this.n}`) : w.rkey
    if (this.failRkeys.has(rkey)) throw Object.assign(new Error(`bad record ${rkey}`), { status: 400 })
    const key = `${w.collection}/${rkey}`
    if (w.op === 'delete') {
      this.records.delete(key)
      return undefined
    }
    this.records.set(key, w.value)
    return { uri: `at://${DID}/${key}`, cid: `bafy${++this.n}` }
  }

  async put(collection: string, rkey: string, value: RecordValue): Promise<StrongRef> {
    this.calls.push({ kind: 'put', writes: [{ op: 'put', collection, rkey, value }] })
    await this.gate()
    return this.write({ op: 'put', collection, rkey, value })!
  }

  async create(collection: string, value: RecordValue): Promise<StrongRef> {
    this.calls.push({ kind: 'create', writes: [{ op: 'create', collection, value }] })
    await this.gate()
    return this.write({ op: 'create', collection, value })!
  }

  async delete(collection: string, rkey: string): Promise<void> {
    this.calls.push({ kind: 'delete', writes: [{ op: 'delete', collection, rkey }] })
    await this.gate()
    this.write({ op: 'delete', collection, rkey })
  }

  async applyWrites(writes: RepoWrite[]): Promise<(StrongRef | undefined)[]> {
    this.calls.push({ kind: 'applyWrites', writes })
    await this.gate()
    // All or nothing, like one commit; a create of a record that exists fails it, as on a PDS.
    for (const w of writes) {
      if (w.op !== 'create' && this.failRkeys.has(w.rkey)) throw Object.assign(new Error('batch refused'), { status: 400 })
      if (w.op === 'create' && w.rkey && this.records.has(`${w.collection}/${w.rkey}`)) throw Object.assign(new Error('record already exists'), { status: 500 })
    }
    return writes.map((w) => this.write(w))
  }
}

const status = (state: string) => ({ $type: STATUS, state })
const tick = () => new Promise((r) => setImmediate(r))

function setup() {
  const pub = new FakePublisher()
  const written: WrittenRecord[] = []
  const writer = new RecordWriter(pub, (w) => written.push(w), pino({ level: 'silent' }))
  return { pub, written, writer }
}

describe('RecordWriter', () => {
  test('a lone status update is a single putRecord round trip', async () => {
    const { pub, writer, written } = setup()
    const ref = await writer.put(STATUS, 'w1', status('pending'))
    expect(pub.calls.map((c) => c.kind)).toEqual(['put'])
    expect(ref.uri).toBe(`at://${DID}/${STATUS}/w1`)
    expect(written.map((w) => [w.rkey, (w.value as unknown as { state: string }).state])).toEqual([['w1', 'pending']])
  })

  test('updates of other records that queue while one is in flight go out in one commit', async () => {
    const { pub, writer } = setup()
    pub.gated = true
    const first = writer.put(STATUS, 'w0', status('pending'))
    await tick()
    const burst = Array.from({ length: 5 }, (_, i) => writer.put(STATUS, `w${i + 1}`, status('pending')))
    await tick()
    expect(pub.calls.map((c) => c.kind)).toEqual(['put'])
    pub.gated = false
    pub.release()
    await Promise.all([first, ...burst])
    expect(pub.calls.map((c) => c.kind)).toEqual(['put', 'applyWrites'])
    expect(pub.calls[1]!.writes.map((w) => (w.op === 'create' ? '' : w.rkey))).toEqual(['w1', 'w2', 'w3', 'w4', 'w5'])
    expect(pub.records.size).toBe(6)
    await writer.idle()
  })

  test('the newest value of a record wins, and its writes never reorder', async () => {
    const { pub, writer, written } = setup()
    pub.gated = true
    const a = writer.put(STATUS, 'w1', status('pending'))
    await tick()
    const b = writer.put(STATUS, 'w1', status('starting'))
    const c = writer.put(STATUS, 'w1', status('running'))
    pub.gated = false
    pub.release()
    await Promise.all([a, b, c])
    // 'starting' was overtaken while 'pending' was in flight: only the newest queued value is written.
    expect(written.map((w) => (w.value as unknown as { state: string }).state)).toEqual(['pending', 'running'])
    expect((pub.records.get(`${STATUS}/w1`) as unknown as { state: string }).state).toBe('running')
  })

  test('a delete of a record with a queued update lands after it', async () => {
    const { pub, writer } = setup()
    pub.gated = true
    const put = writer.put(STATUS, 'w1', status('running'))
    await tick()
    const del = writer.delete(STATUS, 'w1')
    pub.gated = false
    pub.release()
    await Promise.all([put, del])
    expect(pub.records.has(`${STATUS}/w1`)).toBe(false)
  })

  test('one bad record in a batch fails alone; the others land', async () => {
    const { pub, writer } = setup()
    pub.gated = true
    const first = writer.put(STATUS, 'w0', status('pending'))
    await tick()
    pub.failRkeys.add('bad')
    const good = writer.put(STATUS, 'ok', status('pending'))
    const bad = writer.put(STATUS, 'bad', status('pending'))
    pub.gated = false
    pub.release()
    await first
    await expect(good).resolves.toMatchObject({ uri: `at://${DID}/${STATUS}/ok` })
    await expect(bad).rejects.toThrow(/bad record/)
    await writer.idle()
    expect(pub.records.has(`${STATUS}/ok`)).toBe(true)
  })

  test('records the caller believes new go out as creates; a wrong guess still lands, by a retry', async () => {
    const { pub, writer } = setup()
    await writer.put(STATUS, 'old', status('running'))
    pub.gated = true
    const first = writer.put(STATUS, 'w0', status('pending'), { isNew: true })
    await tick()
    const a = writer.put(STATUS, 'w1', status('pending'), { isNew: true })
    const b = writer.put(STATUS, 'w2', status('pending'), { isNew: true })
    pub.gated = false
    pub.release()
    await Promise.all([first, a, b])
    const batch = pub.calls.find((c) => c.kind === 'applyWrites')!
    expect(batch.writes.length).toBeGreaterThanOrEqual(2)
    expect(new Set(batch.writes.map((w) => w.op))).toEqual(new Set(['create']))
    // 'old' exists: guessed new, the batch fails and each record is written on its own.
    pub.gated = true
    const c0 = writer.put(STATUS, 'w3', status('pending'))
    await tick()
    const c1 = writer.put(STATUS, 'old', status('stopped'), { isNew: true })
    const c2 = writer.put(STATUS, 'w4', status('pending'), { isNew: true })
    pub.gated = false
    pub.release()
    await Promise.all([c0, c1, c2])
    expect((pub.records.get(`${STATUS}/old`) as unknown as { state: string }).state).toBe('stopped')
    expect(pub.records.has(`${STATUS}/w4`)).toBe(true)
  })

  test('bids created and statuses put in one tick share one commit (issue 16: one applyWrites per tick)', async () => {
    const { pub, writer, written } = setup()
    await Promise.all([writer.put(STATUS, 'w1', status('pending')), writer.create(BID, { $type: BID, n: 1 }), writer.create(BID, { $type: BID, n: 2 })])
    expect(pub.calls.map((c) => `${c.kind}:${c.writes.map((w) => w.collection).join('+')}`)).toEqual([`applyWrites:${BID}+${BID}+${STATUS}`])
    expect(written.map((w) => w.collection).sort()).toEqual([BID, BID, STATUS])
    await writer.idle()
  })

  test('a put that queues while such a commit is in flight goes in the next one, after it', async () => {
    const { pub, writer, written } = setup()
    pub.gated = true
    const first = Promise.all([writer.create(BID, { $type: BID, n: 1 }), writer.put(STATUS, 'w1', status('pending'))])
    await tick()
    const later = writer.put(STATUS, 'w1', status('running'))
    await tick()
    expect(pub.calls).toHaveLength(1)
    pub.gated = false
    pub.release()
    await Promise.all([first, later])
    expect(written.filter((w) => w.collection === STATUS).map((w) => (w.value as unknown as { state: string }).state)).toEqual(['pending', 'running'])
    expect(pub.calls.map((c) => c.kind)).toEqual(['applyWrites', 'put'])
  })

  test('when the shared commit fails, each write is retried alone and the bad one fails alone', async () => {
    const { pub, writer } = setup()
    pub.failRkeys.add('bad')
    const bid = writer.create(BID, { $type: BID, n: 1 })
    const good = writer.put(STATUS, 'ok', status('pending'))
    const bad = writer.put(STATUS, 'bad', status('pending'))
    await expect(bid).resolves.toMatchObject({ uri: expect.stringContaining(BID) })
    await expect(good).resolves.toMatchObject({ uri: `at://${DID}/${STATUS}/ok` })
    await expect(bad).rejects.toThrow(/bad record/)
    await writer.idle()
  })
})
