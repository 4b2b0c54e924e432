import { describe, expect, test } from 'vitest'
import { backoffMs, restartDecision, type RestartDecision, type RestartInput } from '../../src/core/restart.js'

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
