// Every write this meshlet makes to its own repo goes through here:
// - creates (bids) and deletes are batched into one applyWrites commit per tick: a single account
//   writes ~80 records/s one by one but ~440/s batched (shared/lab/atproto);
// - puts (status, profile) are serialised per record key and coalesced (only the newest queued
//   value of a key is written), so updates never reorder and bursts do not pile up;
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

const MAX_BATCH = 100

export class RecordWriter {
  private batch: Batched[] = []
  private flushing: Promise<void> | undefined
  private flushScheduled = false
  private putQueues = new Map<string, { value: RecordValue | null; waiters: Batched[] }>()
  private putsInFlight = new Set<string>()
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

  /** Writes (creates or replaces) collection/rkey; concurrent puts of one key collapse to the newest. */
  put(collection: string, rkey: string, value: RecordValue): Promise<StrongRef> {
    return this.keyed(collection, rkey, value) as Promise<StrongRef>
  }

  /** Per-key serialised write: a value to put, or null to delete. */
  private keyed(collection: string, rkey: string, value: RecordValue | null): Promise<StrongRef | undefined> {
    const key = `${collection}/${rkey}`
    this.pending++
    return new Promise<StrongRef | undefined>((resolve, reject) => {
      const waiter: Batched = { write: value ? { op: 'put', collection, rkey, value } : { op: 'delete', collection, rkey }, resolve, reject }
      const queued = this.putQueues.get(key)
      if (queued) {
        queued.value = value
        queued.waiters.push(waiter)
      } else {
        this.putQueues.set(key, { value, waiters: [waiter] })
      }
      if (!this.putsInFlight.has(key)) void this.drainPut(collection, rkey)
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

  private async drainPut(collection: string, rkey: string): Promise<void> {
    const key = `${collection}/${rkey}`
    this.putsInFlight.add(key)
    try {
      for (;;) {
        const queued = this.putQueues.get(key)
        if (!queued) break
        this.putQueues.delete(key)
        try {
          let ref: StrongRef | undefined
          if (queued.value) {
            ref = await this.publisher.put(collection, rkey, queued.value)
            this.onWritten({ did: this.did, collection, rkey, uri: ref.uri, cid: ref.cid, value: queued.value })
          } else {
            await this.publisher.delete(collection, rkey)
            this.onWritten({ did: this.did, collection, rkey, uri: `at://${this.did}/${collection}/${rkey}` })
          }
          this.writes++
          this.commits++
          for (const w of queued.waiters) w.resolve(ref)
        } catch (err) {
          this.log.warn({ err: describeError(err), collection, rkey }, 'record write failed')
          for (const w of queued.waiters) w.reject(err)
        } finally {
          this.settle(queued.waiters.length)
        }
      }
    } finally {
      this.putsInFlight.delete(key)
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
    this.flushing = this.commit(items).finally(() => {
      this.flushing = undefined
    })
    await this.flushing
    if (this.batch.length > 0) void this.flush()
  }

  private async commit(items: Batched[]): Promise<void> {
    let retriedSingly = false
    try {
      const results = await this.publisher.applyWrites(items.map((i) => i.write))
      this.commits++
      items.forEach((item, i) => {
        this.writes++
        const res = results[i]
        const w = item.write
        if (w.op === 'delete') {
          this.onWritten({ did: this.did, collection: w.collection, rkey: w.rkey, uri: `at://${this.did}/${w.collection}/${w.rkey}` })
        } else if (res) {
          const rkey = res.uri.split('/').pop()!
          this.onWritten({ did: this.did, collection: w.collection, rkey, uri: res.uri, cid: res.cid, value: w.value })
        }
        item.resolve(res)
      })
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
