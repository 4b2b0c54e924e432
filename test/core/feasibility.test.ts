import { describe, expect, test } from 'vitest'
import { checkFeasibility, defaultFeasibilityPolicy } from '../../src/core/feasibility.js'
import type { HostSnapshot, Resources } from '../../src/core/types.js'
import { host, workload } from './fixtures.js'

const none: Resources = { cpuMillis: 0, memoryMb: 0 }
const policy = { ...defaultFeasibilityPolicy, reserveMemoryMb: 0 }

describe('checkFeasibility (rule 6)', () => {
  test.each<{ name: string; need: Resources; h: Partial<HostSnapshot>; committed?: Resources; draining?: boolean; reason?: string }>([
    { name: 'fits', need: { cpuMillis: 500, memoryMb: 256 }, h: {} },
    { name: 'draining declines whatever else holds', need: { cpuMillis: 500, memoryMb: 256 }, h: { thermal: 'throttled' }, draining: true, reason: 'draining' },
    {
      name: 'CPU counts committed replicas',
      need: { cpuMillis: 2000, memoryMb: 64 },
      h: { cpuMillisTotal: 4000 },
      committed: { cpuMillis: 2500, memoryMb: 0 },
      reason: 'insufficient CPU: needs 2000m, 1500m free',
    },
    {
      name: 'memory is the smaller of available and total minus committed',
      need: { cpuMillis: 100, memoryMb: 4096 },
      h: { memoryMbTotal: 8192, memoryMbAvailable: 6000 },
      committed: { cpuMillis: 0, memoryMb: 6992 },
      reason: 'insufficient memory: needs 4096 MiB, 1200 MiB free',
    },
    {
      name: 'memory available on the host limits too',
      need: { cpuMillis: 100, memoryMb: 4096 },
      h: { memoryMbTotal: 16384, memoryMbAvailable: 1200 },
      reason: 'insufficient memory: needs 4096 MiB, 1200 MiB free',
    },
    { name: 'storage when requested and known', need: { cpuMillis: 100, memoryMb: 64, storageMb: 5000 }, h: { storageMbAvailable: 4000 }, reason: 'insufficient storage: needs 5000 MiB, 4000 MiB free' },
    { name: 'storage unknown is not a reason', need: { cpuMillis: 100, memoryMb: 64, storageMb: 5000 }, h: {} },
    { name: 'overloaded', need: { cpuMillis: 100, memoryMb: 64 }, h: { loadPermille: 2300 }, reason: 'overloaded: load 2.30 per core' },
    { name: 'load at the limit is fine', need: { cpuMillis: 100, memoryMb: 64 }, h: { loadPermille: 2000 } },
    { name: 'thermal throttling', need: { cpuMillis: 100, memoryMb: 64 }, h: { thermal: 'throttled' }, reason: 'thermal throttling' },
    { name: 'warm is fine', need: { cpuMillis: 100, memoryMb: 64 }, h: { thermal: 'warm' } },
    { name: 'low battery', need: { cpuMillis: 100, memoryMb: 64 }, h: { onBattery: true, batteryPermille: 150 }, reason: 'on battery at 15% (minimum 20%)' },
    { name: 'battery fine when plugged in', need: { cpuMillis: 100, memoryMb: 64 }, h: { onBattery: false, batteryPermille: 50 } },
    { name: 'battery above the minimum', need: { cpuMillis: 100, memoryMb: 64 }, h: { onBattery: true, batteryPermille: 200 } },
    {
      name: 'every failing check is named',
      need: { cpuMillis: 8000, memoryMb: 64 },
      h: { loadPermille: 3000, thermal: 'throttled' },
      reason: 'insufficient CPU: needs 8000m, 4000m free; overloaded: load 3.00 per core; thermal throttling',
    },
  ])('$name', ({ need, h, committed, draining, reason }) => {
    const r = checkFeasibility(workload({ resources: need }), host(h), committed ?? none, policy, draining ?? false)
    if (reason === undefined) expect(r).toMatchObject({ ok: true })
    else expect(r).toMatchObject({ ok: false, reason })
  })

  test('the reserve is kept back from memory', () => {
    const r = checkFeasibility(workload({ resources: { cpuMillis: 100, memoryMb: 1000 } }), host({ memoryMbAvailable: 1100 }), none, { ...policy, reserveMemoryMb: 256 })
    expect(r).toMatchObject({ ok: false, reason: 'insufficient memory: needs 1000 MiB, 844 MiB free' })
  })

  test('the free snapshot is what a bid publishes: integers, never negative', () => {
    const r = checkFeasibility(workload(), host({ cpuMillisTotal: 1000, memoryMbAvailable: 100.7, loadPermille: 512.4, onBattery: true, batteryPermille: 800 }), { cpuMillis: 3000, memoryMb: 0 }, policy)
    expect(r.free).toEqual({ cpuMillisFree: 0, memoryMbFree: 100, loadPermille: 512, onBattery: true, batteryPermille: 800, thermal: 'nominal' })
  })

  test('garbage resources get a clear decline, not a crash', () => {
    const r = checkFeasibility(workload({ resources: { cpuMillis: Number.NaN, memoryMb: 64 } }), host(), none, policy)
    expect(r).toMatchObject({ ok: false })
    if (!r.ok) expect(r.reason).toMatch(/^invalid resources/)
  })

  test('defaults', () => {
    expect(defaultFeasibilityPolicy).toMatchObject({ maxLoadPermille: 2000, minBatteryPermille: 200 })
  })
})
