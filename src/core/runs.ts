// Runs of scheduled batch workloads (docs/protocol.md, "Schedules"): each cron instant T after the
// record's createdAt is a run, a batch workload of its own whose URI is the workload's plus
// `#/run/<ISO T>`, with the workload's cid, spec and owner. Bids, claims, acks and statuses
// reference the run URI, so the at-most-once rule holds per instant. Pure.
import { instantsBetween, isScheduledInstant, parseRunUri, runUri, SCHEDULE_LOOKBACK } from './schedule.js'
import { CLAIM_STATES, type AtUri, type WorkloadStatus, type Workload } from './types.js'

/** The run of `base` at `instant` (no check that the instant is one of its schedule: see {@link resolveRun}). */
export function runWorkload(base: Workload, instant: number): Workload {
  const { schedule, ...rest } = base
  const run: Workload = { ...rest, uri: runUri(base.uri, instant), name: `${base.name}@${new Date(instant).toISOString()}`, runOf: { uri: base.uri, instant } }
  if (schedule?.overlap) run.runOverlap = schedule.overlap
  return run
}

/** Resolved runs by run URI and workload version: checking an instant against a cron costs ~1 ms, and views look runs up often. */
const resolved = new Map<string, { base: Workload; run: Workload | undefined }>()
const RESOLVED_MAX = 4096

/** The run a run URI names, when its workload is on record, has a schedule, and the instant is one of its instants after createdAt. */
export function resolveRun(lookup: (uri: AtUri) => Workload | undefined, uri: AtUri): Workload | undefined {
  const run = parseRunUri(uri)
  if (!run) return undefined
  const base = lookup(run.workloadUri)
  if (!base?.schedule) return undefined
  const key = `${uri}\n${base.cid}`
  const hit = resolved.get(key)
  // (A memo of a pure function: the same base record gives the same run.)
  if (hit && hit.base === base) return hit.run
  const created = Date.parse(base.createdAt)
  const out = Number.isFinite(created) && isScheduledInstant(base.schedule, created, run.instant) ? runWorkload(base, run.instant) : undefined
  if (resolved.size >= RESOLVED_MAX) resolved.delete(resolved.keys().next().value as string)
  resolved.set(key, { base, run: out })
  return out
}

/** The runs a peer places at `now` (its own clock): the last SCHEDULE_LOOKBACK instants after createdAt that have passed. */
export function dueRuns(base: Workload, now: number, lookback = SCHEDULE_LOOKBACK): Workload[] {
  if (!base.schedule || base.kind !== 'batch') return []
  const created = Date.parse(base.createdAt)
  if (!Number.isFinite(created)) return []
  return instantsBetween(base.schedule, created, now, lookback).map((t) => runWorkload(base, t))
}

function live(s: WorkloadStatus): boolean {
  return CLAIM_STATES.includes(s.state)
}

/**
 * Overlap (the workload's `schedule.overlap`), from the statuses of its EARLIER runs of the same
 * cid (`earlier`: run instant -> statuses that reference that run):
 * - skip (default): run T is skipped for good when a status of an earlier run had claimed by T
 *   (`startedAt` <= T) and was still live at T (in a claim state, or ended with `updatedAt` > T):
 *   "skipped: the run of <R> was still running at <T> (overlap: skip)";
 * - queue: run T waits while a status of an earlier run is in a claim state: "queued behind the
 *   run of <R> (overlap: queue)"; once none is, it is placed.
 * Undefined: the run may be placed now. A decision from records (writers' dates), so peers that
 * have the same statuses agree.
 */
export function overlapRefusal(run: Workload, earlier: ReadonlyMap<number, readonly WorkloadStatus[]>): string | undefined {
  const T = run.runOf?.instant
  if (T === undefined) return undefined
  const queue = run.runOverlap === 'queue'
  const iso = (t: number) => new Date(t).toISOString()
  for (const [r, statuses] of [...earlier].sort((a, b) => a[0] - b[0])) {
    if (r >= T) continue
    for (const s of statuses) {
      if (s.workload.cid !== run.cid) continue
      if (queue) {
        if (live(s)) return `queued behind the run of ${iso(r)} (overlap: queue)`
        continue
      }
      const claimed = Date.parse(s.startedAt ?? '')
      const until = Date.parse(s.updatedAt)
      if (Number.isFinite(claimed) && claimed <= T && (live(s) || (Number.isFinite(until) && until > T))) return `skipped: the run of ${iso(r)} was still running at ${iso(T)} (overlap: skip)`
    }
  }
  return undefined
}
