// Intake from the AT network: our collections from the tracked repos, live from
// com.atproto.sync.subscribeRepos (one stream per PDS, or one relay) with verified signatures,
// plus listRecords backfill on start, for new repos and after any gap.
//
// How nothing is missed and nothing stale is replayed:
// - Each source has ONE serial queue: events and backfills run in arrival order, so a backfill
//   sees the repo no earlier than the events queued before it.
// - A backfill reads the repo head rev first, then lists; stream commits with rev <= that rev are
//   already reflected in the listing and are skipped (same for commits already handled live).
// - The seq cursor is stored after the event is handled; every (re)connect backfills the source's
//   repos (a cheap head check when nothing changed), which also covers an outdated cursor.
// - Puts are deduplicated by uri+cid; deletes while offline come from a persisted set of the
//   records the handler was told about (per repo+collection).
import {
  Firehose,
  FirehoseHandlerError,
  FirehoseParseError,
  FirehoseSubscriptionError,
  FirehoseValidationError,
  type Event as FirehoseEvent,
  type EventRunner,
} from '@atproto/sync'
import { isValidDid } from '@atproto/syntax'
import { COLLECTIONS, type Cid, type Did, type RecordEvent } from '../../core/types.js'
import { ConfigError, MeshletError, describeError } from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'
import type { CursorStore } from '../../ports/cursor-store.js'
import type { RecordHandler, RecordSource } from '../../ports/record-source.js'
import { decodeRecord, recordUri, type DecodeOptions } from './decode.js'
import type { AtprotoIdentityResolver } from './identity.js'
import { getLatestCommit, listAllRecords, type ListedRecord, type RepoReadOptions } from './repo-reader.js'

export interface AtprotoRecordSourceOptions {
  identity: AtprotoIdentityResolver
  cursorStore: CursorStore
  /** Subscribe to this relay instead of each member's PDS. */
  relayUrl?: string
  /** Dev/test only: allow http:// PDSes and ws:// streams (loopback devnet). */
  allowInsecureHttp?: boolean
  logger?: Logger
  decodeOptions?: DecodeOptions
  /** First delay after a stream ended or failed fatally; doubles with jitter up to reconnectMaxMs. */
  reconnectBaseMs?: number
  reconnectMaxMs?: number
  /** Retry of unresolvable DIDs and failed backfills: base and cap of the backoff. */
  retryBaseMs?: number
  retryMaxMs?: number
  /** With no stored cursor, backfill again once the stream is live (first event, or after this long). */
  settleMs?: number
  /** How often tracked DIDs are re-resolved to follow PDS moves (0 = only on identity events). */
  identityRefreshMs?: number
  /** HTTP client for listRecords/getLatestCommit (tests). */
  fetch?: typeof globalThis.fetch
}

const DELETED = ''

interface RepoInfo {
  did: Did
  pds?: string
  sourceKey?: string
  resolveFailures: number
  backfillFailures: number
  retryTimer?: NodeJS.Timeout
  backfillTimer?: NodeJS.Timeout
}

interface Source {
  key: string
  relay: boolean
  dids: Set<Did>
  queue: SerialQueue
  cursor?: number
  ready: Promise<void>
  connects: number
  failures: number
  backfillPending: Set<Did>
  settleTimer?: NodeJS.Timeout
  settlePending: boolean
  abort: AbortController
  firehose?: Firehose
  running: boolean
  loop?: Promise<void>
  closed: boolean
}

export class AtprotoRecordSource implements RecordSource {
  private readonly log: Logger
  private readonly identity: AtprotoIdentityResolver
  private readonly store: CursorStore
  private readonly relayKey?: string
  private readonly allowInsecureHttp: boolean
  private readonly decodeOptions: DecodeOptions
  private readonly reconnectBaseMs: number
  private readonly reconnectMaxMs: number
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly settleMs: number
  private readonly identityRefreshMs: number
  private readonly readOpts: RepoReadOptions

