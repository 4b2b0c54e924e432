import { describe, expect, test } from 'vitest'
import { PRESTART_ATTEMPTS, RESTART_INTERVAL_MS, backoffMs, prestartDecision, restartDecision, restartsBefore, type RestartDecision, type RestartInput } from '../../src/core/restart.js'

const T = 1_700_000_000_000
const base: RestartInput = { kind: 'service', policy: 'always', exitCode: 1, oomKilled: false, restarts: 0, now: T, lastExitAt: T }

describe('restartDecision', () => {
  test.each<{ name: string; input: Partial<RestartInput>; expected: RestartDecision }>([
    // batch: never restarted
    { name: 'batch exit 0', input: { kind: 'batch', exitCode: 0 }, expected: { action: 'final', state: 'exited', message: 'completed (exit 0)' } },
    { name: 'batch exit 3', input: { kind: 'batch', exitCode: 3 }, expected: { action: 'final', state: 'exited', message: 'exit code 3' } },
    {
      name: 'batch OOM',
      input: { kind: 'batch', exitCode: 137, oomKilled: true, memoryMb: 64 },
      expected: { action: 'final', state: 'failed', message: 'killed: out of memory (limit 64 MiB)' },
    },
    { name: 'batch ignores policy always', input: { kind: 'batch', policy: 'always', exitCode: 1 }, expected: { action: 'final', state: 'exited', message: 'exit code 1' } },
    // service, always
    { name: 'always restarts on exit 0', input: { exitCode: 0 }, expected: { action: 'restart', delayMs: 1_000 } },
    { name: 'always restarts on failure', input: { exitCode: 2 }, expected: { action: 'restart', delayMs: 1_000 } },
    { name: 'always restarts after OOM', input: { exitCode: 137, oomKilled: true }, expected: { action: 'restart', delayMs: 1_000 } },
    // service, on-failure
    {
      name: 'on-failure does not restart exit 0',
      input: { policy: 'on-failure', exitCode: 0 },
      expected: { action: 'final', state: 'exited', message: 'exited (exit 0); restart policy on-failure' },
    },
    { name: 'on-failure restarts exit 1', input: { policy: 'on-failure', exitCode: 1, restarts: 1 }, expected: { action: 'restart', delayMs: 2_000 } },
    // service, never
    { name: 'never, exit 0', input: { policy: 'never', exitCode: 0 }, expected: { action: 'final', state: 'exited', message: 'exited (exit 0); restart policy never' } },
    { name: 'never, exit 1', input: { policy: 'never', exitCode: 1 }, expected: { action: 'final', state: 'failed', message: 'exit code 1; restart policy never' } },
    {
      name: 'never, OOM without a known limit',
      input: { policy: 'never', exitCode: 137, oomKilled: true },
      expected: { action: 'final', state: 'failed', message: 'killed: out of memory; restart policy never' },
    },
    // giving up
    {
      name: 'default max retries is 5',
      input: { restarts: 5, exitCode: 1 },
      expected: { action: 'final', state: 'failed', message: 'restarted 5 times, giving up: exit code 1' },
    },
    { name: 'fourth retry still allowed by default', input: { restarts: 4 }, expected: { action: 'restart', delayMs: 16_000 } },
    {
      name: 'custom max retries',
      input: { maxRetries: 1, restarts: 1, exitCode: 137, oomKilled: true, memoryMb: 32 },
      expected: { action: 'final', state: 'failed', message: 'restarted 1 time, giving up: killed: out of memory (limit 32 MiB)' },
    },
    { name: 'max retries 0 never restarts', input: { maxRetries: 0 }, expected: { action: 'final', state: 'failed', message: 'restarted 0 times, giving up: exit code 1' } },
    { name: 'high max retries reaches the 60 s cap', input: { maxRetries: 100, restarts: 20 }, expected: { action: 'restart', delayMs: 60_000 } },
    // time already spent counts against the backoff
    { name: 'late decision waits only the remainder', input: { restarts: 2, now: T + 1_500 }, expected: { action: 'restart', delayMs: 2_500 } },
    { name: 'very late decision restarts at once', input: { restarts: 2, now: T + 90_000 }, expected: { action: 'restart', delayMs: 0 } },
    { name: 'clock behind the exit waits the full backoff', input: { restarts: 1, now: T - 5_000 }, expected: { action: 'restart', delayMs: 2_000 } },
    // nonsense counters do not crash
    { name: 'negative restarts read as 0', input: { restarts: -3 }, expected: { action: 'restart', delayMs: 1_000 } },
    { name: 'NaN maxRetries falls back to 5', input: { maxRetries: Number.NaN, restarts: 5 }, expected: { action: 'final', state: 'failed', message: 'restarted 5 times, giving up: exit code 1' } },
  ])('$name', ({ input, expected }) => {
    expect(restartDecision({ ...base, ...input })).toEqual(expected)
  })
})

