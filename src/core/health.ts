// Health checks (issue 12 part 2; contract §8): the check a workload declares, its bounds, and the
// decisions a runner takes from probe results. Pure: the probe (adapters) and the loop
// (services/health-monitor.ts) hand in results and times; this says what they mean.
import { backoffMs, DEFAULT_MAX_RETRIES } from './restart.js'
import type { HealthCheck, HealthReport, HealthState, HealthTiming } from './health-types.js'
export type { HealthCheck, HealthCheckKind, HealthReport, HealthState, HealthTiming } from './health-types.js'
export { HEALTH_STATES } from './health-types.js'

/** Bounds checked at the edge (lexicon + decode): integers, inclusive. */
export const HEALTH_BOUNDS = {
  intervalMs: { min: 500, max: 3_600_000, default: 10_000 },
  timeoutMs: { min: 100, max: 60_000, default: 2_000 },
  retries: { min: 1, max: 100, default: 3 },
  startPeriodMs: { min: 0, max: 3_600_000, default: 0 },
  port: { min: 1, max: 65_535 },
  expectStatus: { min: 100, max: 599 },
  pathMaxLength: 1024,
} as const

/** The raw `health` of a workload record after lexicon validation (optional fields absent). */
export interface HealthCheckInput {
  type: string
  port?: number
  path?: string
  expectStatus?: number
  command?: string[]
  intervalMs?: number
  timeoutMs?: number
  retries?: number
  startPeriodMs?: number
}

/** The check with defaults applied, or why the record is invalid (a sentence a person understands). */
export function parseHealthCheck(h: HealthCheckInput): { ok: true; check: HealthCheck } | { ok: false; reason: string } {
  const b = HEALTH_BOUNDS
  const timing: Partial<HealthTiming> = {}
  for (const k of ['intervalMs', 'timeoutMs', 'retries', 'startPeriodMs'] as const) {
    const v = h[k]
    if (v === undefined) continue
    if (!Number.isInteger(v) || v < b[k].min || v > b[k].max) return { ok: false, reason: `health.${k} ${String(v)} is outside ${b[k].min}..${b[k].max}` }
    timing[k] = v
  }
  const intervalMs = timing.intervalMs ?? b.intervalMs.default
  const timeoutMs = timing.timeoutMs ?? Math.min(b.timeoutMs.default, intervalMs)
  if (timeoutMs > intervalMs) return { ok: false, reason: `health.timeoutMs ${timeoutMs} is longer than health.intervalMs ${intervalMs}` }
  const t: HealthTiming = { intervalMs, timeoutMs, retries: timing.retries ?? b.retries.default, startPeriodMs: timing.startPeriodMs ?? b.startPeriodMs.default }
  const port = (): { ok: true; port: number } | { ok: false; reason: string } => {
    const p = h.port
    if (p === undefined) return { ok: false, reason: `health.port is required for a ${h.type} check` }
    if (!Number.isInteger(p) || p < b.port.min || p > b.port.max) return { ok: false, reason: `health.port ${String(p)} is outside ${b.port.min}..${b.port.max}` }
    return { ok: true, port: p }
  }
  const extra = (allowed: string[]): string | undefined => {
    const given = (['port', 'path', 'expectStatus', 'command'] as const).filter((k) => h[k] !== undefined && !allowed.includes(k))
    return given.length ? `health.${given[0]} does not apply to a ${h.type} check` : undefined
  }
  switch (h.type) {
    case 'http': {
      const p = port()
      if (!p.ok) return p
      const path = h.path ?? '/'
      if (!path.startsWith('/') || path.length > b.pathMaxLength || /[\s\u0000-\u001f\u007f]/.test(path)) {
        return { ok: false, reason: `health.path ${JSON.stringify(path.slice(0, 64))} must start with "/", hold no whitespace or control characters and be at most ${b.pathMaxLength} characters` }
      }
      const s = h.expectStatus
      if (s !== undefined && (!Number.isInteger(s) || s < b.expectStatus.min || s > b.expectStatus.max)) return { ok: false, reason: `health.expectStatus ${String(s)} is outside ${b.expectStatus.min}..${b.expectStatus.max}` }
      const bad = extra(['port', 'path', 'expectStatus'])
      if (bad) return { ok: false, reason: bad }
      return { ok: true, check: { type: 'http', port: p.port, path, ...(s !== undefined ? { expectStatus: s } : {}), ...t } }
    }
    case 'tcp': {
      const p = port()
      if (!p.ok) return p
      const bad = extra(['port'])
      if (bad) return { ok: false, reason: bad }
      return { ok: true, check: { type: 'tcp', port: p.port, ...t } }
    }
    case 'exec': {
      const c = h.command
      if (!c || c.length === 0 || c[0] === '') return { ok: false, reason: 'health.command is required for an exec check (e.g. ["wget", "-q", "-O-", "http://127.0.0.1:8080/"])' }
      const bad = extra(['command'])
      if (bad) return { ok: false, reason: bad }
      return { ok: true, check: { type: 'exec', command: [...c], ...t } }
    }
    default:
      return { ok: false, reason: `health.type ${JSON.stringify(String(h.type).slice(0, 32))} is not one of http, tcp, exec` }
  }
}