  private handler?: RecordHandler
  private stopped = false
  private tracked = new Set<Did>()
  private readonly repos = new Map<Did, RepoInfo>()
  private readonly sources = new Map<string, Source>()
  /** uri path -> last cid told to the handler in this process ('' = deleted). */
  private readonly seen = new Map<Did, Map<string, Cid>>()
  /** Repo rev up to which the handler's view is complete (backfilled or handled live). */
  private readonly floors = new Map<Did, string>()
  /** Rev of the commit being handled, per repo; becomes the floor once all its ops are through. */
  private readonly handledRev = new Map<Did, string>()
  private readonly known: KnownIndex
  private refreshTimer?: NodeJS.Timeout

  constructor(opts: AtprotoRecordSourceOptions) {
    this.identity = opts.identity
    this.store = opts.cursorStore
    this.allowInsecureHttp = opts.allowInsecureHttp ?? false
    this.log = opts.logger ?? createLogger('meshlet:record-source')
    this.decodeOptions = opts.decodeOptions ?? {}
    this.reconnectBaseMs = opts.reconnectBaseMs ?? 500
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 10_000
    this.retryBaseMs = opts.retryBaseMs ?? 2000
    this.retryMaxMs = opts.retryMaxMs ?? 60_000
    this.settleMs = opts.settleMs ?? 1500
    this.identityRefreshMs = opts.identityRefreshMs ?? 5 * 60_000
    this.readOpts = opts.fetch ? { fetch: opts.fetch } : {}
    this.known = new KnownIndex(this.store, this.log)
    if (opts.relayUrl !== undefined) {
      const key = toWsUrl(opts.relayUrl)
      if (!key) throw new ConfigError(`relay URL "${opts.relayUrl}" is not an http(s) or ws(s) URL`, 'firehose')
      if (key.startsWith('ws:') && !this.allowInsecureHttp) {
        throw new ConfigError(`relay URL "${opts.relayUrl}" is not encrypted (use wss:// or https://, or allow insecure http for local tests)`, 'firehose')
      }
      this.relayKey = key
    }
  }

  async start(handler: RecordHandler): Promise<void> {
    if (this.stopped) throw new MeshletError('record source was stopped; create a new one')
    if (this.handler) throw new MeshletError('record source already started')
    this.handler = handler
    if (this.relayKey) this.ensureSource(this.relayKey, true)
    if (this.identityRefreshMs > 0) {
      this.refreshTimer = setInterval(() => {
        for (const did of this.tracked) void this.recheckIdentity(did, false)
      }, this.identityRefreshMs)
      this.refreshTimer.unref()
    }
    await Promise.all([...this.tracked].map((did) => this.attach(did)))
  }

  async setRepos(dids: Did[]): Promise<void> {
    const next = new Set<Did>()
    for (const did of dids) {
      if (typeof did === 'string' && isValidDid(did)) next.add(did)
      else this.log.warn({ did }, 'ignoring a malformed DID in the tracked set')
    }
    const added = [...next].filter((d) => !this.tracked.has(d))
    const removed = [...this.tracked].filter((d) => !next.has(d))
    this.tracked = next
    for (const did of removed) this.detach(did)
    if (!this.handler || this.stopped) return
    await Promise.all(added.map((did) => this.attach(did)))
  }

  isSynced(did: Did): boolean {
    return this.floors.has(did)
  }

  /**
   * Re-reads every tracked repo now (a cheap head check when nothing changed) and resolves once
   * all are read: true when every one succeeded. A peer that lost touch with its PDSes calls this
   * before acting again, since its stream may have been silent without noticing the gap.
   */
  async resync(): Promise<boolean> {
    const results = await Promise.all(
      [...this.tracked].map(async (did) => {
        const info = this.repos.get(did)
        const src = info?.sourceKey ? this.sources.get(info.sourceKey) : undefined
        if (!info || !src || src.closed) return false
        let ok = false
        await src.queue.add(async () => {
          ok = await this.backfill(src, did)
          await this.known.flush()
        })
        return ok
      }),
    )
    return results.every(Boolean)
  }

