// Intake from the AT network: our collections from the tracked repos, live from
// com.atproto.sync.subscribeRepos (one stream per PDS, or one relay) with verified signatures,
// plus listRecords backfill on start, for new repos and after any gap. This file tracks the repos
// (which PDS, which stream, following moves) and backfills them; the parts with a job of their own:
//   firehose-stream.ts   one subscription: serial queue, stored cursor, reconnects
//   record-emitter.ts    what the handler is told: dedup by uri+cid, deletes once, decoding
//   repo-backfill.ts     one repo's backfill: head rev, listRecords, reconcile, retry
//   rev-floors.ts        per repo, the rev up to which the view is complete
//   known-index.ts       the persisted record keys per repo+collection (deletes made while down)
//   serial-queue.ts      one task at a time, in order
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
import { backoffMs } from '@atproto/common-web'
import type { Event as FirehoseEvent } from '@atproto/sync'
import { isValidDid } from '@atproto/syntax'
import type { Did } from '../../core/types.js'
import { ConfigError, MeshletError, describeError } from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'
import type { CursorStore } from '../../ports/cursor-store.js'
import type { RecordHandler, RecordSource } from '../../ports/record-source.js'
import type { HintApplied, ProvenRecord } from '../../ports/record-hints.js'
import { applyHinted } from './hinted-records.js'
import type { DecodeOptions } from './decode.js'
import { FirehoseStream, type StreamOwner } from './firehose-stream.js'
import type { AtprotoIdentityResolver } from './identity.js'
import { KnownIndex } from './known-index.js'
import { RecordEmitter } from './record-emitter.js'
import { RepoBackfill, type BackfillState } from './repo-backfill.js'
import { RevFloors } from './rev-floors.js'
import { pdsUrlProblem, toWsUrl } from './ws-url.js'

export { toWsUrl } from './ws-url.js'

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

interface RepoInfo extends BackfillState {
  pds?: string
  sourceKey?: string
  resolveFailures: number
  retryTimer?: NodeJS.Timeout
}

export class AtprotoRecordSource implements RecordSource, StreamOwner {
  private readonly log: Logger
  private readonly identity: AtprotoIdentityResolver
  private readonly store: CursorStore
  private readonly relayKey?: string
  private readonly allowInsecureHttp: boolean
  private readonly reconnectBaseMs: number
  private readonly reconnectMaxMs: number
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly settleMs: number
  private readonly identityRefreshMs: number

  private handler?: RecordHandler
  private stopped = false
  private tracked = new Set<Did>()
  private readonly repos = new Map<Did, RepoInfo>()
  private readonly sources = new Map<string, FirehoseStream>()
  private readonly floors = new RevFloors()
  private readonly known: KnownIndex
  private readonly emitter: RecordEmitter
  private readonly backfiller: RepoBackfill
  private refreshTimer?: NodeJS.Timeout
  /** appview (issue 15): per stream, how late the newest commit was when handled (ms). */
  private readonly lagMs = new Map<string, number>()

  constructor(opts: AtprotoRecordSourceOptions) {
    this.identity = opts.identity
    this.store = opts.cursorStore
    this.allowInsecureHttp = opts.allowInsecureHttp ?? false
    this.log = opts.logger ?? createLogger('meshlet:record-source')
    this.reconnectBaseMs = opts.reconnectBaseMs ?? 500
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 10_000
    this.retryBaseMs = opts.retryBaseMs ?? 2000
    this.retryMaxMs = opts.retryMaxMs ?? 60_000
    this.settleMs = opts.settleMs ?? 1500
    this.identityRefreshMs = opts.identityRefreshMs ?? 5 * 60_000
    this.known = new KnownIndex(this.store, this.log)
    this.emitter = new RecordEmitter(this.known, opts.decodeOptions ?? {}, this.log)
    this.backfiller = new RepoBackfill({
      floors: this.floors,
      emitter: this.emitter,
      readOpts: opts.fetch ? { fetch: opts.fetch } : {},
      retryBaseMs: this.retryBaseMs,
      retryMaxMs: this.retryMaxMs,
      log: this.log,
    })
    if (opts.relayUrl !== undefined) {
      const key = toWsUrl(opts.relayUrl)
      if (!key) throw new ConfigError(`relay URL "${opts.relayUrl}" is not an http(s) or ws(s) URL`, 'firehose')
      if (key.startsWith('ws:') && !this.allowInsecureHttp) {
        throw new ConfigError(`relay URL "${opts.relayUrl}" is not encrypted (use wss:// or https://, or allow insecure http for local tests)`, 'firehose')
      }
      this.relayKey = key
    }
  }

  get active(): boolean {
    return !this.stopped
  }

