// Records in: every decoded event (from the firehose/backfill, or this meshlet's own writes) is
// applied to the view first, then routed to the loops that care. Decoding and validation already
// happened at the edge (adapters/atproto/decode.ts); authorisation and side effects come after.
import { NSID, type AtUri, type RecordEvent, type Rejection } from '../core/types.js'
import type { CommuneView } from '../core/view.js'
import { Receipts, futureDatedProblem } from '../core/liveness.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'

export interface IntakeListeners {
  linkageChanged(): void
  workloadChanged(uri: AtUri): void
  workloadDeleted(uri: AtUri): void
  workloadRejected(rejection: Rejection, cid: string | undefined): void
  peersChanged(): void
  /** Secrets (issue 13): an owner's secret record changed (put, delete or rejected). */
  secretChanged?(owner: string, name: string): void
}

const LINKAGE = new Set<string>([NSID.meshlet, NSID.meshletOwner, NSID.membership])
/** A full view is said at most this often (a flood would otherwise log every record it sends). */
export const VIEW_FULL_WARN_MS = 60_000

export class IntakeService {
  events = 0
  rejected = 0
  private fullWarnedAt: number | undefined
  /** view.droppedRecords() when the last "view full" line was written. */
  private droppedAtWarn = 0
  /** When each repo's last record arrived here (monotonic): liveness (docs/protocol.md, Liveness by receipt). */
  readonly receipts = new Receipts()
  private readonly view: CommuneView
  private readonly clock: Clock
  private readonly log: Logger
  /** Who is told what changed; none in tests of the view alone. */
  private readonly listeners: IntakeListeners | undefined
  /** appview (issue 15): sees every event as judged here (metrics, the web view's live feed). */
  private readonly observe: ((event: RecordEvent) => void) | undefined
  /** liveness (issue 16 part 3): every accepted event at its receipt time (suspicions, refutations). */
  private readonly received: ((event: RecordEvent, monoAt: number) => void) | undefined

  constructor(opts: { view: CommuneView; clock: Clock; log: Logger; listeners?: IntakeListeners; observe?: (event: RecordEvent) => void; received?: (event: RecordEvent, monoAt: number) => void }) {
    ;({ view: this.view, clock: this.clock, log: this.log, listeners: this.listeners, observe: this.observe, received: this.received } = opts)
  }

  handle(event: RecordEvent): void {
    this.events++
    if (event.op === 'put') {
      // Judged against this peer's wall clock at receipt: a record dated that far ahead is not
      // believed (its clock is off, or it games windows and epochs), and shows as a rejection.
      const future = futureDatedProblem(event.record, this.clock.now())
      if (future) event = { op: 'rejected', did: event.did, collection: event.collection, rkey: event.rkey, uri: event.uri, cid: event.cid, reason: future }
    }
    // Receipt, not the writer's timestamp, keeps a meshlet alive. A backfill counts as received
    // now (after a restart every meshlet with records gets one lease); the record source drops
    // re-deliveries of a record it already handed over (uri+cid), so a re-read revives nobody.
    if (event.op !== 'rejected') {
      const at = this.clock.monotonic()
      this.receipts.note(event.did, at)
      this.received?.(event, at) // liveness (issue 16 part 3)
    }
    if (event.op === 'rejected') {
      this.rejected++
      this.log.warn({ uri: event.uri }, `rejected record: ${event.reason}`)
    }
    const change = this.view.apply(event, this.clock.now())
    if (change.full) this.viewFull(change.full)
    this.observe?.(event)
    const l = this.listeners
    if (!l) return
    const collection = event.collection
    if (LINKAGE.has(collection)) l.linkageChanged()
    else if (collection === NSID.profile) l.peersChanged()
    else if (collection === NSID.secret) l.secretChanged?.(event.did, event.rkey)
    else if (collection === NSID.workload) {
      if (event.op === 'delete') l.workloadDeleted(event.uri)
      else if (event.op === 'rejected') l.workloadRejected({ uri: event.uri, did: event.did, collection, reason: event.reason }, event.cid)
      else l.workloadChanged(event.uri)
    } else if (change.workloadUri) l.workloadChanged(change.workloadUri)
  }

  /** Says, at most once a VIEW_FULL_WARN_MS, that the view bound is dropping records and how to raise it. */
  private viewFull(reason: string): void {
    const at = this.clock.monotonic()
    if (this.fullWarnedAt !== undefined && at - this.fullWarnedAt < VIEW_FULL_WARN_MS) return
    const { maxRecords, maxBytes } = this.view.limits()
    this.log.warn(
      { dropped: this.view.droppedRecords() - this.droppedAtWarn, records: this.view.records(), bytes: this.view.bytes(), maxRecords, maxBytes },
      `view full, records dropped: ${reason}. A flood costs only its sender; if this commune is simply large, raise --view-max-records / --view-max-mb`,
    )
    this.fullWarnedAt = at
    this.droppedAtWarn = this.view.droppedRecords()
  }
}
