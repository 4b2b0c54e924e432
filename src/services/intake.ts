// Records in: every decoded event (from the firehose/backfill, or this meshlet's own writes) is
// applied to the view first, then routed to the loops that care. Decoding and validation already
// happened at the edge (adapters/atproto/decode.ts); authorisation and side effects come after.
import { NSID, type AtUri, type RecordEvent, type Rejection } from '../core/types.js'
import type { CommuneView } from '../core/view.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'

export interface IntakeListeners {
  linkageChanged(): void
  workloadChanged(uri: AtUri): void
  workloadDeleted(uri: AtUri): void
  workloadRejected(rejection: Rejection, cid: string | undefined): void
  peersChanged(): void
}

const LINKAGE = new Set<string>([NSID.meshlet, NSID.meshletOwner, NSID.membership])

export class IntakeService {
  events = 0
  rejected = 0
  private listeners: IntakeListeners | undefined

  constructor(
    private readonly view: CommuneView,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  connect(listeners: IntakeListeners): void {
    this.listeners = listeners
  }

  handle(event: RecordEvent): void {
    this.events++
    if (event.op === 'rejected') {
      this.rejected++
      this.log.warn({ uri: event.uri }, `rejected record: ${event.reason}`)
    }
    const change = this.view.apply(event, this.clock.now())
    const l = this.listeners
    if (!l) return
    const collection = event.collection
    if (LINKAGE.has(collection)) l.linkageChanged()
    else if (collection === NSID.profile) l.peersChanged()
    else if (collection === NSID.workload) {
      if (event.op === 'delete') l.workloadDeleted(event.uri)
      else if (event.op === 'rejected') l.workloadRejected({ uri: event.uri, did: event.did, collection, reason: event.reason }, event.cid)
      else l.workloadChanged(event.uri)
    } else if (change.workloadUri) l.workloadChanged(change.workloadUri)
  }
}
