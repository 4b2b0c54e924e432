// What the handler is told, exactly once per change: puts deduplicated by uri+cid, deletes once,
// each decoded (validated) here, and the persisted known index kept in step so deletes made while
// the peer was down can be found by the next listing (reconcile).
import type { Cid, Did, RecordEvent } from '../../core/types.js'
import { HintedRevs, type HintVerdict } from '../../core/hint-order.js'
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
  /** notify (issue 16): records applied from hints ahead of the stream, so older ops do not undo them. */
  readonly hinted = new HintedRevs()

  constructor(
    private readonly known: KnownIndex,
    private readonly decodeOptions: DecodeOptions,
    private readonly log: Logger,
  ) {}

  /** Forgets what this process told about `did` (the repo is no longer tracked). */
  forget(did: Did): void {
    this.seen.delete(did)
    this.known.forget(did)
    this.hinted.forget(did)
  }

  /** `rev`: the commit the op comes from (a backfill: the head it read); older than an applied hint: skipped. */
  async put(did: Did, collection: string, rkey: string, cid: Cid, value: unknown, rev?: string): Promise<void> {
    const seen = this.seenOf(did)
    const path = `${collection}/${rkey}`
    // Before the dedup: the stream reaching the hinted commit also ends the hint's entry.
    if (rev !== undefined && this.hinted.superseded(did, path, rev)) return
    if (seen.get(path) === cid) return
    const event = decodeRecord({ did, collection, rkey, cid, value }, this.decodeOptions)
    if (!event) return
    seen.set(path, cid)
    await this.known.add(did, collection, rkey)
    if (event.op === 'rejected') this.log.info({ uri: event.uri, reason: event.reason }, 'record rejected')
    await this.deliver(event)
  }

  async delete(did: Did, collection: string, rkey: string, rev?: string): Promise<void> {
    const seen = this.seenOf(did)
    const path = `${collection}/${rkey}`
    if (rev !== undefined && this.hinted.superseded(did, path, rev)) return
    if (seen.get(path) === DELETED) return
    seen.set(path, DELETED)
    await this.known.remove(did, collection, rkey)
    await this.deliver({ op: 'delete', did, collection, rkey, uri: recordUri(did, collection, rkey) })
  }

  /** Emits what changed in one repo+collection (a full listing) against what the handler was told. */
  async reconcile(did: Did, collection: string, records: ListedRecord[], rev?: string): Promise<void> {
    const known = await this.known.load(did, collection)
    const listed = new Set<string>()
    for (const r of records) {
      listed.add(r.rkey)
      await this.put(did, collection, r.rkey, r.cid, r.value, rev)
    }
    for (const rkey of [...known]) if (!listed.has(rkey)) await this.delete(did, collection, rkey, rev)
  }

  /**
   * notify (issue 16): a record proven from a hint, delivered like a stream put unless the view has
   * it already or holds a newer version (`floor`: the rev up to which the repo is complete here).
   */
  async hint(did: Did, collection: string, rkey: string, cid: Cid, value: unknown, rev: string, floor: string | undefined): Promise<HintVerdict> {
    const path = `${collection}/${rkey}`
    const verdict = this.hinted.judge(did, path, { rev, cid, seenCid: this.seen.get(did)?.get(path), floor })
    if (verdict !== 'apply') return verdict
    this.hinted.applied(did, path, rev)
    await this.put(did, collection, rkey, cid, value)
    return 'apply'
  }

  /** The cid last told for a record ('' when deleted), if any. */
  told(did: Did, collection: string, rkey: string): Cid | undefined {
    return this.seen.get(did)?.get(`${collection}/${rkey}`)
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
