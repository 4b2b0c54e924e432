// Every write this meshlet makes to its own repo goes through here:
// - creates (bids) and deletes are batched into one applyWrites commit per tick: a single account
//   writes ~80 records/s one by one but ~440/s batched (shared/lab/atproto);
// - puts (status, profile) are serialised per record key and coalesced (only the newest queued
//   value of a key is written), so updates never reorder and bursts do not pile up; the puts of
//   different keys that wait meanwhile go out together in one applyWrites commit (a burst of claims
//   and 'starting'/'running' updates is a few commits, not one per record), while a lone put stays
//   a single putRecord round trip; puts queued in the tick in which creates/deletes go out ride in
//   that same commit (issue 16: one applyWrites per tick for bids, claims and statuses);
// - each successful write is applied to the local view at once (`onWritten`), so decisions never
//   wait for their own records to come back through the firehose.
import type { Did, StrongRef } from '../core/types.js'
import type { RecordPublisher, RecordValue, RepoWrite } from '../ports/record-publisher.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'

export interface WrittenRecord {
  did: Did
  collection: string
  rkey: string
  uri: string
  /** Undefined for deletes. */
  cid?: string
  value?: RecordValue
}

type Batched = { write: RepoWrite; resolve: (r: StrongRef | undefined) => void; reject: (e: unknown) => void }
/** The newest value to write for one record key (null = delete it), and everyone waiting for it. */
type Keyed = { collection: string; rkey: string; value: RecordValue | null; isNew: boolean; waiters: Batched[] }

const MAX_BATCH = 100

/** A keyed write as it goes into an applyWrites batch (a create when the caller believes it new). */
function keyedWrite(q: Keyed): RepoWrite {
  if (!q.value) return { op: 'delete', collection: q.collection, rkey: q.rkey }
  return { op: q.isNew ? 'create' : 'put', collection: q.collection, rkey: q.rkey, value: q.value }
}

export class RecordWriter {
  private batch: Batched[] = []
  private flushing: Promise<void> | undefined
  private flushScheduled = false
  /** Keyed writes not sent yet, at most one per key. */
  private putQueues = new Map<string, Keyed>()
  /** Keys in the keyed commit being sent (one such commit at a time). */
  private putsInFlight = new Set<string>()
  private putFlushing: Promise<void> | undefined
  private putFlushScheduled = false
  private idleWaiters: (() => void)[] = []
  private pending = 0
  writes = 0
  commits = 0

  constructor(
    private readonly publisher: RecordPublisher,
    private readonly onWritten: (w: WrittenRecord) => void,
    private readonly log: Logger,
  ) {}

  get did(): Did {
    return this.publisher.did
  }

  create(collection: string, value: RecordValue): Promise<StrongRef> {
    return this.enqueue({ op: 'create', collection, value }) as Promise<StrongRef>
  }

  delete(collection: string, rkey: string): Promise<void> {
    const key = `${collection}/${rkey}`
    // A delete must land after any put of the same record that is queued or in flight.
    if (this.putQueues.has(key) || this.putsInFlight.has(key)) return this.keyed(collection, rkey, null).then(() => undefined)
    return this.enqueue({ op: 'delete', collection, rkey }).then(() => undefined)
  }

  /**
   * Writes (creates or replaces) collection/rkey; concurrent puts of one key collapse to the newest.
   * `isNew`: the caller believes the record does not exist yet, so in a batch it goes as a create (an
   * update of a missing record fails the commit, costing a lookup and a second try). A wrong guess
   * only costs a retry.
   */
  put(collection: string, rkey: string, value: RecordValue, opts: { isNew?: boolean } = {}): Promise<StrongRef> {
    return this.keyed(collection, rkey, value, opts.isNew ?? false) as Promise<StrongRef>
  }

