import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bidPriority, fairShareScore, fitParts, fitScore, type FitInput } from '../../src/core/priority.js'
import type { CapacitySnapshot } from '../../src/core/types.js'

describe('fairShareScore = clamp(250 - trunc(250 b / (|b| + 3600)), 0, 500)', () => {
  test.each<[string, bigint | number, number]>([
    ['balanced owner', 0, 250],
    ['one core-hour given', 3600, 125],
    ['one core-hour taken', -3600, 375],
    ['b = 1: 250/3601 truncates to 0', 1, 250],
    ['b = -1: trunc toward zero (floor would give 251)', -1, 250],
    ['b = 14: 3500/3614 < 1', 14, 250],
    ['b = 15: first step down', 15, 249],
    ['b = -15: trunc(-1.03) = -1 (floor would give 252)', -15, 251],
    ['b = 10800: 250*3/4', 10800, 63],
    ['b = -10800', -10800, 437],
    ['huge credit approaches but never reaches 0', 10n ** 30n, 1],
    ['huge debt approaches but never reaches 500', -(10n ** 30n), 499],
    ['2^60 (past double precision)', 2n ** 60n, 1],
    ['NaN from a corrupt source counts as 0', Number.NaN, 250],
  ])('%s: %s -> %i', (_name, balance, score) => {
    expect(fairShareScore(balance)).toBe(score)
  })

  test('a number and the same BigInt give the same score; debtors bid higher', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), (b) => {
        expect(fairShareScore(b)).toBe(fairShareScore(BigInt(b)))
        expect(fairShareScore(b)).toBeGreaterThanOrEqual(fairShareScore(b + 3600))
      }),
      { numRuns: 500 },
    )
  })
})

