// What the handler is told, exactly once per change: puts deduplicated by uri+cid, deletes once,
// each decoded (validated) here, and the persisted known index kept in step so deletes made while
// the peer was down can be found by the next listing (reconcile).
import type { Cid, Did, RecordEvent } from '../../core/types.js'
import { describeError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { RecordHandler } from '../../ports/record-source.js'
import { decodeRecord, recordUri, type DecodeOptions } from './decode.js'
import type { KnownIndex } from './known-index.js'
import type { ListedRecord } from './repo-reader.js'

const DELETED = ''

export class RecordEmitter {
  /** uri path -> last cid told to the handler in this process ('' = deleted). */
  private readonly seen = new Map<Did, Map<string, Cid>>()
  /** Unset until start and after stop: nothing is delivered then. */
  handler?: RecordHandler

  constructor(
    private readonly known: KnownIndex,
    private readonly decodeOptions: DecodeOptions,
    private readonly log: Logger,
  ) {}

  /** Forgets what this process told about `did` (the repo is no longer tracked). */
  forget(did: Did): void {
    this.seen.delete(did)
    this.known.forget(did)
  }

  async put(did: Did, collection: string, rkey: string, cid: Cid, value: unknown): Promise<void> {
    const seen = this.seenOf(did)
    const path = `${collection}/${rkey}`
    if (seen.get(path) === cid) return
    const event = decodeRecord({ did, collection, rkey, cid, value }, this.decodeOptions)
    if (!event) return
    seen.set(path, cid)
    await this.known.add(did, collection, rkey)
    if (event.op === 'rejected') this.log.info({ uri: event.uri, reason: event.reason }, 'record rejected')
    await this.deliver(event)
  }

  async delete(did: Did, collection: string, rkey: string): Promise<void> {
    const seen = this.seenOf(did)
    const path = `${collection}/${rkey}`
    if (seen.get(path) === DELETED) return
    seen.set(path, DELETED)
    await this.known.remove(did, collection, rkey)
    await this.deliver({ op: 'delete', did, collection, rkey, uri: recordUri(did, collection, rkey) })
  }

  /** Emits what changed in one repo+collection (a full listing) against what the handler was told. */
  async reconcile(did: Did, collection: string, records: ListedRecord[]): Promise<void> {
    const known = await this.known.load(did, collection)
    const listed = new Set<string>()
    for (const r of records) {
      listed.add(r.rkey)
      await this.put(did, collection, r.rkey, r.cid, r.value)
    }
    for (const rkey of [...known]) if (!listed.has(rkey)) await this.delete(did, collection, rkey)
  }

  private seenOf(did: Did): Map<string, Cid> {
    let m = this.seen.get(did)
    if (!m) {
      m = new Map()
      this.seen.set(did, m)
    }
    return m
  }

  private async deliver(event: RecordEvent): Promise<void> {
    const handler = this.handler
    if (!handler) return
    try {
      await handler(event)
    } catch (err) {
      this.log.error({ uri: event.uri, op: event.op, reason: describeError(err) }, 'record handler failed; the event counts as handled')
    }
  }
}
