import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bidPriority, fairShareScore, fitScore, headroomAfter } from '../../src/core/priority.js'
import type { HostSnapshot, Resources } from '../../src/core/types.js'
import { host, workload } from './fixtures.js'

describe('fairShareScore (rule 8)', () => {
  test.each([
    [0, 250],
    [3600, Math.round(250 - 250 * Math.tanh(1))],
    [-3600, Math.round(250 + 250 * Math.tanh(1))],
    [1e9, 0],
    [-1e9, 500],
    [Number.NaN, 250],
  ])('balance %f -> %i', (balance, score) => {
    expect(fairShareScore(balance)).toBe(score)
  })

  test('owners who consumed more than they gave bid higher', () => {
    expect(fairShareScore(-500)).toBeGreaterThan(fairShareScore(0))
    expect(fairShareScore(0)).toBeGreaterThan(fairShareScore(500))
  })
})

describe('fitScore (rule 8)', () => {
  const w = workload({ resources: { cpuMillis: 1000, memoryMb: 2048 } })
  const zero: Resources = { cpuMillis: 0, memoryMb: 0 }
  const fit = (h: Partial<HostSnapshot>, memFree = 8192, committed = zero) => fitScore({ workload: w, host: host({ cpuMillisTotal: 4000, memoryMbTotal: 8192, ...h }), committed, free: { cpuMillisFree: 4000, memoryMbFree: memFree } })

  test.each<[string, Partial<HostSnapshot>, number, number]>([
    // 200*0.75 + 150*0.75 + 100*(1 - 0) + 50 = 412.5 -> 413
    ['idle, cool, on mains', { loadPermille: 0 }, 8192, 413],
    ['half loaded', { loadPermille: 500 }, 8192, 363],
    ['load saturates at 1.0 per core', { loadPermille: 5000 }, 8192, 313],
    ['on battery', { loadPermille: 0, onBattery: true }, 8192, 363],
    ['warm', { loadPermille: 0, thermal: 'warm' }, 8192, 363],
    ['throttled', { loadPermille: 0, thermal: 'throttled' }, 8192, 263],
    // memory headroom (4096-2048)/8192 = 0.25 -> 50
    ['less free memory', { loadPermille: 0 }, 4096, Math.round(50 + 112.5 + 100 + 50)],
  ])('%s', (_name, h, memFree, expected) => {
    expect(fit(h, memFree)).toBe(expected)
  })

  test('headroom counts committed CPU and never goes below 0', () => {
    expect(headroomAfter({ workload: w, host: host({ cpuMillisTotal: 4000 }), committed: { cpuMillis: 2000, memoryMb: 0 }, free: { cpuMillisFree: 2000, memoryMbFree: 1000 } })).toEqual({ cpu: 0.25, memory: 0 })
    expect(headroomAfter({ workload: w, host: host({ cpuMillisTotal: 0, memoryMbTotal: 0 }), committed: zero, free: { cpuMillisFree: 0, memoryMbFree: 0 } })).toEqual({ cpu: 0, memory: 0 })
  })
})

describe('bidPriority (rule 8)', () => {
  test('is fairShare + fit', () => {
    const input = { balance: -1800, workload: workload(), host: host(), committed: { cpuMillis: 0, memoryMb: 0 }, free: { cpuMillisFree: 4000, memoryMbFree: 6000 } }
    expect(bidPriority(input)).toBe(fairShareScore(-1800) + fitScore(input))
  })

  test('is always an integer in [0, 1000], whatever the readings', () => {
    const num = fc.oneof(fc.double({ noNaN: false }), fc.integer({ min: -1e6, max: 1e7 }))
    fc.assert(
      fc.property(num, num, num, num, num, fc.boolean(), fc.constantFrom<HostSnapshot['thermal']>('nominal', 'warm', 'throttled', 'unknown'), (balance, cpuT, memT, memFree, load, onBattery, thermal) => {
        const p = bidPriority({
          balance,
          workload: workload(),
          host: host({ cpuMillisTotal: cpuT, memoryMbTotal: memT, loadPermille: load, onBattery, thermal }),
          committed: { cpuMillis: 0, memoryMb: 0 },
          free: { cpuMillisFree: 0, memoryMbFree: memFree },
        })
        return Number.isInteger(p) && p >= 0 && p <= 1000
      }),
      { numRuns: 1000 },
    )
  })
})
