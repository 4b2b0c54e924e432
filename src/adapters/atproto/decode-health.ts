// Issue 12 (health): the edge checks of a workload's `health` and a status's `health`. The lexicon
// bounds the numbers; core/health.ts says what else makes a check invalid (a port for http/tcp, a
// command for exec, a timeout no longer than the interval), so the CLI and every peer agree.
import { HEALTH_STATES, parseHealthCheck, type HealthCheck, type HealthCheckInput, type HealthReport, type HealthState } from '../../core/health.js'
import { oneOf, omitUndefined, reject } from './record-checks.js'
import { UPDATE_BOUNDS, type UpdatePolicy } from '../../core/rollout.js'

export function healthCheckOf(h: HealthCheckInput): HealthCheck {
  const parsed = parseHealthCheck({ ...h, ...(h.command ? { command: [...h.command] } : {}) })
  if (!parsed.ok) reject(parsed.reason)
  return parsed.check
}

export function healthReportOf(h: { state: string; failures: number; restarts: number; lastFailure?: string; lastFailureAt?: string }): HealthReport {
  return omitUndefined({
    state: oneOf<HealthState>(h.state, HEALTH_STATES, 'health.state'),
    failures: h.failures,
    restarts: h.restarts,
    lastFailure: h.lastFailure,
    lastFailureAt: h.lastFailureAt,
  })
}

/** issue 12 (rollout): `update` with defaults; a batch workload does not roll (its replicas run to an end). */
export function updatePolicyOf(u: { maxParallel?: number; minHealthyMs?: number; autoRevert?: boolean }, kind: string): UpdatePolicy {
  if (kind !== 'service') reject('update applies to services only (a batch replica runs to its end)')
  return { maxParallel: u.maxParallel ?? UPDATE_BOUNDS.maxParallel.default, minHealthyMs: u.minHealthyMs ?? UPDATE_BOUNDS.minHealthyMs.default, autoRevert: u.autoRevert === true }
}