  async processAll(): Promise<void> {
    // Handling an event can queue more work (a backfill after #sync): loop until everything is quiet.
    for (let round = 0; round < 1000; round++) {
      const busy = [...this.sources.values()].filter((s) => s.queue.size > 0)
      if (busy.length === 0) return
      await Promise.all(busy.map((s) => s.queue.onIdle()))
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.refreshTimer) clearInterval(this.refreshTimer)
    for (const info of this.repos.values()) clearTimers(info)
    const sources = [...this.sources.values()]
    await Promise.all(sources.map((s) => this.closeSource(s)))
    await Promise.all(sources.map((s) => s.queue.onIdle()))
    await this.known.flush()
    this.handler = undefined
  }

  // ---- tracked repos ------------------------------------------------------------------------

  private repoInfo(did: Did): RepoInfo {
    let info = this.repos.get(did)
    if (!info) {
      info = { did, resolveFailures: 0, backfillFailures: 0 }
      this.repos.set(did, info)
    }
    return info
  }

  private async attach(did: Did): Promise<void> {
    if (!this.tracked.has(did) || this.stopped) return
    const info = this.repoInfo(did)
    if (info.retryTimer) clearTimeout(info.retryTimer)
    info.retryTimer = undefined
    let pds: string
    try {
      pds = (await this.identity.resolve(did)).pds
    } catch (err) {
      this.attachFailed(did, describeError(err))
      return
    }
    if (!this.tracked.has(did) || this.stopped) return
    const problem = this.pdsProblem(pds)
    if (problem) {
      this.attachFailed(did, problem)
      return
    }
    info.resolveFailures = 0
    this.place(did, pds)
  }

  private attachFailed(did: Did, reason: string): void {
    const info = this.repos.get(did)
    if (!info || this.stopped) return
    const retryInMs = Math.round(backoff(info.resolveFailures++, this.retryBaseMs, this.retryMaxMs))
    this.log.warn({ did, reason, retryInMs }, 'cannot follow a tracked repo yet; will retry')
    info.retryTimer = setTimeout(() => void this.attach(did), retryInMs)
    info.retryTimer.unref()
  }

  /** Puts `did` on the source for `pds` (moving it if it was elsewhere) and backfills it there. */
  private place(did: Did, pds: string): void {
    const info = this.repoInfo(did)
    const key = this.relayKey ?? toWsUrl(pds)!
    const prevKey = info.sourceKey
    info.pds = pds
    if (prevKey !== undefined && prevKey !== key) {
      const old = this.sources.get(prevKey)
      if (old) {
        old.dids.delete(did)
        old.backfillPending.delete(did)
        this.closeIfUnused(old)
      }
    }
    info.sourceKey = key
    const src = this.ensureSource(key, this.relayKey !== undefined)
    src.dids.add(did)
    this.scheduleBackfill(src, did)
  }

  private detach(did: Did): void {
    const info = this.repos.get(did)
    this.repos.delete(did)
    this.seen.delete(did)
    this.floors.delete(did)
    this.handledRev.delete(did)
    this.known.forget(did)
    if (!info) return
    clearTimers(info)
    const src = info.sourceKey ? this.sources.get(info.sourceKey) : undefined
    if (src) {
      src.dids.delete(did)
      src.backfillPending.delete(did)
      this.closeIfUnused(src)
    }
  }

  private accepts(src: Source, did: string): boolean {
    if (!this.tracked.has(did)) return false
    return src.relay || this.repos.get(did)?.sourceKey === src.key
  }

  private pdsProblem(pds: string): string | undefined {
    const ws = toWsUrl(pds)
    if (!ws || !/^https?:/.test(pds)) return `PDS endpoint "${pds}" is not an http(s) URL`
    if (ws.startsWith('ws:') && !this.allowInsecureHttp) return `PDS ${pds} uses plain http (only allowed for local tests)`
    return undefined
  }

