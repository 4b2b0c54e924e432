import { cpus, tmpdir, totalmem } from 'node:os'
import { describe, expect, test } from 'vitest'
import { SystemHostProbe, loadPermilleOf, thermalFromCelsius } from '../../src/adapters/host/system-host-probe.js'
import { ConfigError } from '../../src/errors.js'

const MIB = 1024 * 1024

describe('pure readings', () => {
  test.each([
    [null, 'unknown'],
    [undefined, 'unknown'],
    [Number.NaN, 'unknown'],
    [-1, 'unknown'],
    [45, 'nominal'],
    [79.9, 'nominal'],
    [80, 'warm'],
    [89.5, 'warm'],
    [90, 'throttled'],
    [104, 'throttled'],
  ])('%s °C is %s', (c, want) => {
    expect(thermalFromCelsius(c)).toBe(want)
  })

  test.each([
    [0, 2, 0],
    [1, 2, 500],
    [2.5, 2, 1250],
    [0.0004, 4, 0],
    [3, 0, 0],
    [-1, 2, 0],
  ])('load %s on %s cores is %s permille', (load, cores, want) => {
    expect(loadPermilleOf(load, cores)).toBe(want)
  })
})

describe('SystemHostProbe on this machine', () => {
  test('snapshot matches the machine and is fast once warm', async () => {
    const probe = new SystemHostProbe()
    const first = await probe.snapshot()
    expect(first.cpuMillisTotal).toBe(cpus().length * 1000)
    const totalMb = totalmem() / MIB
    expect(Math.abs(first.memoryMbTotal - totalMb)).toBeLessThan(Math.max(64, totalMb * 0.02))
    expect(first.memoryMbAvailable).toBeGreaterThan(0)
    expect(first.memoryMbAvailable).toBeLessThanOrEqual(first.memoryMbTotal)
    expect(Number.isInteger(first.loadPermille) && first.loadPermille >= 0).toBe(true)
    expect(typeof first.onBattery).toBe('boolean')
    expect(['nominal', 'warm', 'throttled', 'unknown']).toContain(first.thermal)
    for (const v of [first.cpuMillisTotal, first.memoryMbTotal, first.memoryMbAvailable, first.loadPermille]) expect(Number.isInteger(v)).toBe(true)

    // Warm calls reuse the cached slow sensors; take the best of a few so a busy CI box does not flake.
    const times: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      await probe.snapshot()
      times.push(performance.now() - t0)
    }
    expect(Math.min(...times)).toBeLessThan(50)
  })

  test('limits from the owner cap what is advertised', async () => {
    const probe = new SystemHostProbe({ cpuMillisLimit: 500, memoryMbLimit: 64 })
    const s = await probe.snapshot()
    expect(s.cpuMillisTotal).toBe(500)
    expect(s.memoryMbTotal).toBe(64)
    expect(s.memoryMbAvailable).toBeLessThanOrEqual(64)
    // A limit above the machine does not invent capacity.
    const big = await new SystemHostProbe({ cpuMillisLimit: 10_000_000 }).snapshot()
    expect(big.cpuMillisTotal).toBe(cpus().length * 1000)
  })

  test('storage is reported for a given path, absent otherwise', async () => {
    const withPath = await new SystemHostProbe({ storagePath: tmpdir() }).snapshot()
    expect(withPath.storageMbAvailable).toBeGreaterThan(0)
    const missing = await new SystemHostProbe({ storagePath: '/nonexistent/meshlet/data' }).snapshot()
    expect(missing.storageMbAvailable).toBeUndefined()
    expect((await new SystemHostProbe().snapshot()).storageMbAvailable).toBeUndefined()
  })

  test.each([
    [{ cpuMillisLimit: 0 }, /cpuMillisLimit must be a positive integer/],
    [{ memoryMbLimit: 1.5 }, /memoryMbLimit must be a positive integer/],
    [{ cacheMs: -1 }, /cacheMs/],
  ])('bad option %j is a ConfigError', (opts, why) => {
    expect(() => new SystemHostProbe(opts)).toThrow(ConfigError)
    expect(() => new SystemHostProbe(opts)).toThrow(why)
  })

  test('concurrent and uncached snapshots agree', async () => {
    const probe = new SystemHostProbe({ cacheMs: 0 })
    const snaps = await Promise.all([probe.snapshot(), probe.snapshot(), probe.snapshot()])
    expect(new Set(snaps.map((s) => `${s.cpuMillisTotal}/${s.memoryMbTotal}/${s.thermal}/${s.onBattery}`)).size).toBe(1)
  })
})
