// The cost of at-most-once for batch (issue 10): a batch claimer starts its container only after a
// quorum of the electorate acked its claim, a service claimer starts at once. Both kinds (and batch
// with delivery at-least-once, which takes the service path) are published one at a time,
// interleaved with the order rotating each round, on the same commune, so the ratio batch/service
// is measured under the same load. Every batch is also checked on the engine: its container must
// have started exactly once (start events labelled with its workload URI).
import { LABEL } from '../src/adapters/docker/labels.js'
import type { EngineStartWatcher } from './engine-events.js'
import type { LatencySample, MeshletBench } from './meshlet-phases.js'

export type BatchKind = 'service' | 'batch' | 'batchAtLeastOnce'
export const BATCH_KINDS: readonly BatchKind[] = ['service', 'batch', 'batchAtLeastOnce']

/** Workload fields per kind, on top of the bench's shape (image, resources, window, replicas 1). */
const RECORD: Record<BatchKind, Record<string, unknown>> = {
  // A service never exits: its restart policy (always) would start a short command again and again.
  service: { kind: 'service' },
  batch: { kind: 'batch', command: ['sleep', '1'] },
  batchAtLeastOnce: { kind: 'batch', command: ['sleep', '1'], delivery: 'at-least-once' },
}

export interface BatchSample extends LatencySample {
  uri: string
  /** Engine start events labelled with this workload, counted after the hold and the deletion. */
  starts?: number
}

export type BatchResult = Record<BatchKind, BatchSample[]>

export interface BatchPhaseOptions {
  n: number
  /** How long a batch stays published after its start: time for a duplicate start to show. */
  holdMs: number
  say: (msg: string) => void
}

export async function measureBatch(mb: MeshletBench, watcher: EngineStartWatcher, o: BatchPhaseOptions): Promise<BatchResult> {
  const out: BatchResult = { service: [], batch: [], batchAtLeastOnce: [] }
  for (let i = 0; i < o.n; i++) {
    for (let k = 0; k < BATCH_KINDS.length; k++) {
      const kind = BATCH_KINDS[(i + k) % BATCH_KINDS.length]!
      const hold = kind === 'service' ? 0 : o.holdMs
      out[kind].push(await mb.once(RECORD[kind], 60_000, hold))
    }
    o.say(`batch ${i + 1}/${o.n}: ${BATCH_KINDS.map((k) => `${k} ${Math.round(out[k].at(-1)!.totalMs)} ms`).join(', ')}`)
  }
  // Deletion waited for the containers to be gone, so every start event of these workloads is in.
  for (const kind of ['batch', 'batchAtLeastOnce'] as const) {
    for (const s of out[kind]) s.starts = watcher.countByLabel(LABEL.workload, s.uri)
  }
  return out
}

/** Claim landed (the claimer's timeline) -> the engine's start event: for batch, the ack round is in here. */
export function claimToStartMs(s: LatencySample): number {
  return s.at.claimed === undefined ? Number.NaN : s.at.engine - s.at.claimed
}
