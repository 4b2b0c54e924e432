// Cron schedules of batch workloads (docs/protocol.md, "Schedules"). Which instants are due is a
// function of the record alone (its `schedule`, `tz` and `createdAt`) plus "has T passed" on the
// observer's clock; each instant T is a run of its own, placed like a batch job (at most once per
// instant) under a run URI that names T. Pure: instants are computed from parameters, never a clock.
import { CronExpressionParser } from 'cron-parser'

import type { OverlapPolicy, Schedule } from './types.js'
export type { OverlapPolicy, Schedule }

/** How many of the latest instants a peer keeps placing (older ones only finish). */
export const SCHEDULE_LOOKBACK = 3
/** The shortest interval between two instants a schedule may have (ms). */
export const MIN_SCHEDULE_INTERVAL_MS = 1_000
/** The separator between a workload URI and a run's instant in a run URI. */
export const RUN_SEPARATOR = '#/run/'

function parse(s: Schedule, from: number) {
  return CronExpressionParser.parse(s.cron, { currentDate: new Date(from), tz: s.tz ?? 'UTC', strict: false })
}

/** Why the schedule is unusable, or undefined. */
export function scheduleProblem(s: Schedule): string | undefined {
  if (s.cron.trim().split(/\s+/).length < 5 || s.cron.trim().split(/\s+/).length > 6) return `schedule "${s.cron}" is not a cron expression of 5 fields (minute hour day month weekday) or 6 (with leading seconds)`
  try {
    const it = parse(s, 0)
    const a = it.next().getTime()
    const b = it.next().getTime()
    if (b - a < MIN_SCHEDULE_INTERVAL_MS) return `schedule "${s.cron}" fires more often than once per second`
  } catch (err) {
    return `schedule "${s.cron}"${s.tz ? ` in ${s.tz}` : ''} is not valid: ${(err as Error).message}`
  }
  return undefined
}

/**
 * The instants of `s` strictly after `after` and at or before `until` (epoch ms), ascending, at
 * most the LAST `max` of them. DST as cron-parser resolves local times walking forward: a time
 * skipped by a spring-forward fires at the shifted local time (02:30 -> 03:30), a repeated one
 * fires once. (Walking backward, cron-parser resolves DST differently, so backward steps only
 * find where to start; the instants are always those of the forward walk.)
 */
export function instantsBetween(s: Schedule, after: number, until: number, max = SCHEDULE_LOOKBACK): number[] {
  if (!(until > after) || max <= 0) return []
  // Backward steps only find where to start: the (max+1)-th instant back, or the first at or
  // before `after`; a margin covers cron-parser placing a DST-shifted instant differently going back.
  let floor = after
  try {
    const back = parse(s, until + 1)
    for (let i = 0; i <= max; i++) {
      const t = back.prev().getTime()
      floor = t
      if (t <= after) break
    }
  } catch {
    // no earlier instant: start from `after`
  }
  const from = Math.max(after, floor - Math.min(2 * 3_600_000, until - floor))
  const out: number[] = []
  try {
    const it = parse(s, from)
    for (;;) {
      const t = it.next().getTime()
      if (t > until) break
      if (t > after) out.push(t)
      if (out.length > max) out.shift()
    }
  } catch {
    // the schedule ends (cron-parser's end of range)
  }
  return out
}

/** The first instant of `s` strictly after `t`, or undefined. */
export function nextInstant(s: Schedule, t: number): number | undefined {
  try {
    return parse(s, t).next().getTime()
  } catch {
    return undefined
  }
}

/** A run's URI: the workload's URI, then `#/run/` (a JSON-pointer fragment, valid in an at-uri) and the instant as an ISO time ("...Z"). */
export function runUri(workloadUri: string, instant: number): string {
  return `${workloadUri}${RUN_SEPARATOR}${new Date(instant).toISOString()}`
}

/** Splits a run URI into its workload URI and instant; undefined when it is not one. */
export function parseRunUri(uri: string): { workloadUri: string; instant: number } | undefined {
  const i = uri.indexOf(RUN_SEPARATOR)
  if (i < 0) return undefined
  const iso = uri.slice(i + RUN_SEPARATOR.length)
  const t = Date.parse(iso)
  if (!Number.isFinite(t) || new Date(t).toISOString() !== iso) return undefined
  return { workloadUri: uri.slice(0, i), instant: t }
}

/**
 * Whether `instant` is one of the schedule's instants after `createdAt`: the only runs any peer
 * counts (a run URI naming another instant is ignored).
 */
export function isScheduledInstant(s: Schedule, createdAt: number, instant: number): boolean {
  if (!(instant > createdAt)) return false
  return nextInstant(s, instant - 1) === instant
}
