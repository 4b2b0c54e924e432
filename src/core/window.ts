// Time windows ("22:00-07:00" in an IANA time zone): when a meshlet takes guest work, or when a
// workload may run (docs/protocol.md, "Windows, idle and schedules"). Pure: the instant is a
// parameter; the zone rules come from Intl (the runtime's tz database), the same on every peer
// that runs the same tz data.

import type { TimeWindow } from './types.js'
export type { TimeWindow }

export interface ParsedHours {
  /** Minutes after local midnight, 0..1439. */
  start: number
  end: number
}

const HOURS_RE = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/
const DAY_MIN = 1440
const MINUTE_MS = 60_000

/** Parses "22:00-07:00" ("24:00" allowed as an end, meaning midnight); undefined when malformed. */
export function parseHours(hours: string): ParsedHours | undefined {
  const m = HOURS_RE.exec(hours)
  if (!m) return undefined
  const start = Number(m[1]) * 60 + Number(m[2])
  const endRaw = Number(m[3]) * 60 + Number(m[4])
  if (endRaw > DAY_MIN) return undefined
  return { start, end: endRaw % DAY_MIN }
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' })
    formatters.set(tz, f)
  }
  return f
}

/** Why `w` is not a usable window, or undefined. */
export function windowProblem(w: TimeWindow): string | undefined {
  if (!parseHours(w.hours)) return `window hours "${w.hours}" are not HH:MM-HH:MM (24-hour clock, e.g. 22:00-07:00)`
  const tz = w.tz ?? 'UTC'
  try {
    formatter(tz)
  } catch {
    return `window time zone "${tz}" is not an IANA time zone (e.g. Europe/Berlin, UTC)`
  }
  return undefined
}

/** Local wall-clock minutes after midnight at instant `t` (epoch ms) in `tz`. */
export function localMinutes(tz: string, t: number): number {
  let hour = 0
  let minute = 0
  for (const p of formatter(tz).formatToParts(t)) {
    if (p.type === 'hour') hour = Number(p.value)
    else if (p.type === 'minute') minute = Number(p.value)
  }
  return (hour % 24) * 60 + minute
}

/**
 * Whether instant `t` lies inside the window: its LOCAL wall-clock time (in `tz`, at t) is in
 * [start, end), wrapping across midnight when start > end; start = end is the whole day. DST
 * follows from that: a local time skipped by a spring-forward never occurs (a window boundary in
 * the gap takes effect at the jump), an hour repeated by a fall-back is in or out both times.
 * An invalid window is never open.
 */
export function inWindow(w: TimeWindow, t: number): boolean {
  const h = parseHours(w.hours)
  if (!h || windowProblem(w)) return false
  if (h.start === h.end) return true
  const m = localMinutes(w.tz ?? 'UTC', t)
  return h.start < h.end ? m >= h.start && m < h.end : m >= h.start || m < h.end
}

/**
 * The first whole minute after `t` at which {@link inWindow} changes, or undefined when it never
 * does (all day, or invalid). Used for wake-ups only, never for a decision other peers check.
 * Steps by the local minutes left to the boundary, never across a change of the zone's offset:
 * between changes local time runs with real time, so the step lands exactly on the boundary; at a
 * DST change (found by bisection) the answer is checked before stepping on.
 */
export function nextWindowChange(w: TimeWindow, t: number): number | undefined {
  const h = parseHours(w.hours)
  if (!h || windowProblem(w) || h.start === h.end) return undefined
  const now = inWindow(w, t)
  const tz = w.tz ?? 'UTC'
  const target = now ? h.end : h.start
  let p = Math.floor(t / MINUTE_MS) * MINUTE_MS
  for (let i = 0; i < 16; i++) {
    const ahead = (target - localMinutes(tz, p) + DAY_MIN) % DAY_MIN || DAY_MIN
    let q = p + ahead * MINUTE_MS
    // Never step across an offset change (DST): stop at the first minute of the new offset.
    if (offsetAt(tz, q) !== offsetAt(tz, p)) q = firstMinute(p, q, (m) => offsetAt(tz, m) !== offsetAt(tz, p))
    if (inWindow(w, q) !== now) return q
    p = q
  }
  return undefined
}

/** The zone's offset from UTC at `t`, in minutes modulo a day (changes exactly at DST transitions). */
function offsetAt(tz: string, t: number): number {
  const utc = Math.floor(t / MINUTE_MS) % DAY_MIN
  return (localMinutes(tz, t) - utc + 2 * DAY_MIN) % DAY_MIN
}

/** The first whole minute in (lo, hi] where `changed` holds, given it holds at hi and not at lo (one change in between). */
function firstMinute(lo: number, hi: number, changed: (m: number) => boolean): number {
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / MINUTE_MS / 2) * MINUTE_MS
    if (changed(mid)) hi = mid
    else lo = mid
  }
  return hi
}

/** "22:00-07:00 Europe/Berlin". */
export function describeWindow(w: TimeWindow): string {
  return `${w.hours} ${w.tz ?? 'UTC'}`
}