  private async recheckIdentity(did: Did, force: boolean): Promise<void> {
    try {
      const { pds } = await this.identity.resolve(did, { force })
      const info = this.repos.get(did)
      if (!info || !this.tracked.has(did) || this.stopped || info.pds === pds) return
      const problem = this.pdsProblem(pds)
      if (problem) {
        this.log.warn({ did, reason: problem }, 'tracked repo moved to an unusable PDS')
        return
      }
      this.log.info({ did, from: info.pds, to: pds }, 'tracked repo moved to another PDS; following it')
      this.place(did, pds)
    } catch (err) {
      this.log.warn({ did, reason: describeError(err) }, 'cannot re-resolve a tracked repo')
    }
  }

  // ---- sources (one firehose each) --------------------------------------------------------

  private ensureSource(key: string, relay: boolean): Source {
    const existing = this.sources.get(key)
    if (existing) return existing
    const src: Source = {
      key,
      relay,
      dids: new Set(),
      queue: new SerialQueue(this.log),
      ready: Promise.resolve(),
      connects: 0,
      failures: 0,
      backfillPending: new Set(),
      settlePending: false,
      abort: new AbortController(),
      running: false,
      closed: false,
    }
    src.ready = this.store.getCursor(key).then(
      (c) => {
        src.cursor = c
      },
      (err) => this.log.warn({ source: key, reason: describeError(err) }, 'cannot read the stored cursor; starting live'),
    )
    this.sources.set(key, src)
    src.loop = this.run(src)
    return src
  }

  private closeIfUnused(src: Source): void {
    if (!src.relay && src.dids.size === 0) void this.closeSource(src)
  }

  private async closeSource(src: Source): Promise<void> {
    if (src.closed) return
    src.closed = true
    if (this.sources.get(src.key) === src) this.sources.delete(src.key)
    src.abort.abort()
    if (src.settleTimer) clearTimeout(src.settleTimer)
    src.queue.clear()
    // Firehose.destroy() waits out its own reconnect delay when it is between attempts: do not hang on it.
    if (src.running && src.firehose) await raceTimeout(src.firehose.destroy().catch(() => {}), 2000)
    if (src.loop) await raceTimeout(src.loop, 2000)
  }

  /** Keeps one Firehose running for `src` until the source closes; the loop never dies. */
  private async run(src: Source): Promise<void> {
    await src.ready
    while (!src.closed && !this.stopped) {
      const runner: EventRunner = {
        getCursor: () => this.onConnectAttempt(src),
        trackEvent: (did, seq, handler) => this.track(src, did, seq, handler),
      }
      const firehose = new Firehose({
        service: src.key,
        idResolver: this.identity.idResolver,
        runner,
        filterCollections: [...COLLECTIONS],
        handleEvent: (evt) => this.handleEvent(src, evt),
        onError: (err) => this.onFirehoseError(src, firehose, err),
        unauthenticatedCommits: false,
        unauthenticatedHandles: true,
        maxReconnectSeconds: Math.max(1, Math.round(this.reconnectMaxMs / 1000)),
        subscriptionReconnectDelay: this.reconnectBaseMs,
      })
      src.firehose = firehose
      src.running = true
      try {
        await firehose.start()
      } catch (err) {
        this.log.warn({ source: src.key, reason: describeError(err) }, 'firehose loop failed')
      } finally {
        src.running = false
      }
      if (src.closed || this.stopped) break
      const retryInMs = Math.round(backoff(src.failures++, this.reconnectBaseMs, this.reconnectMaxMs))
      this.log.warn({ source: src.key, retryInMs }, 'firehose stream ended; reconnecting')
      await sleep(retryInMs, src.abort.signal)
    }
  }

  /** Called by the subscription before every connection attempt: the one place a gap can open. */
  private async onConnectAttempt(src: Source): Promise<number | undefined> {
    await src.ready
    src.connects++
    this.log.info({ source: src.key, cursor: src.cursor, attempt: src.connects }, src.connects === 1 ? 'subscribing to firehose' : 'resubscribing to firehose; backfilling to cover the gap')
    for (const did of src.dids) this.scheduleBackfill(src, did)
    if (src.cursor === undefined && !src.closed) {
      // Live-from-now: writes between our listing and the server registering us would fall in
      // between. Backfill once more when the stream is certainly live.
      src.settlePending = true
      if (src.settleTimer) clearTimeout(src.settleTimer)
      src.settleTimer = setTimeout(() => this.settle(src), this.settleMs)
      src.settleTimer.unref()
    }
    return src.cursor
  }

