// Energy cost (issue 15): exact decimals in, one half-up rounding out, and the ledger's CPU
// core-ms per owner on a fixture whose figures are worked out by hand in the comments.
import { describe, expect, test } from 'vitest'
import { energyOf, energyRows, fixed, parseDecimal, parseKwhPrice, type EnergyPrice } from '../../src/core/energy.js'
import { Ledger } from '../../src/core/ledger.js'
import { E0, OWNERS, at, claim, honestBid, meshletOf, records, wl } from './ledger-world.js'

describe('parsing', () => {
  test.each([
    ['12', { units: 12n, scale: 0 }],
    ['0.32', { units: 32n, scale: 2 }],
    ['7.5', { units: 75n, scale: 1 }],
    ['0.000000001', { units: 1n, scale: 9 }],
    [' 3 ', { units: 3n, scale: 0 }],
  ])('parseDecimal(%j)', (s, want) => {
    expect(parseDecimal(s)).toEqual(want)
  })

  test.each(['', '-1', '1e3', '.5', '5.', '1.2.3', '0.1234567890', 'twelve', '1,5'])('parseDecimal(%j) says why not', (s) => {
    expect(parseDecimal(s)).toMatch(/^must be a number like 12 or 0\.32/)
  })

  test.each([
    ['0.32', { price: { units: 32n, scale: 2 } }],
    ['0.32 EUR', { price: { units: 32n, scale: 2 }, currency: 'EUR' }],
    ['0.32EUR', { price: { units: 32n, scale: 2 }, currency: 'EUR' }],
    ['$0.15', { price: { units: 15n, scale: 2 }, currency: '$' }],
    ['€ 0.4', { price: { units: 4n, scale: 1 }, currency: '€' }],
  ])('parseKwhPrice(%j)', (s, want) => {
    expect(parseKwhPrice(s)).toEqual(want)
  })

  test.each(['EUR', '$0.15 USD', '0.32 EUR extra', '-0.3', 'abc0.3def', '0..3'])('parseKwhPrice(%j) says why not', (s) => {
    expect(typeof parseKwhPrice(s)).toBe('string')
  })
})

describe('figures', () => {
  test.each([
    [1n, 2n, 0, '1'], // 0.5 rounds up
    [1n, 3n, 0, '0'],
    [5n, 10000n, 3, '0.001'], // 0.0005 rounds up
    [4n, 10000n, 3, '0.000'],
    [12345n, 1n, 2, '12345.00'],
    [2n ** 70n, 1n, 0, '1180591620717411303424'], // past 2^53, exact
  ])('fixed(%s / %s, %i places) = %s', (num, den, places, want) => {
    expect(fixed(num, den, places)).toBe(want)
  })

  const W12: EnergyPrice = { wattsPerCore: { units: 12n, scale: 0 }, kwhPrice: { units: 32n, scale: 2 }, currency: 'EUR' }
  test.each<[string, bigint, EnergyPrice, { kwh: string; cost?: string }]>([
    // 1 core-hour at 12 W = 12 Wh = 0.012 kWh; x 0.32 = 0.00384 -> 0.0038
    ['one core-hour at 12 W, 0.32 EUR', 3_600_000n, W12, { kwh: '0.012', cost: '0.0038 EUR' }],
    // 1000 core-hours at 7.5 W = 7.5 kWh; x 0.32 = 2.4
    ['1000 core-hours at 7.5 W, 0.32', 3_600_000_000n, { wattsPerCore: { units: 75n, scale: 1 }, kwhPrice: { units: 32n, scale: 2 } }, { kwh: '7.500', cost: '2.4000' }],
    // half a core-hour at 1 W = 0.5 Wh = 0.0005 kWh: half up to 0.001
    ['half a watt-hour rounds up', 1_800_000n, { wattsPerCore: { units: 1n, scale: 0 } }, { kwh: '0.001' }],
    ['just under half rounds down', 1_799_999n, { wattsPerCore: { units: 1n, scale: 0 } }, { kwh: '0.000' }],
    ['nothing', 0n, W12, { kwh: '0.000', cost: '0.0000 EUR' }],
  ])('%s', (_n, coreMs, p, want) => {
    expect(energyOf(coreMs, p)).toEqual(want)
  })
})

describe('from the ledger', () => {
  const { alice, bob, carol } = OWNERS
  test("core-ms per owner: bob runs alice's 1-core workload 1 h, carol runs her 250-millicore one 40 min", () => {
    const w1 = wl(alice, 'w1') // 1000 millicores
    const w2 = wl(alice, 'w2', E0, { resources: { cpuMillis: 250, memoryMb: 64 } })
    const base = records([w1, w2], [], [])
    const b1 = honestBid(base, meshletOf(bob), w1)
    const b2 = honestBid(base, meshletOf(carol), w2)
    // carol's claim: started at E0, last renewed 10 min later, silent after: counts 40 min (lease 30 min).
    const l = new Ledger({ ...records([w1, w2], [b1, b2], [claim(b1, 'exited', at(E0), at(E0 + 1)), claim(b2, 'running', at(E0), at(E0, 10 * 60_000))]), now: at(E0 + 3) })
    // bob: 1000 x 3 600 000 / 1000 = 3 600 000; carol: 250 x 2 400 000 / 1000 = 600 000; alice consumed both.
    expect(l.cpuUse(bob)).toEqual({ contributedCoreMs: 3_600_000n, consumedCoreMs: 0n })
    expect(l.cpuUse(carol)).toEqual({ contributedCoreMs: 600_000n, consumedCoreMs: 0n })
    expect(l.cpuUse(alice)).toEqual({ contributedCoreMs: 0n, consumedCoreMs: 4_200_000n })
    const p: EnergyPrice = { wattsPerCore: { units: 12n, scale: 0 }, kwhPrice: { units: 32n, scale: 2 }, currency: 'EUR' }
    // alice: 4.2e6 x 12 / 3.6e9 = 0.014 kWh, x 0.32 = 0.00448 -> 0.0045; carol: 0.002 kWh, 0.00064 -> 0.0006
    expect(energyRows([alice, bob, carol], (o) => l.cpuUse(o), p)).toEqual([
      { owner: alice, consumedCoreMs: 4_200_000n, contributedCoreMs: 0n, consumed: { kwh: '0.014', cost: '0.0045 EUR' }, contributed: { kwh: '0.000', cost: '0.0000 EUR' } },
      { owner: bob, consumedCoreMs: 0n, contributedCoreMs: 3_600_000n, consumed: { kwh: '0.000', cost: '0.0000 EUR' }, contributed: { kwh: '0.012', cost: '0.0038 EUR' } },
      { owner: carol, consumedCoreMs: 0n, contributedCoreMs: 600_000n, consumed: { kwh: '0.000', cost: '0.0000 EUR' }, contributed: { kwh: '0.002', cost: '0.0006 EUR' } },
    ])
  })

  test("an owner's own work on their own meshlet is no energy in the ledger", () => {
    const w1 = wl(alice, 'w1')
    const bid = honestBid(records([w1], [], []), meshletOf(alice), w1)
    const l = new Ledger({ ...records([w1], [bid], [claim(bid, 'exited', at(E0), at(E0 + 1))]), now: at(E0 + 2) })
    expect(l.cpuUse(alice)).toEqual({ contributedCoreMs: 0n, consumedCoreMs: 0n })
  })
})
