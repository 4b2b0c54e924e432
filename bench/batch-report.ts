// BENCHMARKS.md section for the batch phase: what at-most-once costs a batch over a service, as
// ratios measured in the same run (never absolute pass/fail), and the engine's start counts.
import { BATCH_KINDS, claimToStartMs, type BatchKind, type BatchResult } from './batch-phase.js'
import { fmtMs, fmtRatio, ratio, summarize } from './stats.js'

const LABEL: Record<BatchKind, string> = {
  service: 'service (starts on its claim)',
  batch: 'batch, at-most-once (starts after a quorum of acks)',
  batchAtLeastOnce: 'batch, delivery at-least-once (service path)',
}

const row = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`

export function renderBatch(b: BatchResult, n: number, holdMs: number): string[] {
  const L: string[] = []
  const total = Object.fromEntries(BATCH_KINDS.map((k) => [k, summarize(b[k].map((s) => s.totalMs))])) as Record<BatchKind, ReturnType<typeof summarize>>
  const claim = Object.fromEntries(BATCH_KINDS.map((k) => [k, summarize(b[k].map(claimToStartMs))])) as Record<BatchKind, ReturnType<typeof summarize>>
  L.push('## 12. Batch at-most-once (issue 10)', '')
  L.push(
    `One workload at a time, n = ${n} per kind, the three kinds interleaved (the order rotates every round), replicas 1, all 3 peers answering. ` +
      'The batch runs `sleep 1` and stays published ' + fmtMs(holdMs) + ' after its start (time for a second claimer to start a duplicate, if one ever would); the service runs `sleep 3600` (its restart policy would start a short command again). ' +
      'Publish -> running: `createRecord` -> the engine\'s `start` event. Claim -> running: the claimer\'s claim landed (its timeline) -> the engine\'s `start` event; for at-most-once batch this holds the ack round (the members re-put their bid records with the ack, the claimer waits for a quorum of the electorate).',
    '',
  )
  L.push(row(['kind', 'n', 'publish -> running p50', 'p95', 'claim -> running p50', 'p95']), row(['---', '---:', '---:', '---:', '---:', '---:']))
  for (const k of BATCH_KINDS) L.push(row([LABEL[k], total[k].n, fmtMs(total[k].p50), fmtMs(total[k].p95), fmtMs(claim[k].p50), fmtMs(claim[k].p95)]))
  L.push('')
  const r = (a: BatchKind, x: 'p50' | 'p95', c = total) => fmtRatio(ratio(c[a][x], c.service[x]))
  L.push(row(['ratio to service, same run', 'publish -> running p50', 'p95', 'claim -> running p50', 'p95']), row(['---', '---:', '---:', '---:', '---:']))
  for (const k of ['batch', 'batchAtLeastOnce'] as const) L.push(row([LABEL[k], r(k, 'p50'), r(k, 'p95'), r(k, 'p50', claim), r(k, 'p95', claim)]))
  L.push('')
  L.push(
    `Extra latency of at-most-once (batch p50 minus service p50, same run): ${fmtMs(total.batch.p50 - total.service.p50)} publish -> running, ${fmtMs(claim.batch.p50 - claim.service.p50)} claim -> running.`,
    '',
  )
  L.push(row(['kind', 'workloads', 'engine start events', 'started more than once', 'never started']), row(['---', '---:', '---:', '---:', '---:']))
  for (const k of ['batch', 'batchAtLeastOnce'] as const) {
    const starts = b[k].map((s) => s.starts ?? 0)
    L.push(row([LABEL[k], starts.length, starts.reduce((x, y) => x + y, 0), starts.filter((x) => x > 1).length, starts.filter((x) => x === 0).length]))
  }
  L.push('', 'Start events are counted on the engine\'s event stream (label `farm.meshlet.workload` = the workload URI) after each batch was held and then deleted and its container removed. At-most-once requires 0 started more than once.', '')
  return L
}
