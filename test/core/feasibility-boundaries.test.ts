// Rule 6 at its edges (core/feasibility.ts): a need equal to what is free fits; the published
// snapshot is clamped and whole; the decline names every number the way a person reads it.
import { describe, expect, test } from 'vitest'
import { checkFeasibility, defaultFeasibilityPolicy, freeCapacity } from '../../src/core/feasibility.js'
import type { HostSnapshot, Resources } from '../../src/core/types.js'
import { host, workload } from './fixtures.js'

const none: Resources = { cpuMillis: 0, memoryMb: 0 }
const policy = { ...defaultFeasibilityPolicy, reserveMemoryMb: 0 }
const check = (need: Resources, h: Partial<HostSnapshot> = {}, p = policy, committed = none) => checkFeasibility(workload({ resources: need }), host(h), committed, p)
const reason = (...a: Parameters<typeof check>) => {
  const r = check(...a)
  return r.ok ? undefined : r.reason
}

describe('a need equal to what is free fits; one more does not', () => {
  test('CPU (host 4000m, 1000m committed)', () => {
    expect(reason({ cpuMillis: 3000, memoryMb: 64 }, {}, policy, { cpuMillis: 1000, memoryMb: 0 })).toBeUndefined()
    expect(reason({ cpuMillis: 3001, memoryMb: 64 }, {}, policy, { cpuMillis: 1000, memoryMb: 0 })).toBe('insufficient CPU: needs 3001m, 3000m free')
  })

  test('memory (6000 MiB available, 256 reserved)', () => {
    const p = { ...policy, reserveMemoryMb: 256 }
    expect(reason({ cpuMillis: 100, memoryMb: 5744 }, {}, p)).toBeUndefined()
    expect(reason({ cpuMillis: 100, memoryMb: 5745 }, {}, p)).toBe('insufficient memory: needs 5745 MiB, 5744 MiB free')
  })

  test('storage, counted in whole MiB', () => {
    expect(reason({ cpuMillis: 100, memoryMb: 64, storageMb: 4000 }, { storageMbAvailable: 4000.9 })).toBeUndefined()
    expect(reason({ cpuMillis: 100, memoryMb: 64, storageMb: 4001 }, { storageMbAvailable: 4000.9 })).toBe('insufficient storage: needs 4001 MiB, 4000 MiB free')
    expect(reason({ cpuMillis: 100, memoryMb: 64, storageMb: 1 }, { storageMbAvailable: -50 })).toBe('insufficient storage: needs 1 MiB, 0 MiB free')
  })

  test('no storage asked for: a full disk is not a reason', () => {
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { storageMbAvailable: 0 })).toBeUndefined()
    expect(reason({ cpuMillis: 100, memoryMb: 64, storageMb: 0 }, { storageMbAvailable: 0 })).toBeUndefined()
    expect(reason({ cpuMillis: 100, memoryMb: 64, storageMb: 10 }, { storageMbAvailable: Number.NaN })).toBeUndefined()
  })

  test('load one permille over the limit, with its own policy', () => {
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { loadPermille: 1001 }, { ...policy, maxLoadPermille: 1000 })).toBe('overloaded: load 1.00 per core')
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { loadPermille: 1000 }, { ...policy, maxLoadPermille: 1000 })).toBeUndefined()
    // A policy limit that is not a number falls back to the default 2000.
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { loadPermille: 2000 }, { ...policy, maxLoadPermille: Number.NaN })).toBeUndefined()
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { loadPermille: 2001 }, { ...policy, maxLoadPermille: Number.NaN })).toBe('overloaded: load 2.00 per core')
  })

  test('battery one permille under the minimum, shown with its tenth of a percent', () => {
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { onBattery: true, batteryPermille: 199 })).toBe('on battery at 19.9% (minimum 20%)')
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { onBattery: true, batteryPermille: 300 }, { ...policy, minBatteryPermille: 305 })).toBe('on battery at 30% (minimum 30.5%)')
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { onBattery: true, batteryPermille: 150 }, { ...policy, minBatteryPermille: Number.NaN })).toBe('on battery at 15% (minimum 20%)')
    // On battery with no charge reading: nothing to compare.
    expect(reason({ cpuMillis: 100, memoryMb: 64 }, { onBattery: true, batteryPermille: undefined })).toBeUndefined()
  })
})

