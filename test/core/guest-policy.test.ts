import { describe, expect, test } from 'vitest'
import { activity, guestLoadPermille, guestRefusal, idleOnly, timingRefusal, type LoadSample } from '../../src/core/guest-policy.js'

const MIN = 60_000
const at = (iso: string): number => Date.parse(iso)
const samples = (now: number, loads: number[], stepMin = 1, guest = 0): LoadSample[] => loads.map((l, i) => ({ at: now - (loads.length - 1 - i) * stepMin * MIN, loadPermille: l, guestPermille: guest }))
const idle = { active: false, reason: 'idle' }
const busy = { active: true, reason: 'load 1.20 per core or more besides guests for 5 min (threshold 0.70)' }

describe('activity (load above a threshold for N minutes, with hysteresis)', () => {
  const policy = { activeLoadPermille: 700, activeMinutes: 5 }
  const now = at('2026-01-01T12:00:00Z')
  test('active only when every sample of the last N minutes is above, and they reach back N minutes', () => {
    expect(activity(samples(now, [800, 900, 800, 750, 701, 800]), now, policy, false)).toEqual({ active: true, reason: 'load 0.70 per core or more besides guests for 5 min (threshold 0.70)'.replace('0.70 per core or more', '0.70 per core or more') })
    expect(activity(samples(now, [800, 900, 800, 750, 700, 800]), now, policy, false).active).toBe(false) // one at the threshold
    expect(activity(samples(now, [900, 900, 900]), now, policy, false).active).toBe(false) // only 2 minutes of history: unchanged
    expect(activity(samples(now, [900, 900, 900]), now, policy, true).active).toBe(true)
  })
  test('idle again only when every sample is at or below; in between the state holds', () => {
    expect(activity(samples(now, [700, 100, 0, 10, 50, 700]), now, policy, true)).toMatchObject({ active: false })
    expect(activity(samples(now, [100, 100, 900, 100, 100, 100]), now, policy, true)).toMatchObject({ active: true, reason: expect.stringMatching(/^still active/) })
    expect(activity(samples(now, [100, 100, 900, 100, 100, 100]), now, policy, false)).toMatchObject({ active: false, reason: expect.stringMatching(/^still idle/) })
  })
  test("guests' own load does not make the person active", () => {
    expect(activity(samples(now, [1500, 1500, 1500, 1500, 1500, 1500], 1, 1000), now, policy, false).active).toBe(false)
    expect(activity(samples(now, [1800, 1800, 1800, 1800, 1800, 1800], 1, 1000), now, policy, false).active).toBe(true)
    expect(guestLoadPermille(1000, 2000)).toBe(500)
    expect(guestLoadPermille(1, 3000)).toBe(0)
    expect(guestLoadPermille(500, 0)).toBe(0)
  })
  test('activeMinutes 0: the latest sample decides; no sample: unchanged', () => {
    expect(activity(samples(now, [0, 900]), now, { activeLoadPermille: 700, activeMinutes: 0 }, false).active).toBe(true)
    expect(activity([], now, policy, true)).toEqual({ active: true, reason: 'no load reading yet' })
  })
})

describe('guest refusals', () => {
  const night = { window: { hours: '22:00-07:00', tz: 'UTC' } }
  test('guest hours, across midnight', () => {
    expect(guestRefusal({ policy: night, roles: ['worker'], now: at('2026-01-01T12:00:00Z'), onBattery: false, activity: idle })).toBe("outside guest hours 22:00-07:00 UTC (this meshlet takes guests' work only then)")
    expect(guestRefusal({ policy: night, roles: ['worker'], now: at('2026-01-01T23:00:00Z'), onBattery: false, activity: idle })).toBeUndefined()
    expect(guestRefusal({ policy: night, roles: ['worker'], now: at('2026-01-02T06:59:59Z'), onBattery: false, activity: idle })).toBeUndefined()
  })
  test('battery, only when the policy says so', () => {
    const now = at('2026-01-01T12:00:00Z')
    expect(guestRefusal({ policy: { noBattery: true }, roles: [], now, onBattery: true, activity: idle })).toBe('on battery (guest policy: no guest work on battery)')
    expect(guestRefusal({ policy: { noBattery: true }, roles: [], now, onBattery: false, activity: idle })).toBeUndefined()
    expect(guestRefusal({ policy: {}, roles: [], now, onBattery: true, activity: idle })).toBeUndefined()
  })
  test('active person: with whenIdle or the interface role', () => {
    const now = at('2026-01-01T12:00:00Z')
    expect(guestRefusal({ policy: { whenIdle: true }, roles: ['worker'], now, onBattery: false, activity: busy })).toBe(`its person is active: ${busy.reason} (guest policy: guests only when idle)`)
    expect(guestRefusal({ policy: {}, roles: ['interface'], now, onBattery: false, activity: busy })).toBe(`its person is active: ${busy.reason} (role interface: guests only when idle)`)
    expect(guestRefusal({ policy: {}, roles: ['interface'], now, onBattery: false, activity: idle })).toBeUndefined()
    expect(guestRefusal({ policy: {}, roles: ['worker'], now, onBattery: false, activity: busy })).toBeUndefined()
    expect(idleOnly({}, ['interface'])).toBe(true)
    expect(idleOnly({ whenIdle: false }, ['worker'])).toBe(false)
  })
  test("a workload's own window and idle wish", () => {
    expect(timingRefusal({ window: { hours: '01:00-05:00' } }, at('2026-01-01T12:00:00Z'), idle)).toBe('waits for its window 01:00-05:00 UTC')
    expect(timingRefusal({ window: { hours: '01:00-05:00' } }, at('2026-01-01T01:00:00Z'), idle)).toBeUndefined()
    expect(timingRefusal({ when: 'idle' }, 0, busy)).toBe(`waits for an idle machine: this meshlet's person is active (${busy.reason})`)
    expect(timingRefusal({ when: 'idle' }, 0, idle)).toBeUndefined()
    expect(timingRefusal({}, 0, busy)).toBeUndefined()
  })
})
