// Published numbers that are not whole (a corrupt or hostile source) must score as documented:
// truncated to an integer first, so every peer, on any path through the code, gets the same priority.
import { describe, expect, test } from 'vitest'
import { fairShareScore, fitParts, type FitInput } from '../../src/core/priority.js'

describe('fairShareScore of a fractional balance is that of its truncation', () => {
  test.each<[number, number, number]>([
    // 250 x 14.9 / 3614.9 = 1.03 would step down; 250 x 14 / 3614 = 0.97 does not.
    [14.9, 14, 250],
    [-14.9, -14, 250],
    [15.5, 15, 249],
    [3600.7, 3600, 125],
  ])('%s scores as %s: %i', (frac, whole, score) => {
    expect(fairShareScore(whole)).toBe(score)
    expect(fairShareScore(frac)).toBe(score)
  })

  test('an infinite balance from a corrupt source counts as 0', () => {
    expect(fairShareScore(Number.POSITIVE_INFINITY)).toBe(250)
    expect(fairShareScore(Number.NEGATIVE_INFINITY)).toBe(250)
  })
})

describe('fit parts of fractional or missing readings', () => {
  const base: FitInput = {
    capacity: { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' },
    totals: { cpuMillis: 4000, memoryMb: 8192 },
    need: { cpuMillis: 1000, memoryMb: 2048 },
  }
  const parts = (cap: Partial<FitInput['capacity']>, totals: Partial<FitInput['totals']> = {}) =>
    fitParts({ ...base, capacity: { ...base.capacity, ...cap }, totals: { ...base.totals, ...totals } })

  test('free CPU is truncated before the points: 1026.9 free for a 1000 need is 26 left, floor(150 x 26 / 4000) = 0', () => {
    expect(parts({ cpuMillisFree: 1026.9 }).cpu).toBe(0)
    expect(parts({ cpuMillisFree: 1027 }).cpu).toBe(1)
  })

  test('a fractional total is truncated too: total 2048.9 is 2048, all of it left, floor(200 x 2048 / 2048) = 200', () => {
    expect(parts({ memoryMbFree: 4096 }, { memoryMb: 2048.9 }).mem).toBe(200)
  })

  test('a missing free reading scores 0 for that resource, never NaN', () => {
    const p = parts({ memoryMbFree: undefined as unknown as number, cpuMillisFree: undefined as unknown as number })
    expect(p.mem).toBe(0)
    expect(p.cpu).toBe(0)
    expect(p.fit).toBe(150) // load 100 + power 50
  })

  test('load is truncated to whole permille: 980.5 is 980, floor(100 x 20 / 1000) = 2', () => {
    expect(parts({ loadPermille: 980.5 }).load).toBe(2)
    expect(parts({ loadPermille: 981 }).load).toBe(1)
  })

  test('a negative load counts as idle; a load that is not a number counts as saturated', () => {
    expect(parts({ loadPermille: -5 }).load).toBe(100)
    expect(parts({ loadPermille: Number.NaN }).load).toBe(0)
    expect(parts({ loadPermille: '0' as unknown as number }).load).toBe(0)
  })
})