describe('the decline', () => {
  test('names every failing check in order, joined by "; "', () => {
    expect(
      reason({ cpuMillis: 8000, memoryMb: 9000, storageMb: 10 }, { storageMbAvailable: 5, loadPermille: 2500, thermal: 'throttled', onBattery: true, batteryPermille: 100 }),
    ).toBe('insufficient CPU: needs 8000m, 4000m free; insufficient memory: needs 9000 MiB, 6000 MiB free; insufficient storage: needs 10 MiB, 5 MiB free; overloaded: load 2.50 per core; thermal throttling; on battery at 10% (minimum 20%)')
  })

  test.each<[string, Resources, string]>([
    ['zero CPU', { cpuMillis: 0, memoryMb: 64 }, 'got 0 and 64'],
    ['zero memory', { cpuMillis: 100, memoryMb: 0 }, 'got 100 and 0'],
    ['negative CPU', { cpuMillis: -1, memoryMb: 64 }, 'got -1 and 64'],
    ['memory not a number', { cpuMillis: 100, memoryMb: Number.NaN }, 'got 100 and NaN'],
  ])('%s: invalid resources, with what was given', (_what, need, got) => {
    expect(reason(need)).toBe(`invalid resources: cpuMillis and memoryMb must be positive numbers, ${got}`)
  })

  test('no resources at all', () => {
    const r = checkFeasibility({ resources: undefined as unknown as Resources }, host(), none, policy)
    expect(r).toMatchObject({ ok: false, reason: 'invalid resources: cpuMillis and memoryMb must be positive numbers, got undefined and undefined' })
  })

  test('draining is the only reason given while draining, even for invalid resources', () => {
    expect(checkFeasibility(workload({ resources: { cpuMillis: 0, memoryMb: 0 } }), host(), none, policy, true)).toMatchObject({ ok: false, reason: 'draining' })
  })
})

describe('freeCapacity: the snapshot a bid publishes', () => {
  test('battery is whole permille within [0, 1000]; absent when the host has no reading', () => {
    expect(freeCapacity(host({ batteryPermille: 1200 }), none, policy).batteryPermille).toBe(1000)
    expect(freeCapacity(host({ batteryPermille: -3 }), none, policy).batteryPermille).toBe(0)
    expect(freeCapacity(host({ batteryPermille: 512.6 }), none, policy).batteryPermille).toBe(513)
    expect('batteryPermille' in freeCapacity(host({ batteryPermille: undefined }), none, policy)).toBe(false)
    expect('batteryPermille' in freeCapacity(host({ batteryPermille: Number.NaN }), none, policy)).toBe(false)
  })

  test('load is whole and never negative; onBattery only when the host says so', () => {
    expect(freeCapacity(host({ loadPermille: -20 }), none, policy).loadPermille).toBe(0)
    expect(freeCapacity(host({ loadPermille: 99.5 }), none, policy).loadPermille).toBe(100)
    expect(freeCapacity(host({ onBattery: undefined }), none, policy).onBattery).toBe(false)
    expect(freeCapacity(host({ onBattery: true }), none, policy).onBattery).toBe(true)
  })

  test('memory is the smaller of available and total minus committed, less the reserve, never negative', () => {
    expect(freeCapacity(host({ memoryMbTotal: 8192, memoryMbAvailable: 8192 }), { cpuMillis: 0, memoryMb: 1000 }, { ...policy, reserveMemoryMb: 100 }).memoryMbFree).toBe(7092)
    expect(freeCapacity(host({ memoryMbTotal: 8192, memoryMbAvailable: 500 }), none, { ...policy, reserveMemoryMb: 600 }).memoryMbFree).toBe(0)
    // Unknown readings count as 0, not NaN.
    expect(freeCapacity(host({ memoryMbAvailable: Number.NaN, cpuMillisTotal: Number.NaN }), none, policy)).toMatchObject({ memoryMbFree: 0, cpuMillisFree: 0 })
  })
})