  /** Per-key serialised write: a value to put, or null to delete. */
  private keyed(collection: string, rkey: string, value: RecordValue | null, isNew = false): Promise<StrongRef | undefined> {
    const key = `${collection}/${rkey}`
    this.pending++
    return new Promise<StrongRef | undefined>((resolve, reject) => {
      const waiter: Batched = { write: value ? { op: 'put', collection, rkey, value } : { op: 'delete', collection, rkey }, resolve, reject }
      const queued = this.putQueues.get(key)
      if (queued) {
        queued.value = value
        queued.isNew = isNew
        queued.waiters.push(waiter)
      } else {
        this.putQueues.set(key, { collection, rkey, value, isNew, waiters: [waiter] })
      }
      this.schedulePuts()
    })
  }

  /** Resolves once every queued write has been attempted. */
  async idle(): Promise<void> {
    if (this.pending === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  private settle(n: number): void {
    this.pending -= n
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w()
  }

  private schedulePuts(): void {
    if (this.putFlushScheduled || this.putFlushing) return
    this.putFlushScheduled = true
    setImmediate(() => {
      this.putFlushScheduled = false
      void this.flushPuts()
    })
  }

  /** One keyed commit at a time: what queues meanwhile (a newer value of a key in flight, other keys) goes in the next. */
  private async flushPuts(): Promise<void> {
    if (this.putFlushing) return
    // burst (issue 16): creates/deletes go out this tick too: the puts ride in their commit
    if (this.flushScheduled) return
    const items: Keyed[] = []
    for (const [key, q] of this.putQueues) {
      if (items.length >= MAX_BATCH) break
      this.putQueues.delete(key)
      items.push(q)
    }
    if (items.length === 0) return
    this.putFlushing = this.sendKeyed(items).finally(() => {
      this.putFlushing = undefined
      if (this.putQueues.size > 0) this.schedulePuts()
    })
    await this.putFlushing
  }

  private async sendKeyed(items: Keyed[]): Promise<void> {
    for (const q of items) this.putsInFlight.add(`${q.collection}/${q.rkey}`)
    try {
      // A lone record: putRecord creates or replaces it in one round trip (an applyWrites update of a
      // record that does not exist yet would cost a failed call and a lookup first).
      if (items.length === 1) return await this.sendOne(items[0]!)
      let results: (StrongRef | undefined)[]
      try {
        results = await this.publisher.applyWrites(items.map(keyedWrite))
      } catch (err) {
        // One bad write must not sink the others: retry them one by one.
        this.log.warn({ err: describeError(err), n: items.length }, 'batched record writes failed, retrying singly')
        for (const q of items) await this.sendOne(q)
        return
      }
      this.commits++
      items.forEach((q, i) => this.landed(q, results[i]))
    } finally {
      for (const q of items) this.putsInFlight.delete(`${q.collection}/${q.rkey}`)
    }
  }

  private async sendOne(q: Keyed): Promise<void> {
    let ref: StrongRef | undefined
    try {
      if (q.value) ref = await this.publisher.put(q.collection, q.rkey, q.value)
      else await this.publisher.delete(q.collection, q.rkey)
      this.commits++
    } catch (err) {
      this.log.warn({ err: describeError(err), collection: q.collection, rkey: q.rkey }, 'record write failed')
      for (const w of q.waiters) w.reject(err)
      this.settle(q.waiters.length)
      return
    }
    this.landed(q, ref)
  }

  /** A keyed write landed: apply it to the view, then wake its waiters. */
  private landed(q: Keyed, ref: StrongRef | undefined): void {
    try {
      if (q.value) {
        if (!ref) throw new Error(`the PDS returned no uri/cid for ${q.collection}/${q.rkey}`)
        this.onWritten({ did: this.did, collection: q.collection, rkey: q.rkey, uri: ref.uri, cid: ref.cid, value: q.value })
      } else {
        this.onWritten({ did: this.did, collection: q.collection, rkey: q.rkey, uri: `at://${this.did}/${q.collection}/${q.rkey}` })
      }
      this.writes++
      for (const w of q.waiters) w.resolve(ref)
    } catch (err) {
      this.log.warn({ err: describeError(err), collection: q.collection, rkey: q.rkey }, 'record write could not be applied')
      for (const w of q.waiters) w.reject(err)
    } finally {
      this.settle(q.waiters.length)
    }
  }

  private enqueue(write: RepoWrite): Promise<StrongRef | undefined> {
    this.pending++
    return new Promise((resolve, reject) => {
      this.batch.push({ write, resolve, reject })
      if (this.batch.length >= MAX_BATCH) void this.flush()
      else if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => {
          this.flushScheduled = false
          void this.flush()
        })
      }
    })
  }

