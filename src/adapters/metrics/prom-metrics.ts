// PeerMetrics on prom-client (issue 15, /metrics). One Registry per peer, never the library's global
// one: a devnet runs several peers in one process, and each must expose only its own figures.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { MetricsGauges, PeerMetrics, PlacementStage, ViewReading } from '../../ports/metrics.js'

/** Distinct reason labels kept per metric; later new ones count as "other" (a label per free-text reason would grow without bound). */
const MAX_REASONS = 64
const DAY_MS = 86_400_000

/**
 * A reason's class, for a label: the words before its first ':' or '(' (the part the code chooses;
 * what follows names records and figures), DIDs and numbers folded away.
 */
export function reasonClass(reason: string): string {
  const head = reason.replace(/did:[a-z]+:[A-Za-z0-9._:%-]+/g, 'did').split(/[:(]/, 1)[0]!
  const folded = head
    .replace(/\d+/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase()
  return folded.slice(0, 48) || 'unspecified'
}

export interface PromMetricsOptions {
  /** PDS rate-limit points this meshlet may spend a day (Bluesky's PDS default: 35000). */
  dailyWriteBudget: number
  /** Wall clock (epoch ms) for the day boundary of the write budget. */
  now?: () => number
}

export class PromMetrics implements PeerMetrics {
  readonly registry = new Registry()
  private readonly reasons = new Map<string, Set<string>>()
  private readonly seen: Counter<'collection'>
  private readonly rejected: Counter<'collection' | 'reason'>
  private readonly bids: Counter
  private readonly declines: Counter<'reason'>
  private readonly claims: Counter
  private readonly evictions: Counter
  private readonly starts: Counter
  private readonly failures: Counter
  private readonly restarts: Counter
  private readonly placementHist: Histogram<'stage'>
  private readonly writePoints: Counter
  private day = -1
  private pointsToday = 0
  private g: MetricsGauges = {}

  constructor(private readonly opts: PromMetricsOptions) {
    const registers = [this.registry]
    this.seen = new Counter({ name: 'meshlet_records_seen_total', help: 'Records handed to the view (firehose, backfill, own writes), by collection', labelNames: ['collection'], registers })
    this.rejected = new Counter({ name: 'meshlet_records_rejected_total', help: 'Records refused at intake, by collection and reason class', labelNames: ['collection', 'reason'], registers })
    this.bids = new Counter({ name: 'meshlet_bids_total', help: 'Bids this meshlet published', registers })
    this.declines = new Counter({ name: 'meshlet_declines_total', help: 'Declines this meshlet published, by reason class', labelNames: ['reason'], registers })
    this.claims = new Counter({ name: 'meshlet_claims_total', help: 'Replica slots this meshlet claimed', registers })
    this.evictions = new Counter({ name: 'meshlet_evictions_total', help: "Replicas stopped here because the machine's owner evicted them", registers })
    this.starts = new Counter({ name: 'meshlet_container_starts_total', help: 'Replicas that reached running here', registers })
    this.failures = new Counter({ name: 'meshlet_container_failures_total', help: 'Replicas that ended failed here', registers })
    this.restarts = new Counter({ name: 'meshlet_container_restarts_total', help: 'Containers restarted here (restart policy or engine restart)', labelNames: [], registers })
    this.placementHist = new Histogram({
      name: 'meshlet_placement_seconds',
      help: 'From the workload record reaching this peer to its claim landing (stage=claimed) or its container started (stage=started), for replicas placed here',
      labelNames: ['stage'],
      buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120],
      registers,
    })
    this.writePoints = new Counter({ name: 'meshlet_pds_write_points_total', help: 'PDS rate-limit points spent on own writes (create 3, update 2, delete 1)', registers })
    const self = this
    new Gauge({
      name: 'meshlet_pds_write_points_today',
      help: 'PDS rate-limit points spent since 00:00 UTC',
      registers,
      collect() {
        self.rollDay(self.now())
        this.set(self.pointsToday)
      },
    })
    new Gauge({
      name: 'meshlet_pds_write_points_daily_budget',
      help: 'PDS rate-limit points this meshlet may spend a day (--pds-daily-write-budget)',
      registers,
      collect() {
        this.set(self.opts.dailyWriteBudget)
      },
    })
    new Gauge({
      name: 'meshlet_firehose_lag_seconds',
      help: 'Per firehose source: now minus the commit time of the newest event handled',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset()
        for (const s of self.g.firehoseLag?.() ?? []) this.set({ source: s.source }, Math.max(0, s.lagMs) / 1000)
      },
    })
    new Gauge({
      name: 'meshlet_heartbeat_age_seconds',
      help: "Since this meshlet's own heartbeat (profile record) last landed; absent before the first",
      registers,
      collect() {
        this.reset()
        const age = self.g.heartbeatAgeMs?.()
        if (age !== undefined) this.set(Math.max(0, age) / 1000)
      },
    })
    // The view's bound (--view-max-records, --view-max-mb): how close this peer is to dropping records.
    const viewGauge = (name: string, help: string, read: (v: ViewReading) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.reset()
          const v = self.g.view?.()
          if (v) this.set(read(v))
        },
      })
    viewGauge('meshlet_view_records', 'Records this peer holds in its view of the commune', (v) => v.records)
    viewGauge('meshlet_view_bytes', 'Approximate bytes of the records in the view (JSON + uri + bookkeeping)', (v) => v.bytes)
    viewGauge('meshlet_view_max_records', 'Records the view holds at most (--view-max-records)', (v) => v.maxRecords)
    viewGauge('meshlet_view_max_bytes', 'Approximate record bytes the view holds at most (--view-max-mb)', (v) => v.maxBytes)
    new Counter({
      name: 'meshlet_view_dropped_records_total',
      help: 'Records the view bound refused or evicted (a flood, or a commune past the bound)',
      registers,
      collect() {
        this.reset()
        const v = self.g.view?.()
        if (v) this.inc(v.dropped)
      },
    })
  }

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  private rollDay(at: number): void {
    const day = Math.floor(at / DAY_MS)
    if (day !== this.day) {
      this.day = day
      this.pointsToday = 0
    }
  }

  /** The reason's class, or "other" once this metric has MAX_REASONS distinct ones. */
  private reason(metric: string, reason: string): string {
    const r = reasonClass(reason)
    let set = this.reasons.get(metric)
    if (!set) this.reasons.set(metric, (set = new Set()))
    if (set.has(r)) return r
    if (set.size >= MAX_REASONS) return 'other'
    set.add(r)
    return r
  }

  recordSeen(collection: string): void {
    this.seen.inc({ collection })
  }
  recordRejected(collection: string, reason: string): void {
    this.rejected.inc({ collection, reason: this.reason('rejected', reason) })
  }
  bid(): void {
    this.bids.inc()
  }
  decline(reason: string): void {
    this.declines.inc({ reason: this.reason('declines', reason) })
  }
  claim(): void {
    this.claims.inc()
  }
  eviction(): void {
    this.evictions.inc()
  }
  containerStart(): void {
    this.starts.inc()
  }
  containerFailure(): void {
    this.failures.inc()
  }
  containerRestart(): void {
    this.restarts.inc()
  }
  placement(stage: PlacementStage, seconds: number): void {
    this.placementHist.observe({ stage }, seconds)
  }
  pdsWrite(points: number, at: number): void {
    this.rollDay(at)
    this.pointsToday += points
    this.writePoints.inc(points)
  }
  gauges(g: MetricsGauges): void {
    this.g = g
  }
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