  private settle(src: Source): void {
    if (!src.settlePending || src.closed) return
    src.settlePending = false
    if (src.settleTimer) clearTimeout(src.settleTimer)
    for (const did of src.dids) this.scheduleBackfill(src, did)
  }

  private track(src: Source, did: string, seq: number, handler: () => Promise<void>): Promise<void> {
    if (src.closed || this.stopped) return Promise.resolve()
    src.failures = 0
    const done = src.queue.add(async () => {
      if (src.closed) return
      // Untracked repos cost nothing: their events are neither parsed nor verified.
      if (this.accepts(src, did)) {
        await handler()
        const rev = this.handledRev.get(did)
        if (rev !== undefined) {
          this.handledRev.delete(did)
          // A live commit completes the view only on top of a backfill. Before the first one, raising
          // the floor would make that backfill skip the repo (head <= floor) and lose older records.
          if (this.floors.has(did)) this.setFloor(did, rev)
        }
      }
      await this.known.flush()
      await this.advanceCursor(src, seq)
    })
    if (src.settlePending) this.settle(src)
    return done
  }

  private async advanceCursor(src: Source, seq: number): Promise<void> {
    if (src.cursor !== undefined && seq <= src.cursor) return
    src.cursor = seq
    try {
      await this.store.setCursor(src.key, seq)
    } catch (err) {
      this.log.error({ source: src.key, seq, reason: describeError(err) }, 'cannot store the firehose cursor')
    }
  }

  private async handleEvent(src: Source, evt: FirehoseEvent): Promise<void> {
    switch (evt.event) {
      case 'create':
      case 'update':
      case 'delete': {
        if (!this.accepts(src, evt.did)) return
        const floor = this.floors.get(evt.did)
        if (floor !== undefined && evt.rev <= floor) return
        if (evt.event === 'delete') await this.emitDelete(evt.did, evt.collection, evt.rkey)
        else await this.emitPut(evt.did, evt.collection, evt.rkey, evt.cid.toString(), evt.record)
        // Ops of one commit share its rev: the floor rises once the whole commit is handled (in track()).
        this.handledRev.set(evt.did, evt.rev)
        return
      }
      case 'identity':
      case 'account':
        if (this.tracked.has(evt.did)) await this.recheckIdentity(evt.did, true)
        return
      case 'sync':
        if (this.accepts(src, evt.did)) {
          this.log.info({ did: evt.did, source: src.key }, 'repo announced a #sync; backfilling it')
          this.scheduleBackfill(src, evt.did)
        }
        return
    }
  }

  private setFloor(did: Did, rev: string): void {
    const cur = this.floors.get(did)
    if (cur === undefined || rev > cur) this.floors.set(did, rev)
  }

  private onFirehoseError(src: Source, firehose: Firehose, err: Error): void {
    if (err instanceof FirehoseSubscriptionError) {
      const cause = err.cause as { error?: unknown } | undefined
      if (cause?.error === 'FutureCursor') {
        this.log.warn({ source: src.key, cursor: src.cursor }, 'stored cursor is ahead of the server (was it reset?); continuing live and backfilling')
        src.cursor = undefined
      } else {
        this.log.warn({ source: src.key, reason: describeError(err.cause ?? err) }, 'firehose connection failed; reconnecting')
      }
      // Firehose reads this before it waits to restart: make its delay our backoff with jitter.
      firehose.opts.subscriptionReconnectDelay = Math.round(backoff(src.failures++, this.reconnectBaseMs, this.reconnectMaxMs))
      return
    }
    if (err instanceof FirehoseParseError) {
      const evt = err.event as { repo?: unknown; did?: unknown }
      const did = typeof evt.repo === 'string' ? evt.repo : typeof evt.did === 'string' ? evt.did : undefined
      this.log.warn({ source: src.key, did, reason: describeError(err.cause ?? err) }, 'cannot verify a firehose event; backfilling the repo instead')
      if (did && this.accepts(src, did)) this.scheduleBackfill(src, did)
      return
    }
    if (err instanceof FirehoseValidationError) {
      this.log.warn({ source: src.key, reason: describeError(err.cause ?? err) }, 'ignoring a malformed firehose message')
      return
    }
    if (err instanceof FirehoseHandlerError) {
      this.log.error({ source: src.key, reason: describeError(err.cause ?? err) }, 'firehose event handling failed')
      return
    }
    this.log.warn({ source: src.key, reason: describeError(err) }, 'firehose error')
  }