/** Whether an HTTP answer passes: the expected status, or any 200..399 when none is named. */
export function httpStatusPasses(check: { expectStatus?: number }, status: number): boolean {
  return check.expectStatus !== undefined ? status === check.expectStatus : status >= 200 && status < 400
}

/** One probe's result, as the probe adapter reports it. */
export type ProbeResult = { ok: true } | { ok: false; reason: string }

/** What the loop knows about one container between probes. */
export interface HealthTrack {
  state: HealthState
  failures: number
  /** Epoch ms the container started (engine clock): the start period runs from here. */
  startedAt: number
  lastFailure?: string
  lastFailureAt?: number
}

export function initialTrack(startedAt: number): HealthTrack {
  return { state: 'starting', failures: 0, startedAt }
}

export type HealthTransition = 'none' | 'healthy' | 'unhealthy'

/**
 * One probe result applied (Docker's HEALTHCHECK semantics, Nomad's check_restart on top):
 * - a success makes the replica healthy and clears the failure count;
 * - a failure within `startPeriodMs` of the start (now - startedAt < startPeriodMs) is remembered
 *   as the last failure but not counted;
 * - otherwise failures count, and the `retries`-th consecutive one makes it unhealthy (from
 *   starting or healthy alike). An unhealthy track stays unhealthy (the runner acts on it).
 * `transition` names a change of state, so the loop writes a status only then.
 */
export function applyProbe(track: HealthTrack, result: ProbeResult, check: HealthTiming, now: number): { track: HealthTrack; transition: HealthTransition } {
  if (track.state === 'unhealthy') return { track, transition: 'none' }
  if (result.ok) {
    const next: HealthTrack = { ...track, state: 'healthy', failures: 0 }
    return { track: next, transition: track.state === 'healthy' ? 'none' : 'healthy' }
  }
  const noted: HealthTrack = { ...track, lastFailure: result.reason, lastFailureAt: now }
  if (now - track.startedAt < check.startPeriodMs) return { track: noted, transition: 'none' }
  const failures = track.failures + 1
  if (failures >= check.retries) return { track: { ...noted, failures, state: 'unhealthy' }, transition: 'unhealthy' }
  return { track: { ...noted, failures }, transition: 'none' }
}

export type UnhealthyDecision = { action: 'restart'; delayMs: number; message: string } | { action: 'release'; message: string }

/**
 * An unhealthy replica: restart it on this meshlet (Nomad check_restart) while its budget lasts
 * (`restart.maxRetries`, default 5, the same budget as crashes), with the crash backoff; once
 * `restarts` reached it, release the slot: status `failed` with a message starting "unhealthy:",
 * so this meshlet is never a candidate for this version again and the next one takes the slot.
 */
export function unhealthyDecision(input: { restarts: number; maxRetries?: number; lastFailure?: string }): UnhealthyDecision {
  const restarts = Number.isInteger(input.restarts) && input.restarts > 0 ? input.restarts : 0
  const max = input.maxRetries !== undefined && Number.isInteger(input.maxRetries) && input.maxRetries >= 0 ? input.maxRetries : DEFAULT_MAX_RETRIES
  const why = input.lastFailure ?? 'health check failed'
  if (restarts >= max) {
    return { action: 'release', message: `unhealthy: restarted ${restarts} ${restarts === 1 ? 'time' : 'times'} for failed health checks, giving up on this meshlet: ${why}` }
  }
  return { action: 'restart', delayMs: backoffMs(restarts), message: `unhealthy: restarting (${restarts + 1}/${max}): ${why}` }
}

/** The status record's `health` for a track, with its restart count. */
export function healthReport(track: HealthTrack, restarts: number): HealthReport {
  const out: HealthReport = { state: track.state, failures: track.failures, restarts }
  if (track.lastFailure !== undefined) out.lastFailure = track.lastFailure.slice(0, 512)
  if (track.lastFailureAt !== undefined) out.lastFailureAt = new Date(track.lastFailureAt).toISOString()
  return out
}

/** Status message while a replica runs but is not yet healthy. */
export function waitingMessage(check: HealthCheck, track: HealthTrack | undefined): string {
  const what = check.type === 'http' ? `http :${check.port}${check.path}` : check.type === 'tcp' ? `tcp :${check.port}` : `exec ${check.command[0]}`
  return `started; waiting for its health check (${what})${track?.lastFailure ? `: last failure: ${track.lastFailure}` : ''}`.slice(0, 2048)
}