describe('backoff', () => {
  test.each([
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [4, 16_000],
    [5, 32_000],
    [6, 60_000],
    [7, 60_000],
    [1_000, 60_000],
    [Number.POSITIVE_INFINITY, 60_000],
    [Number.NaN, 1_000],
    [-1, 1_000],
  ])('after %d restarts waits %d ms', (restarts, ms) => {
    expect(backoffMs(restarts)).toBe(ms)
  })

  test('grows monotonically and never exceeds the cap', () => {
    let prev = 0
    for (let n = 0; n < 50; n++) {
      const d = backoffMs(n)
      expect(d).toBeGreaterThanOrEqual(prev)
      expect(d).toBeLessThanOrEqual(60_000)
      prev = d
    }
  })
})

describe('restart interval (Nomad restart.interval): a stable run resets the budget', () => {
  test.each([
    { ranMs: undefined, restarts: 4, counted: 4 },
    { ranMs: 0, restarts: 4, counted: 4 },
    { ranMs: RESTART_INTERVAL_MS - 1, restarts: 4, counted: 4 },
    { ranMs: RESTART_INTERVAL_MS, restarts: 4, counted: 0 },
    { ranMs: 24 * 3_600_000, restarts: 5, counted: 0 },
    { ranMs: Number.NaN, restarts: 3, counted: 3 },
  ])('after a run of $ranMs ms, $restarts restarts count as $counted', ({ ranMs, restarts, counted }) => {
    expect(restartsBefore(restarts, ranMs)).toBe(counted)
  })

  test('an exhausted budget is given up after a short run but restarted at once after a 5-minute run', () => {
    expect(restartDecision({ ...base, restarts: 5, ranMs: RESTART_INTERVAL_MS - 1 })).toEqual({ action: 'final', state: 'failed', message: 'restarted 5 times, giving up: exit code 1' })
    expect(restartDecision({ ...base, restarts: 5, ranMs: RESTART_INTERVAL_MS })).toEqual({ action: 'restart', delayMs: 1_000 })
    // The backoff starts over too: 1 s, not 32 s.
    expect(restartDecision({ ...base, restarts: 4, ranMs: RESTART_INTERVAL_MS })).toEqual({ action: 'restart', delayMs: 1_000 })
    expect(restartDecision({ ...base, restarts: 4, ranMs: RESTART_INTERVAL_MS - 1 })).toEqual({ action: 'restart', delayMs: 16_000 })
  })

  test('batch is never restarted, however long it ran', () => {
    expect(restartDecision({ ...base, kind: 'batch', exitCode: 1, ranMs: RESTART_INTERVAL_MS })).toEqual({ action: 'final', state: 'exited', message: 'exit code 1' })
  })
})

describe('pre-start failures (pull, create): retry on this peer, then yield', () => {
  test('1 s doubling, 5 tries, the claim kept; the message says what happens next', () => {
    const schedule = [1, 2, 3, 4, 5].map((n) => prestartDecision('pull', n, 'registry unreachable'))
    expect(schedule).toEqual([
      { action: 'retry', delayMs: 1_000, message: 'retrying pull in 1 s (attempt 1/5): registry unreachable' },
      { action: 'retry', delayMs: 2_000, message: 'retrying pull in 2 s (attempt 2/5): registry unreachable' },
      { action: 'retry', delayMs: 4_000, message: 'retrying pull in 4 s (attempt 3/5): registry unreachable' },
      { action: 'retry', delayMs: 8_000, message: 'retrying pull in 8 s (attempt 4/5): registry unreachable' },
      { action: 'yield', message: 'start failed: pull failed 5 times: registry unreachable' },
    ])
    expect(PRESTART_ATTEMPTS).toBe(5)
  })

  test('create failures yield the same way; nonsense attempt numbers do not crash', () => {
    expect(prestartDecision('create', 9, 'name in use')).toEqual({ action: 'yield', message: 'start failed: create failed 5 times: name in use' })
    expect(prestartDecision('create', 0, 'x')).toEqual({ action: 'retry', delayMs: 1_000, message: 'retrying create in 1 s (attempt 1/5): x' })
    expect(prestartDecision('create', Number.NaN, 'x').action).toBe('retry')
  })
})