  // ---- backfill -------------------------------------------------------------------------------

  private scheduleBackfill(src: Source, did: Did): void {
    if (src.closed || this.stopped || src.backfillPending.has(did)) return
    src.backfillPending.add(did)
    void src.queue.add(async () => {
      src.backfillPending.delete(did)
      await this.backfill(src, did)
      await this.known.flush()
    })
  }

  /** Reads one repo into the handler; true when the repo is now known up to its head. */
  private async backfill(src: Source, did: Did): Promise<boolean> {
    const info = this.repos.get(did)
    if (!info?.pds || info.sourceKey !== src.key || !this.tracked.has(did) || src.closed || this.stopped) return false
    const pds = info.pds
    try {
      const head = await getLatestCommit(pds, did, this.readOpts)
      const floor = this.floors.get(did)
      if (floor !== undefined && head.rev <= floor) {
        info.backfillFailures = 0
        return true
      }
      const lists = await Promise.all(COLLECTIONS.map((c) => listAllRecords(pds, did, c, this.readOpts)))
      if (!this.tracked.has(did) || src.closed || this.stopped || this.repos.get(did) !== info) return false
      let count = 0
      for (const [i, collection] of COLLECTIONS.entries()) {
        count += lists[i]!.length
        await this.reconcile(did, collection, lists[i]!)
      }
      this.setFloor(did, head.rev)
      info.backfillFailures = 0
      this.log.debug({ did, pds, rev: head.rev, records: count }, 'backfilled repo')
      return true
    } catch (err) {
      if (this.stopped || src.closed) return false
      const retryInMs = Math.round(backoff(info.backfillFailures++, this.retryBaseMs, this.retryMaxMs))
      this.log.warn({ did, pds, reason: describeError(err), retryInMs }, 'backfill failed; will retry')
      if (info.backfillTimer) clearTimeout(info.backfillTimer)
      info.backfillTimer = setTimeout(() => {
        const s = info.sourceKey ? this.sources.get(info.sourceKey) : undefined
        if (s && this.repos.get(did) === info) this.scheduleBackfill(s, did)
      }, retryInMs)
      info.backfillTimer.unref()
      return false
    }
  }

  /** Emits what changed in one repo+collection against what the handler was told. */
  private async reconcile(did: Did, collection: string, records: ListedRecord[]): Promise<void> {
    const known = await this.known.load(did, collection)
    const listed = new Set<string>()
    for (const r of records) {
      listed.add(r.rkey)
      await this.emitPut(did, collection, r.rkey, r.cid, r.value)
    }
    for (const rkey of [...known]) if (!listed.has(rkey)) await this.emitDelete(did, collection, rkey)
  }

  // ---- emission -------------------------------------------------------------------------------

  private seenOf(did: Did): Map<string, Cid> {
    let m = this.seen.get(did)
    if (!m) {
      m = new Map()
      this.seen.set(did, m)
    }
    return m
  }

  private async emitPut(did: Did, collection: string, rkey: string, cid: Cid, value: unknown): Promise<void> {
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

  private async emitDelete(did: Did, collection: string, rkey: string): Promise<void> {
    const seen = this.seenOf(did)
    const path = `${collection}/${rkey}`
    if (seen.get(path) === DELETED) return
    seen.set(path, DELETED)
    await this.known.remove(did, collection, rkey)
    await this.deliver({ op: 'delete', did, collection, rkey, uri: recordUri(did, collection, rkey) })
  }

  private async deliver(event: RecordEvent): Promise<void> {
    const handler = this.handler
    if (!handler || this.stopped) return
    try {
      await handler(event)
    } catch (err) {
      this.log.error({ uri: event.uri, op: event.op, reason: describeError(err) }, 'record handler failed; the event counts as handled')
    }
  }
}

/** Per repo+collection: the record keys some handler was told exist. Persisted, so deletes made while we were down are found. */
class KnownIndex {
  private readonly sets = new Map<string, Set<string>>()
  private readonly loading = new Map<string, Promise<Set<string>>>()
  private readonly dirty = new Set<string>()

