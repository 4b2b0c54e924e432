// What to do when a container exits: restart after a backoff, or settle in a final state with a
// message a person understands. Time comes in as arguments (now, lastExitAt), so a decision taken
// late only waits out the remainder of the backoff.

import type { RestartPolicyName, WorkloadKind } from './types.js'

export const DEFAULT_MAX_RETRIES = 5
export const BACKOFF_BASE_MS = 1_000
export const BACKOFF_CAP_MS = 60_000
/**
 * A replica that ran this long without a crash starts over with a full restart budget and the
 * shortest backoff (Nomad's restart.interval): an occasionally crashing service is not given up.
 */
export const RESTART_INTERVAL_MS = 300_000
/** Tries of the pre-start steps (pull, create) on one peer before it yields the slot. */
export const PRESTART_ATTEMPTS = 5

export interface RestartInput {
  kind: WorkloadKind
  policy: RestartPolicyName
  /** Restarts allowed before giving up; default 5. */
  maxRetries?: number
  exitCode: number
  oomKilled: boolean
  /** Restarts already done for this replica. */
  restarts: number
  /** Epoch ms. */
  now: number
  /** Epoch ms of this exit. */
  lastExitAt: number
  /**
   * How long the container ran before this exit (engine's finishedAt - startedAt), when known: a
   * run of RESTART_INTERVAL_MS or more resets `restarts` (see restartsBefore).
   */
  ranMs?: number
  /** The container's memory limit in MiB (the workload's resources.memoryMb), for the out-of-memory message. */
  memoryMb?: number
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number }
  | { action: 'final'; state: 'exited' | 'failed'; message: string }

/** Backoff before restart number `restarts + 1`: 1 s, 2 s, 4 s ... capped at 60 s. */
export function backoffMs(restarts: number): number {
  const n = count(restarts)
  // 2^6 s already exceeds the cap; avoid huge exponents.
  return n >= 6 ? BACKOFF_CAP_MS : Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** n)
}

export function exitMessage(exitCode: number, oomKilled: boolean, memoryMb?: number): string {
  if (oomKilled) return memoryMb !== undefined ? `killed: out of memory (limit ${memoryMb} MiB)` : 'killed: out of memory'
  return `exit code ${exitCode}`
}

export function restartDecision(input: RestartInput): RestartDecision {
  const { kind, policy, exitCode, oomKilled, now, lastExitAt, memoryMb } = input
  const cause = exitMessage(exitCode, oomKilled, memoryMb)
  const clean = exitCode === 0 && !oomKilled

  if (kind === 'batch') {
    if (clean) return { action: 'final', state: 'exited', message: 'completed (exit 0)' }
    return { action: 'final', state: oomKilled ? 'failed' : 'exited', message: cause }
  }

  const wantsRestart = policy === 'always' || (policy === 'on-failure' && !clean)
  if (!wantsRestart) {
    if (clean) return { action: 'final', state: 'exited', message: `exited (exit 0); restart policy ${policy}` }
    return { action: 'final', state: 'failed', message: `${cause}; restart policy ${policy}` }
  }

  const restarts = restartsBefore(input.restarts, input.ranMs)
  const max = input.maxRetries !== undefined && Number.isFinite(input.maxRetries) && input.maxRetries >= 0
    ? Math.floor(input.maxRetries)
    : DEFAULT_MAX_RETRIES
  if (restarts >= max) {
    return { action: 'final', state: 'failed', message: `restarted ${restarts} ${restarts === 1 ? 'time' : 'times'}, giving up: ${cause}` }
  }
  const elapsed = Math.max(0, now - lastExitAt)
  return { action: 'restart', delayMs: Math.max(0, backoffMs(restarts) - elapsed) }
}

/** Restarts that still count after a run of `ranMs`: none once it ran RESTART_INTERVAL_MS without a crash. */
export function restartsBefore(restarts: number, ranMs: number | undefined): number {
  return ranMs !== undefined && ranMs >= RESTART_INTERVAL_MS ? 0 : count(restarts)
}

export type PrestartStep = 'pull' | 'create'

export type PrestartDecision = { action: 'retry'; delayMs: number; message: string } | { action: 'yield'; message: string }

/**
 * After pre-start attempt `attempt` (1-based) of `step` failed with `reason`: wait 1 s, 2 s, 4 s,
 * 8 s and try again on this peer, keeping the claim; after PRESTART_ATTEMPTS, yield the slot with a
 * message starting "start failed:" (core/placement.ts YIELD_MESSAGE_PREFIXES), so the next
 * candidate takes it and this peer is a last-resort candidate again: a registry outage leaves no
 * workload with zero copies for good.
 */
export function prestartDecision(step: PrestartStep, attempt: number, reason: string): PrestartDecision {
  const n = Math.max(1, count(attempt))
  if (n >= PRESTART_ATTEMPTS) return { action: 'yield', message: `start failed: ${step} failed ${PRESTART_ATTEMPTS} times: ${reason}` }
  const delayMs = BACKOFF_BASE_MS * 2 ** (n - 1)
  return { action: 'retry', delayMs, message: `retrying ${step} in ${delayMs / 1000} s (attempt ${n}/${PRESTART_ATTEMPTS}): ${reason}` }
}

/** A counter from outside: NaN and negatives read as 0, fractions round down. */
function count(x: number): number {
  return Number.isNaN(x) || x <= 0 ? 0 : Math.floor(x)
}
