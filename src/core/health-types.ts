// Issue 12 (health): the shapes of a workload's health check and a status's health report (no
// imports, so core/types.ts can name them without a cycle; the logic is core/health.ts).

export type HealthCheckKind = 'http' | 'tcp' | 'exec'

/** A workload's `health`, with defaults applied (decode.ts). */
export type HealthCheck = HealthTiming &
  (
    | { type: 'http'; port: number; path: string; /** Absent: any 200..399. */ expectStatus?: number }
    | { type: 'tcp'; port: number }
    | { type: 'exec'; command: string[] }
  )

export interface HealthTiming {
  intervalMs: number
  timeoutMs: number
  /** Consecutive failures that make a replica unhealthy. */
  retries: number
  /** Failures during this time after the container started do not count (a success still counts). */
  startPeriodMs: number
}

/** The health field of a status record (new in issue 12). */
export type HealthState = 'starting' | 'healthy' | 'unhealthy'
export const HEALTH_STATES: readonly HealthState[] = ['starting', 'healthy', 'unhealthy']

export interface HealthReport {
  state: HealthState
  /** Consecutive failed probes (0 after a success). */
  failures: number
  /** Restarts because of failed checks on this meshlet, for this version. */
  restarts: number
  lastFailure?: string
  lastFailureAt?: string
}