  constructor(
    private readonly store: CursorStore,
    private readonly log: Logger,
  ) {}

  private static key(did: Did, collection: string): string {
    return `known:${did}:${collection}`
  }

  async load(did: Did, collection: string): Promise<Set<string>> {
    const key = KnownIndex.key(did, collection)
    const have = this.sets.get(key)
    if (have) return have
    let p = this.loading.get(key)
    if (!p) {
      p = this.store.getState<string[]>(key).then(
        (list) => new Set(Array.isArray(list) ? list.filter((x) => typeof x === 'string') : []),
        (err) => {
          this.log.warn({ key, reason: describeError(err) }, 'cannot read known records; starting empty')
          return new Set<string>()
        },
      )
      this.loading.set(key, p)
    }
    const set = await p
    this.loading.delete(key)
    if (!this.sets.has(key)) this.sets.set(key, set)
    return this.sets.get(key)!
  }

  async add(did: Did, collection: string, rkey: string): Promise<void> {
    const set = await this.load(did, collection)
    if (set.has(rkey)) return
    set.add(rkey)
    this.dirty.add(KnownIndex.key(did, collection))
  }

  async remove(did: Did, collection: string, rkey: string): Promise<void> {
    const set = await this.load(did, collection)
    if (set.delete(rkey)) this.dirty.add(KnownIndex.key(did, collection))
  }

  /** Drops the in-memory copy (the stored one stays, so a re-tracked repo still gets its offline deletes). */
  forget(did: Did): void {
    const prefix = `known:${did}:`
    for (const key of [...this.sets.keys()]) if (key.startsWith(prefix) && !this.dirty.has(key)) this.sets.delete(key)
  }

  async flush(): Promise<void> {
    for (const key of [...this.dirty]) {
      this.dirty.delete(key)
      const set = this.sets.get(key)
      if (!set) continue
      try {
        await this.store.setState(key, [...set])
      } catch (err) {
        this.log.error({ key, reason: describeError(err) }, 'cannot store known records')
      }
    }
  }
}

/** One task at a time, in order; a failing task is logged and the next one runs. */
class SerialQueue {
  private tail: Promise<void> = Promise.resolve()
  private pending = 0
  private generation = 0

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.pending
  }

  add(task: () => Promise<void>): Promise<void> {
    const gen = this.generation
    this.pending++
    const run = this.tail.then(async () => {
      try {
        if (gen === this.generation) await task()
      } catch (err) {
        this.log.error({ reason: describeError(err) }, 'intake task failed')
      } finally {
        this.pending--
      }
    })
    this.tail = run
    return run
  }

  /** Tasks not yet started are skipped; the running one finishes. */
  clear(): void {
    this.generation++
  }

  async onIdle(): Promise<void> {
    while (this.pending > 0) await this.tail
  }
}

/** ws(s)://host[:port] for an http(s) or ws(s) URL, or undefined. */
export function toWsUrl(url: string): string | undefined {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return undefined
  }
  if (u.protocol === 'http:' || u.protocol === 'ws:') return `ws://${u.host}`
  if (u.protocol === 'https:' || u.protocol === 'wss:') return `wss://${u.host}`
  return undefined
}

function backoff(attempt: number, baseMs: number, capMs: number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
  return exp / 2 + Math.random() * (exp / 2)
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

function clearTimers(info: RepoInfo): void {
  if (info.retryTimer) clearTimeout(info.retryTimer)
  if (info.backfillTimer) clearTimeout(info.backfillTimer)
  info.retryTimer = undefined
  info.backfillTimer = undefined
}
