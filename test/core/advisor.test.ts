// The hardware advisor's figures on a fixture history, exactly (issue 15).
import { describe, expect, test } from 'vitest'
import { advise, demandUnits, lackOf, type Demand, type Machine } from '../../src/core/advisor.js'

const T0 = Date.UTC(2026, 10, 23)
const s = (sec: number) => T0 + sec * 1000
const demand = (workload: string, cpuMillis: number, memoryMb: number, from: number, to: number, declines: string[], extra: Partial<Demand> = {}): Demand => ({
  workload,
  cpuMillis,
  memoryMb,
  roles: [],
  capabilities: [],
  from: s(from),
  to: s(to),
  declines,
  ...extra,
})

const HISTORY: Demand[] = [
  demand('a', 1000, 8192, 0, 3600, ['insufficient memory: needs 8192 MiB, 2000 MiB free']),
  demand('b', 4000, 1024, 0, 1800, ['insufficient CPU: needs 4000m, 1000m free']),
  demand('c', 500, 512, 1000, 2000, ['needs role storage'], { roles: ['storage'] }),
  demand('d', 1000, 2048, 0, 7200, ['needs capability gpu'], { capabilities: ['gpu'] }),
  demand('e', 2000, 16384, 1800, 5400, ['insufficient memory: needs 16384 MiB, 900 MiB free', 'overloaded: load 2.50 per core']),
]
const machine = (name: string, cpuMillis: number, memoryMb: number, roles: string[] = ['worker'], capabilities: string[] = []): Machine => ({ name, cpuMillis, memoryMb, roles, capabilities })

test('demand units: (cores + GiB) x seconds, in milli-units', () => {
  expect(HISTORY.map((d) => demandUnits(d))).toEqual([32_400_000n, 9_000_000n, 1_000_000n, 21_600_000n, 64_800_000n])
  expect(demandUnits(demand('z', 1000, 1024, 10, 5, []))).toBe(0n)
})

test('the table: what was lacked by reason, and what one more machine would have run', () => {
  const a = advise(HISTORY, [
    machine('small 2c/4G', 2000, 4096),
    machine('mid 4c/16G', 4000, 16384),
    machine('mid 4c/24G', 4000, 24576),
    machine('gpu 4c/16G', 4000, 16384, ['worker'], ['gpu']),
    machine('big 8c/32G +storage', 8000, 32768, ['worker', 'storage']),
  ])
  expect(a.demands).toBe(5)
  expect(a.units).toBe(128_800_000n)
  expect(a.lacks).toEqual([
    { reason: 'memory', demands: 2, units: 97_200_000n },
    { reason: 'cpu', demands: 1, units: 9_000_000n },
    { reason: 'role', demands: 1, units: 1_000_000n },
    { reason: 'gpu', demands: 1, units: 21_600_000n },
    { reason: 'load', demands: 1, units: 64_800_000n },
  ])
  expect(a.machines).toEqual([
    // too small for any of it
    { machine: 'small 2c/4G', absorbed: 0, absorbedUnits: 0n, percent: 0 },
    // a alone: b needs more CPU beside it, e more memory beside it
    { machine: 'mid 4c/16G', absorbed: 1, absorbedUnits: 32_400_000n, percent: 25 },
    // e fits beside a to the MiB (8192 + 16384 = 24576)
    { machine: 'mid 4c/24G', absorbed: 2, absorbedUnits: 97_200_000n, percent: 75 },
    // a and the GPU job d together; e no longer fits beside them
    { machine: 'gpu 4c/16G', absorbed: 2, absorbedUnits: 54_000_000n, percent: 41 },
    // everything but the GPU job; b has ended when e starts (spans are half-open)
    { machine: 'big 8c/32G +storage', absorbed: 4, absorbedUnits: 107_200_000n, percent: 83 },
  ])
})

test('no history: nothing lacked, 0 %', () => {
  expect(advise([], [machine('m', 1000, 1024)])).toEqual({ demands: 0, units: 0n, lacks: [], machines: [{ machine: 'm', absorbed: 0, absorbedUnits: 0n, percent: 0 }] })
})

describe('decline reasons by class (the wording of core/feasibility.ts and core/constraints.ts)', () => {
  test.each([
    ['insufficient memory: needs 64 MiB, 0 MiB free', 'memory'],
    ['insufficient CPU: needs 4000m, 100m free', 'cpu'],
    ['insufficient storage: needs 10 MiB, 1 MiB free', 'storage'],
    ['needs role storage', 'role'],
    ['needs roles db, storage', 'role'],
    ['needs capability gpu', 'gpu'],
    ['needs capabilities fpga, gpu', 'gpu'],
    ['needs capability fpga', 'capability'],
    ['needs label zone=home (has zone=work)', 'label'],
    ['overloaded: load 2.85 per core', 'load'],
    ['on battery at 20% (minimum 50%)', 'battery'],
    ['outside its window 22:00-06:00', 'hours'],
    ['owner did:plc:x is over its quota', 'other'],
  ])('%s -> %s', (reason, lack) => {
    expect(lackOf(reason)).toBe(lack)
  })
})
