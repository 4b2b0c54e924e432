// What the peer tells its metrics (issue 15, /metrics): events where they happen, gauges read when
// scraped. The composition root (context.ts) picks the Prometheus adapter; tests and the no-op
// default need no library.

/** Readings taken at scrape time (each a closure over a live service). */
export interface MetricsGauges {
  /** Per firehose source: how far behind the newest commit time handled is (ms). */
  firehoseLag?: () => { source: string; lagMs: number }[]
  /** Since this meshlet's own heartbeat last landed (ms); undefined before the first. */
  heartbeatAgeMs?: () => number | undefined
  /** The view's size and bounds (records, approximate bytes), and records its bound dropped so far. */
  view?: () => ViewReading
}

export interface ViewReading {
  records: number
  bytes: number
  maxRecords: number
  maxBytes: number
  dropped: number
}

export type PlacementStage = 'claimed' | 'started'

export interface PeerMetrics {
  recordSeen(collection: string): void
  recordRejected(collection: string, reason: string): void
  bid(): void
  decline(reason: string): void
  claim(): void
  eviction(): void
  containerStart(): void
  containerFailure(): void
  containerRestart(): void
  /** Record seen here -> this stage, for a workload this meshlet placed. */
  placement(stage: PlacementStage, seconds: number): void
  /** One write to the own PDS, in PDS rate-limit points (create 3, update 2, delete 1), at epoch ms. */
  pdsWrite(points: number, at: number): void
  /** Registers the scrape-time readings (called once by the composition root). */
  gauges(g: MetricsGauges): void
  /** Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>
}

/** A peer without metrics (unit tests): every call does nothing. */
export const noMetrics: PeerMetrics = {
  recordSeen: () => {},
  recordRejected: () => {},
  bid: () => {},
  decline: () => {},
  claim: () => {},
  eviction: () => {},
  containerStart: () => {},
  containerFailure: () => {},
  containerRestart: () => {},
  placement: () => {},
  pdsWrite: () => {},
  gauges: () => {},
  render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }),
}