  async start(handler: RecordHandler): Promise<void> {
    if (this.stopped) throw new MeshletError('record source was stopped; create a new one')
    if (this.handler) throw new MeshletError('record source already started')
    this.handler = handler
    this.emitter.handler = handler
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
    this.emitter.handler = undefined
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
    const problem = pdsUrlProblem(pds, this.allowInsecureHttp)
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
    const retryInMs = Math.round(backoffMs(info.resolveFailures++, this.retryBaseMs, this.retryMaxMs))
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
        old.drop(did)
        this.closeIfUnused(old)
      }
    }
    info.sourceKey = key
    const src = this.ensureSource(key, this.relayKey !== undefined)
    src.dids.add(did)
    src.scheduleBackfill(did)
  }

  private detach(did: Did): void {
    const info = this.repos.get(did)
    this.repos.delete(did)
    this.emitter.forget(did)
    this.floors.forget(did)
    if (!info) return
    clearTimers(info)
    const src = info.sourceKey ? this.sources.get(info.sourceKey) : undefined
    if (src) {
      src.drop(did)
      this.closeIfUnused(src)
    }
  }

  accepts(src: FirehoseStream, did: string): boolean {
    if (!this.tracked.has(did)) return false
    return src.relay || this.repos.get(did)?.sourceKey === src.key
  }

  private async recheckIdentity(did: Did, force: boolean): Promise<void> {
    try {
      const { pds } = await this.identity.resolve(did, { force })
      const info = this.repos.get(did)
      if (!info || !this.tracked.has(did) || this.stopped || info.pds === pds) return
      const problem = pdsUrlProblem(pds, this.allowInsecureHttp)
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

  // ---- sources (one firehose stream each) ---------------------------------------------------

  private ensureSource(key: string, relay: boolean): FirehoseStream {
    const existing = this.sources.get(key)
    if (existing) return existing
    const src = new FirehoseStream({
      key,
      relay,
      store: this.store,
      idResolver: this.identity.idResolver,
      owner: this,
      log: this.log,
      reconnectBaseMs: this.reconnectBaseMs,
      reconnectMaxMs: this.reconnectMaxMs,
      settleMs: this.settleMs,
    })
    this.sources.set(key, src)
    return src
  }

  private closeIfUnused(src: FirehoseStream): void {
    if (!src.relay && src.dids.size === 0) void this.closeSource(src)
  }

  private async closeSource(src: FirehoseStream): Promise<void> {
    if (this.sources.get(src.key) === src) this.sources.delete(src.key)
    await src.close()
  }

  eventHandled(did: string): void {
    this.floors.commitHandled(did)
  }

  flush(): Promise<void> {
    return this.known.flush()
  }

  lag(): { source: string; lagMs: number }[] {
    return [...this.lagMs].filter(([, ms]) => Number.isFinite(ms)).map(([source, lagMs]) => ({ source, lagMs }))
  }

  async handleEvent(src: FirehoseStream, evt: FirehoseEvent): Promise<void> {
    switch (evt.event) {
      case 'create':
      case 'update':
      case 'delete': {
        if (!this.accepts(src, evt.did)) return
        this.lagMs.set(src.key, Date.now() - Date.parse(evt.time))
        if (this.floors.covers(evt.did, evt.rev)) return
        if (evt.event === 'delete') await this.emitter.delete(evt.did, evt.collection, evt.rkey, evt.rev)
        else await this.emitter.put(evt.did, evt.collection, evt.rkey, evt.cid.toString(), evt.record, evt.rev)
        // Ops of one commit share its rev: the floor rises once the whole commit is handled (eventHandled).
        this.floors.handlingOp(evt.did, evt.rev)
        return
      }
      case 'identity':
      case 'account':
        if (this.tracked.has(evt.did)) await this.recheckIdentity(evt.did, true)
        return
      case 'sync':
        if (this.accepts(src, evt.did)) {
          this.log.info({ did: evt.did, source: src.key }, 'repo announced a #sync; backfilling it')
          src.scheduleBackfill(evt.did)
        }
        return
    }
  }

  // ---- notify (issue 16): hinted records ------------------------------------------------------
  tracks(did: Did): boolean {
    return this.tracked.has(did)
  }
  knows(did: Did, collection: string, rkey: string, cid: string): boolean {
    return this.emitter.told(did, collection, rkey) === cid
  }

  /** A proven record from a hint, through the same emitter on the repo's queue (hinted-records.ts). */
  async hinted(r: ProvenRecord): Promise<HintApplied> {
    const info = this.repos.get(r.did)
    const src = info?.sourceKey ? this.sources.get(info.sourceKey) : undefined
    if (!this.tracked.has(r.did) || !src || src.closed || this.stopped) return 'untracked'
    const wanted = () => this.tracked.has(r.did) && this.repos.get(r.did) === info
    return applyHinted({ queue: src.queue, emitter: this.emitter, wanted, floor: () => this.floors.floor(r.did), flush: () => this.known.flush() }, r)
  }

  // ---- backfill -------------------------------------------------------------------------------

  /** Reads one repo into the handler (repo-backfill.ts); true when the repo is now known up to its head. */
  async backfill(src: FirehoseStream, did: Did): Promise<boolean> {
    const info = this.repos.get(did)
    if (!info?.pds || info.sourceKey !== src.key || !this.tracked.has(did) || src.closed || this.stopped) return false
    return this.backfiller.run(info, {
      pds: info.pds,
      wanted: () => this.tracked.has(did) && !src.closed && !this.stopped && this.repos.get(did) === info,
      ended: () => this.stopped || src.closed,
      retry: () => {
        const s = info.sourceKey ? this.sources.get(info.sourceKey) : undefined
        if (s && this.repos.get(did) === info) s.scheduleBackfill(did)
      },
    })
  }
}

function clearTimers(info: RepoInfo): void {
  if (info.retryTimer) clearTimeout(info.retryTimer)
  if (info.backfillTimer) clearTimeout(info.backfillTimer)
  info.retryTimer = undefined
  info.backfillTimer = undefined
}
