// Turns what the peer already sees into metrics (issue 15), so no service needs a metrics call of its
// own: records at intake, every own write as it lands (bids, declines, claims, evictions, container
// states, PDS points), and the timeline's stage marks (placement latency).
import { NSID, type RecordEvent } from '../core/types.js'
import type { PeerMetrics } from '../ports/metrics.js'
import { EVICTED_REASON } from '../ports/eviction-store.js'
import type { WrittenRecord } from './record-writer.js'
import type { Stage, StageTimes } from './timeline.js'

/** The status message of a fresh claim (status-reporter.ts). */
const CLAIM_MESSAGE = 'claimed; waiting to start'
/** Own record keys remembered to tell a create (3 points) from an update (2); beyond this, forgotten and started over. */
const MAX_KEYS = 20_000

export class MetricsObserver {
  /** The last state (and message) this meshlet wrote per status record. */
  private readonly lastStatus = new Map<string, { state: string; message?: string }>()
  private readonly written = new Set<string>()

  constructor(
    private readonly metrics: PeerMetrics,
    private readonly now: () => number,
  ) {}

  record(event: RecordEvent): void {
    if (event.op === 'rejected') this.metrics.recordRejected(event.collection, event.reason)
    else if (event.op === 'put') this.metrics.recordSeen(event.collection)
  }

  /** One own write that landed. */
  write(w: WrittenRecord): void {
    this.pdsPoints(w)
    if (w.cid === undefined || !w.value) {
      this.lastStatus.delete(w.uri)
      return
    }
    const v = w.value as { decline?: string; state?: string; message?: string }
    if (w.collection === NSID.bid) {
      if (typeof v.decline === 'string') this.metrics.decline(v.decline)
      else this.metrics.bid()
      return
    }
    if (w.collection !== NSID.workloadStatus || typeof v.state !== 'string') return
    const prev = this.lastStatus.get(w.uri)
    if (this.lastStatus.size >= MAX_KEYS && !prev) this.lastStatus.clear()
    this.lastStatus.set(w.uri, { state: v.state, message: v.message })
    if (prev && prev.state === v.state && prev.message === v.message) return // a lease renewal
    if (v.state === 'pending' && v.message === CLAIM_MESSAGE) this.metrics.claim()
    if (v.message === EVICTED_REASON && prev?.message !== EVICTED_REASON) this.metrics.eviction()
    if (v.state === 'failed' && prev?.state !== 'failed') this.metrics.containerFailure()
    if (v.state === 'running') {
      if (v.message?.startsWith('restarted')) this.metrics.containerRestart()
      else if (prev?.state !== 'running') this.metrics.containerStart()
    }
  }

  /** A timeline mark: placement latency from the record's arrival here. */
  stage(stage: Stage, at: number, times: StageTimes | undefined): void {
    const seen = times?.seen
    if (seen === undefined || (stage !== 'claimed' && stage !== 'started')) return
    this.metrics.placement(stage, Math.max(0, at - seen) / 1000)
  }

  private pdsPoints(w: WrittenRecord): void {
    let points = 1
    if (w.cid !== undefined) {
      if (this.written.size >= MAX_KEYS) this.written.clear()
      points = this.written.has(w.uri) ? 2 : 3
      this.written.add(w.uri)
    } else this.written.delete(w.uri)
    this.metrics.pdsWrite(points, this.now())
  }
}
