// One firehose subscription (a PDS, or a relay) kept alive: its serial queue, its stored seq
// cursor, reconnects with backoff, and a backfill of its repos on every (re)connect, the one
// place a gap can open. What an event means is the owner's business (StreamOwner).
import { backoffMs } from '@atproto/common-web'
import type { IdResolver } from '@atproto/identity'
import {
  Firehose,
  FirehoseHandlerError,
  FirehoseParseError,
  FirehoseSubscriptionError,
  FirehoseValidationError,
  type Event as FirehoseEvent,
  type EventRunner,
} from '@atproto/sync'
import { COLLECTIONS, type Did } from '../../core/types.js'
import { describeError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { CursorStore } from '../../ports/cursor-store.js'
import { SerialQueue } from './serial-queue.js'

/** How far the stored cursor may trail the handled events (issue 16: relay intake CPU). */
export const CURSOR_STORE_MS = 100

/** What a stream asks of the record source that owns it. */
export interface StreamOwner {
  /** False once the owner stopped: nothing new is scheduled. */
  readonly active: boolean
  /** Whether this stream is the one to take `did`'s events from. */
  accepts(stream: FirehoseStream, did: string): boolean
  handleEvent(stream: FirehoseStream, evt: FirehoseEvent): Promise<void>
  /** A tracked repo's event went through the handler (the owner raises its floor). */
  eventHandled(did: string): void
  /** Reads one repo into the handler (runs on this stream's queue). */
  backfill(stream: FirehoseStream, did: Did): Promise<boolean>
  /** Persists what the handler was told (after every task). */
  flush(): Promise<void>
}

export interface FirehoseStreamOptions {
  key: string
  relay: boolean
  store: CursorStore
  idResolver: IdResolver
  owner: StreamOwner
  log: Logger
  reconnectBaseMs: number
  reconnectMaxMs: number
  /** With no stored cursor, backfill again once the stream is live (first event, or after this long). */
  settleMs: number
}

export class FirehoseStream {
  readonly key: string
  readonly relay: boolean
  /** Repos whose events this stream carries (all tracked repos for a relay). */
  readonly dids = new Set<Did>()
  readonly queue: SerialQueue
  private closedFlag = false
  private cursor?: number
  /** What the store holds (the cursor trails the handled events by at most CURSOR_STORE_MS). */
  private storedCursor?: number
  private cursorTimer?: NodeJS.Timeout
  private readonly ready: Promise<void>
  private connects = 0
  private failures = 0
  private readonly backfillPending = new Set<Did>()
  private settleTimer?: NodeJS.Timeout
  private settlePending = false
  private readonly abort = new AbortController()
  private firehose?: Firehose
  private running = false
  private readonly loop: Promise<void>

  constructor(private readonly opts: FirehoseStreamOptions) {
    this.key = opts.key
    this.relay = opts.relay
    this.queue = new SerialQueue(opts.log)
    this.ready = opts.store.getCursor(this.key).then(
      (c) => {
        this.cursor = c
      },
      (err) => opts.log.warn({ source: this.key, reason: describeError(err) }, 'cannot read the stored cursor; starting live'),
    )
    this.loop = this.run()
  }

  get closed(): boolean {
    return this.closedFlag
  }

  /** Stops taking `did`'s events here (it moved, or is no longer tracked). */
  drop(did: Did): void {
    this.dids.delete(did)
    this.backfillPending.delete(did)
  }

  /** Queues one backfill of `did` behind the events already queued (once, however often asked). */
  scheduleBackfill(did: Did): void {
    if (this.closedFlag || !this.opts.owner.active || this.backfillPending.has(did)) return
    this.backfillPending.add(did)
    void this.queue.add(async () => {
      this.backfillPending.delete(did)
      await this.opts.owner.backfill(this, did)
      await this.opts.owner.flush()
    })
  }

  async close(): Promise<void> {
    if (this.closedFlag) return
    this.closedFlag = true
    this.abort.abort()
    if (this.settleTimer) clearTimeout(this.settleTimer)
    this.queue.clear()
    if (this.cursorTimer) clearTimeout(this.cursorTimer)
    await this.storeCursor()
    // Firehose.destroy() waits out its own reconnect delay when it is between attempts: do not hang on it.
    if (this.running && this.firehose) await raceTimeout(this.firehose.destroy().catch(() => {}), 2000)
    await raceTimeout(this.loop, 2000)
  }

  private get live(): boolean {
    return !this.closedFlag && this.opts.owner.active
  }

  /** Keeps one Firehose running until the stream closes; the loop never dies. */
  private async run(): Promise<void> {
    const { log, owner } = this.opts
    await this.ready
    while (this.live) {
      const runner: EventRunner = {
        getCursor: () => this.onConnectAttempt(),
        trackEvent: (did, seq, handler) => this.track(did, seq, handler),
      }
      const firehose = new Firehose({
        service: this.key,
        idResolver: this.opts.idResolver,
        runner,
        filterCollections: [...COLLECTIONS],
        handleEvent: (evt) => owner.handleEvent(this, evt),
        onError: (err) => this.onFirehoseError(firehose, err),
        unauthenticatedCommits: false,
        unauthenticatedHandles: true,
        maxReconnectSeconds: Math.max(1, Math.round(this.opts.reconnectMaxMs / 1000)),
        subscriptionReconnectDelay: this.opts.reconnectBaseMs,
      })
      this.firehose = firehose
      this.running = true
      try {
        await firehose.start()
      } catch (err) {
        log.warn({ source: this.key, reason: describeError(err) }, 'firehose loop failed')
      } finally {
        this.running = false
      }
      if (!this.live) break
      const retryInMs = this.nextDelay()
      log.warn({ source: this.key, retryInMs }, 'firehose stream ended; reconnecting')
      await sleep(retryInMs, this.abort.signal)
    }
  }

  private nextDelay(): number {
    return Math.round(backoffMs(this.failures++, this.opts.reconnectBaseMs, this.opts.reconnectMaxMs))
  }

  /** Called by the subscription before every connection attempt: the one place a gap can open. */
  private async onConnectAttempt(): Promise<number | undefined> {
    await this.ready
    this.connects++
    this.opts.log.info(
      { source: this.key, cursor: this.cursor, attempt: this.connects },
      this.connects === 1 ? 'subscribing to firehose' : 'resubscribing to firehose; backfilling to cover the gap',
    )
    for (const did of this.dids) this.scheduleBackfill(did)
    if (this.cursor === undefined && !this.closedFlag) {
      // Live-from-now: writes between our listing and the server registering us would fall in
      // between. Backfill once more when the stream is certainly live.
      this.settlePending = true
      if (this.settleTimer) clearTimeout(this.settleTimer)
      this.settleTimer = setTimeout(() => this.settle(), this.opts.settleMs)
      this.settleTimer.unref()
    }
    return this.cursor
  }

  private settle(): void {
    if (!this.settlePending || this.closedFlag) return
    this.settlePending = false
    if (this.settleTimer) clearTimeout(this.settleTimer)
    for (const did of this.dids) this.scheduleBackfill(did)
  }

  private track(did: string, seq: number, handler: () => Promise<void>): Promise<void> {
    if (!this.live) return Promise.resolve()
    this.failures = 0
    const owner = this.opts.owner
    const done = this.queue.add(async () => {
      if (this.closedFlag) return
      // Untracked repos cost nothing: their events are neither parsed nor verified.
      if (owner.accepts(this, did)) {
        await handler()
        owner.eventHandled(did)
      }
      await owner.flush()
      this.advanceCursor(seq)
    })
    if (this.settlePending) this.settle()
    return done
  }

  /**
   * The handled position moves at once; the store follows within CURSOR_STORE_MS (issue 16): one
   * SQLite write per event was a quarter of a relay event's CPU. A crash in between replays those
   * events at the next start, which handling already absorbs (puts are keyed by cid, and every
   * (re)connect backfills), so nothing is lost, only handled twice.
   */
  private advanceCursor(seq: number): void {
    if (this.cursor !== undefined && seq <= this.cursor) return
    this.cursor = seq
    if (this.cursorTimer || this.closedFlag) return
    this.cursorTimer = setTimeout(() => void this.storeCursor(), CURSOR_STORE_MS)
    this.cursorTimer.unref()
  }

  private async storeCursor(): Promise<void> {
    this.cursorTimer = undefined
    const seq = this.cursor
    if (seq === undefined || seq === this.storedCursor) return
    try {
      await this.opts.store.setCursor(this.key, seq)
      this.storedCursor = seq
    } catch (err) {
      this.opts.log.error({ source: this.key, seq, reason: describeError(err) }, 'cannot store the firehose cursor')
    }
  }

  private onFirehoseError(firehose: Firehose, err: Error): void {
    const log = this.opts.log
    if (err instanceof FirehoseSubscriptionError) {
      const cause = err.cause as { error?: unknown } | undefined
      if (cause?.error === 'FutureCursor') {
        log.warn({ source: this.key, cursor: this.cursor }, 'stored cursor is ahead of the server (was it reset?); continuing live and backfilling')
        this.cursor = undefined
      } else {
        log.warn({ source: this.key, reason: describeError(err.cause ?? err) }, 'firehose connection failed; reconnecting')
      }
      // Firehose reads this before it waits to restart: make its delay our backoff with jitter.
      firehose.opts.subscriptionReconnectDelay = this.nextDelay()
      return
    }
    if (err instanceof FirehoseParseError) {
      const evt = err.event as { repo?: unknown; did?: unknown }
      const did = typeof evt.repo === 'string' ? evt.repo : typeof evt.did === 'string' ? evt.did : undefined
      log.warn({ source: this.key, did, reason: describeError(err.cause ?? err) }, 'cannot verify a firehose event; backfilling the repo instead')
      if (did && this.opts.owner.accepts(this, did)) this.scheduleBackfill(did)
      return
    }
    if (err instanceof FirehoseValidationError) {
      log.warn({ source: this.key, reason: describeError(err.cause ?? err) }, 'ignoring a malformed firehose message')
      return
    }
    if (err instanceof FirehoseHandlerError) {
      log.error({ source: this.key, reason: describeError(err.cause ?? err) }, 'firehose event handling failed')
      return
    }
    log.warn({ source: this.key, reason: describeError(err) }, 'firehose error')
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

async function raceTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise((r) => (t = setTimeout(r, ms)))])
  if (t) clearTimeout(t)
}
