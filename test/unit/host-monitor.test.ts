// HostMonitor: a scheduling pass gets a host reading at once. A fresh reading is reused, a stale
// one is served while a new one is taken behind it, and only a very old one (or none) is waited for.
import { describe, expect, test } from 'vitest'
import { HostMonitor } from '../../src/services/host-monitor.js'
import type { HostSnapshot } from '../../src/core/types.js'
import type { HostProbe } from '../../src/ports/host-probe.js'

const snap = (memoryMbAvailable: number): HostSnapshot => ({ cpuMillisTotal: 2000, memoryMbTotal: 4096, memoryMbAvailable, loadPermille: 0, onBattery: false, thermal: 'nominal' })

class SlowProbe implements HostProbe {
  calls = 0
  fail = false
  private pending: ((s: HostSnapshot) => void)[] = []
  private rejects: ((e: unknown) => void)[] = []
  snapshot(): Promise<HostSnapshot> {
    this.calls++
    return new Promise((resolve, reject) => {
      this.pending.push(resolve)
      this.rejects.push(reject)
    })
  }
  answer(memory: number): void {
    const r = this.pending.splice(0)
    const j = this.rejects.splice(0)
    if (this.fail) j.forEach((f) => f(new Error('probe failed')))
    else r.forEach((f) => f(snap(memory)))
  }
}

const flush = () => new Promise((r) => setImmediate(r))

describe('HostMonitor', () => {
  test('the first reading is waited for, then reused while fresh', async () => {
    const probe = new SlowProbe()
    const clock = { t: 0, now: () => clock.t, monotonic: () => clock.t }
    const hm = new HostMonitor(probe, clock, 1000, 10_000)
    const first = hm.snapshot()
    probe.answer(100)
    expect((await first).memoryMbAvailable).toBe(100)
    clock.t = 900
    expect((await hm.snapshot()).memoryMbAvailable).toBe(100)
    expect(probe.calls).toBe(1)
  })

  test('a stale reading is served at once while a fresh one is taken behind it', async () => {
    const probe = new SlowProbe()
    const clock = { t: 0, now: () => clock.t, monotonic: () => clock.t }
    const hm = new HostMonitor(probe, clock, 1000, 10_000)
    const first = hm.snapshot()
    probe.answer(100)
    await first
    clock.t = 5000
    // Not waiting on the probe: the probe has not answered yet.
    expect((await hm.snapshot()).memoryMbAvailable).toBe(100)
    expect(probe.calls).toBe(2)
    probe.answer(200)
    await flush()
    expect((await hm.snapshot()).memoryMbAvailable).toBe(200)
    expect(probe.calls).toBe(2)
  })

  test('a reading older than maxStale is waited for; a failed background reading keeps the old one', async () => {
    const probe = new SlowProbe()
    const clock = { t: 0, now: () => clock.t, monotonic: () => clock.t }
    const hm = new HostMonitor(probe, clock, 1000, 10_000)
    const first = hm.snapshot()
    probe.answer(100)
    await first
    clock.t = 2000
    probe.fail = true
    expect((await hm.snapshot()).memoryMbAvailable).toBe(100)
    probe.answer(0)
    await flush()
    probe.fail = false
    clock.t = 20_000
    let settled = false
    const waited = hm.snapshot().then((s) => ((settled = true), s))
    await flush()
    expect(settled).toBe(false)
    probe.answer(300)
    expect((await waited).memoryMbAvailable).toBe(300)
  })
})
