// The runner's pre-start retry loop (services/prestart.ts) with an instant sleep: which waits, which
// status messages, when it yields, and that it stops once the claim is gone.
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import { withPrestartRetries, type PrestartHooks } from '../../src/services/prestart.js'
import { isYielded } from '../../src/core/placement.js'

const log = pino({ level: 'silent' })

function harness(failures: number, opts: { wantedFor?: number; permanent?: boolean } = {}) {
  const events: string[] = []
  let calls = 0
  let wanted = opts.wantedFor ?? Number.POSITIVE_INFINITY
  const hooks: PrestartHooks = {
    cleanup: async () => void events.push('cleanup'),
    retrying: async (m) => void events.push(`status: ${m}`),
    yieldSlot: async (m) => void events.push(`release: ${m}`),
    stillWanted: () => wanted-- > 0,
    permanent: () => opts.permanent ?? false,
    sleep: async (ms) => void events.push(`sleep ${ms}`),
  }
  const run = async () => {
    calls++
    if (calls <= failures) throw new Error(`manifest unknown (try ${calls})`)
  }
  return { events, hooks, run, calls: () => calls }
}

describe('withPrestartRetries', () => {
  test('a pull that fails twice then works: waits 1 s and 2 s, keeps the claim, succeeds', async () => {
    const h = harness(2)
    await expect(withPrestartRetries('pull', h.run, h.hooks, log)).resolves.toBe(true)
    expect(h.calls()).toBe(3)
    expect(h.events).toEqual([
      'cleanup',
      'status: retrying pull in 1 s (attempt 1/5): manifest unknown (try 1)',
      'sleep 1000',
      'cleanup',
      'status: retrying pull in 2 s (attempt 2/5): manifest unknown (try 2)',
      'sleep 2000',
    ])
  })

  test('five failures: release with a "start failed:" message, which placement reads as a yield', async () => {
    const h = harness(100)
    await expect(withPrestartRetries('create', h.run, h.hooks, log)).resolves.toBe(false)
    expect(h.calls()).toBe(5)
    expect(h.events.filter((e) => e.startsWith('sleep'))).toEqual(['sleep 1000', 'sleep 2000', 'sleep 4000', 'sleep 8000'])
    const release = h.events.at(-1)!
    expect(release).toBe('release: start failed: create failed 5 times: manifest unknown (try 5)')
    const message = release.slice('release: '.length)
    expect(isYielded({ uri: 'at://m/s/1', meshlet: 'did:plc:m', workload: { uri: 'at://o/w/1', cid: 'c' }, state: 'stopped', message, updatedAt: '2026-01-01T00:00:00.000Z' })).toBe(true)
  })

  test('the claim went away during the wait: no more tries, no release', async () => {
    const h = harness(100, { wantedFor: 2 }) // wanted at the first failure and after the first wait only
    await expect(withPrestartRetries('pull', h.run, h.hooks, log)).resolves.toBe(false)
    expect(h.calls()).toBe(2)
    expect(h.events.filter((e) => e.startsWith('status'))).toHaveLength(1)
    expect(h.events.some((e) => e.startsWith('release'))).toBe(false)
  })

  test('a permanent error (an invalid image reference) is thrown at once for the caller to report', async () => {
    const h = harness(1, { permanent: true })
    await expect(withPrestartRetries('pull', h.run, h.hooks, log)).rejects.toThrow(/manifest unknown/)
    expect(h.events).toEqual([])
  })
})