describe('the double fast paths equal the BigInt definitions', () => {
  const refFair = (b: bigint) => {
    const abs = b < 0n ? -b : b
    const v = 250n - (250n * b) / (abs + 3600n)
    return Number(v < 0n ? 0n : v > 500n ? 500n : v)
  }
  const refHeadroom = (w: bigint, free: bigint, need: bigint, total: bigint) => {
    if (total <= 0n) return 0
    let left = free - need
    if (left < 0n) left = 0n
    if (left > total) left = total
    return Number((w * left) / total)
  }

  test('fairShare for balances around the 2^44 switch and across the range', () => {
    const edge = fc.constantFrom(2 ** 44 - 1, 2 ** 44, -(2 ** 44) + 1, -(2 ** 44), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER)
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -(2 ** 44), max: 2 ** 44 }), fc.double({ min: -(2 ** 53), max: 2 ** 53, noNaN: true }).map(Math.trunc), edge), (b) => {
        expect(fairShareScore(b)).toBe(refFair(BigInt(b)))
      }),
      { numRuns: 2000 },
    )
  })

  test('mem and cpu points for totals around the 2^44 switch and across the range', () => {
    const n = fc.oneof(fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 2 ** 44 + 10 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
    fc.assert(
      fc.property(n, n, n, n, n, n, (memT, memF, cpuT, cpuF, needCpu, needMem) => {
        const p = fitParts({ capacity: { cpuMillisFree: cpuF, memoryMbFree: memF, loadPermille: 0, onBattery: false }, totals: { cpuMillis: cpuT, memoryMb: memT }, need: { cpuMillis: needCpu, memoryMb: needMem } })
        expect(p.mem).toBe(refHeadroom(200n, BigInt(memF), BigInt(needMem), BigInt(memT)))
        expect(p.cpu).toBe(refHeadroom(150n, BigInt(cpuF), BigInt(needCpu), BigInt(cpuT)))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('fitScore from the bid capacity, the profile totals and the resources', () => {
  const base: FitInput = {
    capacity: { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' },
    totals: { cpuMillis: 4000, memoryMb: 8192 },
    need: { cpuMillis: 1000, memoryMb: 2048 },
  }
  const fit = (cap: Partial<CapacitySnapshot>, over: Partial<FitInput> = {}) => fitScore({ ...base, ...over, capacity: { ...base.capacity, ...cap } })

  test('parts of an idle, cool machine on mains: mem floor(200*6144/8192)=150, cpu floor(150*3000/4000)=112, load 100, power 50', () => {
    expect(fitParts(base)).toEqual({ mem: 150, cpu: 112, load: 100, power: 50, thermal: 0, spread: 0, fit: 412 })
  })

  test.each<[string, Partial<CapacitySnapshot>, number]>([
    ['half loaded', { loadPermille: 500 }, 362],
    ['load 990 permille: floor(100*10/1000) = 1', { loadPermille: 990 }, 313],
    ['load 999 permille: floor(0.1) = 0', { loadPermille: 999 }, 312],
    ['load saturates at 1000', { loadPermille: 5000 }, 312],
    ['no loadPermille counts as fully loaded', { loadPermille: undefined }, 312],
    ['on battery', { onBattery: true }, 362],
    ['no onBattery counts as on battery', { onBattery: undefined }, 362],
    ['warm', { thermal: 'warm' }, 362],
    ['throttled', { thermal: 'throttled' }, 262],
    ['unknown thermal costs nothing', { thermal: 'unknown' }, 412],
    ['less free memory: floor(200*2048/8192) = 50', { memoryMbFree: 4096 }, 312],
    ['free memory below the need clamps to 0', { memoryMbFree: 1000 }, 262],
    ['free CPU one milli above the need: floor(150/4000) = 0', { cpuMillisFree: 1001 }, 300],
    ['free memory above the total clamps to the total', { memoryMbFree: 20_000 }, 462],
    ['a hot, loaded, full machine on battery bottoms out at 0', { memoryMbFree: 0, cpuMillisFree: 0, loadPermille: 1000, onBattery: true, thermal: 'throttled' }, 0],
  ])('%s -> %i', (_name, cap, expected) => {
    expect(fit(cap)).toBe(expected)
  })

  test('a zero total scores 0 for that resource', () => {
    expect(fitParts({ ...base, totals: { cpuMillis: 0, memoryMb: 0 } })).toMatchObject({ mem: 0, cpu: 0, fit: 150 })
  })

  test('products past 2^53 stay exact (BigInt): floor(150 * (T - 1) / T) = 149 for T = 2^53 - 1 (doubles round it to 150)', () => {
    const T = Number.MAX_SAFE_INTEGER
    expect(fitParts({ capacity: { ...base.capacity, cpuMillisFree: T }, totals: { cpuMillis: T, memoryMb: 8192 }, need: { cpuMillis: 1, memoryMb: 2048 } }).cpu).toBe(149)
  })
})

describe('bidPriority', () => {
  test('is fairShare + fit, with its parts', () => {
    const p = bidPriority({
      balance: -3600n,
      capacity: { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' },
      totals: { cpuMillis: 4000, memoryMb: 8192 },
      need: { cpuMillis: 1000, memoryMb: 2048 },
    })
    expect(p).toMatchObject({ fairShare: 375, fit: 412, priority: 787 })
  })

  test('is always an integer in [0, 1000], whatever the published numbers', () => {
    const nat = fc.integer({ min: 0, max: 2 ** 40 })
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), nat, nat, nat, nat, nat, fc.option(fc.boolean(), { nil: undefined }), fc.constantFrom<CapacitySnapshot['thermal']>('nominal', 'warm', 'throttled', 'unknown', undefined), (balance, cpuT, memT, cpuF, memF, load, onBattery, thermal) => {
        const { priority } = bidPriority({ balance, capacity: { cpuMillisFree: cpuF, memoryMbFree: memF, loadPermille: load, onBattery, thermal }, totals: { cpuMillis: cpuT, memoryMb: memT }, need: { cpuMillis: 1, memoryMb: 6 } })
        return Number.isInteger(priority) && priority >= 0 && priority <= 1000
      }),
      { numRuns: 1000 },
    )
  })
})