  private async flush(): Promise<void> {
    // One commit at a time, in order.
    while (this.flushing) await this.flushing
    if (this.batch.length === 0) return
    const items = this.batch.splice(0, MAX_BATCH)
    // burst (issue 16): puts queued in the same tick ride along, one commit for all
    const keyed = this.takeQueuedPuts(MAX_BATCH - items.length)
    this.flushing = (keyed.length > 0 ? this.commitWithPuts(items, keyed) : this.commit(items)).finally(() => {
      this.flushing = undefined
    })
    await this.flushing
    if (this.batch.length > 0) void this.flush()
    else if (this.putQueues.size > 0) this.schedulePuts()
  }

  /** burst (issue 16): the queued puts (none while a keyed commit is in flight: one at a time), marked in flight. */
  private takeQueuedPuts(room: number): Keyed[] {
    if (this.putFlushing || room <= 0 || this.putQueues.size === 0) return []
    const items: Keyed[] = []
    for (const [key, q] of this.putQueues) {
      if (items.length >= room) break
      this.putQueues.delete(key)
      items.push(q)
    }
    return items
  }

  /**
   * burst (issue 16): creates/deletes and puts of one tick in ONE applyWrites commit. The keyed
   * items hold the keyed pipeline (putFlushing) meanwhile, so a key never has two writes in flight;
   * if the commit fails, each write is retried on its own as in the separate paths.
   */
  private commitWithPuts(items: Batched[], keyed: Keyed[]): Promise<void> {
    for (const q of keyed) this.putsInFlight.add(`${q.collection}/${q.rkey}`)
    const run = async (): Promise<void> => {
      let results: (StrongRef | undefined)[]
      try {
        results = await this.publisher.applyWrites([...items.map((i) => i.write), ...keyed.map((q) => keyedWrite(q))])
      } catch (err) {
        this.log.warn({ err: describeError(err), n: items.length + keyed.length }, 'batched write failed, retrying singly')
        for (const item of items) await this.commit([item])
        for (const q of keyed) await this.sendOne(q)
        return
      }
      this.commits++
      items.forEach((item, i) => this.applied(item, results[i]))
      this.settle(items.length)
      keyed.forEach((q, i) => this.landed(q, results[items.length + i]))
    }
    const p = run().finally(() => {
      for (const q of keyed) this.putsInFlight.delete(`${q.collection}/${q.rkey}`)
      this.putFlushing = undefined
      if (this.putQueues.size > 0) this.schedulePuts()
    })
    this.putFlushing = p
    return p
  }

  /** An unkeyed write landed: apply it to the view, then wake its waiter. */
  private applied(item: Batched, res: StrongRef | undefined): void {
    this.writes++
    const w = item.write
    if (w.op === 'delete') {
      this.onWritten({ did: this.did, collection: w.collection, rkey: w.rkey, uri: `at://${this.did}/${w.collection}/${w.rkey}` })
    } else if (res) {
      const rkey = res.uri.split('/').pop()!
      this.onWritten({ did: this.did, collection: w.collection, rkey, uri: res.uri, cid: res.cid, value: w.value })
    }
    item.resolve(res)
  }

  private async commit(items: Batched[]): Promise<void> {
    let retriedSingly = false
    try {
      const results = await this.publisher.applyWrites(items.map((i) => i.write))
      this.commits++
      items.forEach((item, i) => this.applied(item, results[i]))
    } catch (err) {
      if (items.length > 1) {
        // One bad write must not sink the others: retry them one by one.
        this.log.warn({ err: describeError(err), n: items.length }, 'batched write failed, retrying singly')
        retriedSingly = true
        for (const item of items) await this.commit([item])
        return
      }
      this.log.warn({ err: describeError(err), write: items[0]!.write.op, collection: items[0]!.write.collection }, 'record write failed')
      items[0]!.reject(err)
    } finally {
      if (!retriedSingly) this.settle(items.length)
    }
  }
}
