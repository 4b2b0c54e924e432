// liveness (issue 16 part 3): with the rare heartbeat, the batch fence counts from the lease the
// last landed heartbeat PUBLISHED (what the others apply), a batch start asks for the short lease,
// and a changed profile fact (a volume, the guest policy) is written without waiting for the next
// rare beat. Fakes for the writer and the host; the services are the real ones.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LinkagePublisher } from '../../src/services/linkage.js'
import { BatchGate } from '../../src/services/batch-gate.js'
import { CommuneView } from '../../src/core/view.js'
import { createLogger } from '../../src/logger.js'
import type { HeldVolume, Workload } from '../../src/core/types.js'

const log = createLogger('test')
const clock = { now: () => Date.now(), monotonic: () => Date.now() }
const SHORT = 15_000
const LONG = 360_000

function linkage(o: { volumes?: () => Promise<HeldVolume[] | undefined>; shortLease?: () => boolean } = {}) {
  const writes: { leaseMs: number; volumes?: unknown; at: number }[] = []
  const writer = {
    put: async (_c: string, _rkey: string, rec: Record<string, unknown>) => {
      writes.push({ leaseMs: rec.leaseMs as number, volumes: rec.volumes, at: Date.now() })
      return { uri: 'at://x', cid: 'bafy' }
    },
  }
  const host = { snapshot: async () => ({ cpuMillisTotal: 2000, memoryMbTotal: 4096, memoryMbAvailable: 2048, loadPermille: 0, onBattery: false, thermal: 'nominal' }) }
  const l = new LinkagePublisher({
    view: new CommuneView(),
    writer: writer as never,
    host: host as never,
    clock,
    log,
    meshlet: 'did:plc:meshlet',
    owner: 'did:plc:owner',
    members: [],
    endpoint: () => 'http://127.0.0.1:1',
    roles: [],
    labels: [],
    capabilities: [],
    leaseMs: SHORT,
    version: 'test',
    fallbackLeaseMs: LONG,
    shortLease: o.shortLease,
    volumes: o.volumes,
  })
  return { l, writes }
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2026-11-30T12:00:00Z') })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('rare heartbeat', () => {
  it('publishes the long lease when idle, the short one while a batch start asks for it, then the long one again', async () => {
    const { l, writes } = linkage()
    l.startHeartbeat()
    await vi.advanceTimersByTimeAsync(1_500)
    expect(writes.map((w) => w.leaseMs)).toEqual([LONG])
    expect(l.publishedLease()).toBe(LONG)
    // Idle: the next beat is lease/3 later, not every second.
    await vi.advanceTimersByTimeAsync(60_000)
    expect(writes).toHaveLength(1)

    l.wantShortLease()
    await vi.advanceTimersByTimeAsync(1_100)
    // at once, not at the next rare beat
    expect(writes.map((w) => w.leaseMs)).toEqual([LONG, SHORT])
    expect(l.publishedLease()).toBe(SHORT)
    // held for 2 short leases, beating every lease/3
    await vi.advanceTimersByTimeAsync(2 * SHORT - 1_100)
    const during = writes.slice(1)
    expect(during.every((w) => w.leaseMs === SHORT)).toBe(true)
    expect(during.length).toBeGreaterThanOrEqual(5)
    // Back to the long lease at once when the short one is no longer asked for: until then this
    // meshlet would think itself out of touch 2/3 of a short lease after its last beat.
    const before = writes.length
    await vi.advanceTimersByTimeAsync(SHORT / 3 + 1_000)
    expect(writes.slice(before).map((w) => w.leaseMs)).toEqual([LONG])
    expect(l.publishedLease()).toBe(LONG)
    await vi.advanceTimersByTimeAsync(SHORT)
    expect(l.outOfTouch()).toBeUndefined()
    l.stopHeartbeat()
  })

  it('a changed volume list is published within seconds, an unchanged one costs no write', async () => {
    let held: HeldVolume[] | undefined
    const { l, writes } = linkage({ volumes: async () => held })
    l.startHeartbeat()
    await vi.advanceTimersByTimeAsync(1_500)
    expect(writes).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(30_000)
    expect(writes).toHaveLength(1)
    held = [{ workload: 'at://did:plc:o/commune.scheduler.workload/a', name: 'data' }]
    await vi.advanceTimersByTimeAsync(6_000)
    expect(writes).toHaveLength(2)
    expect(writes[1]!.volumes).toEqual(held)
    expect(writes[1]!.leaseMs).toBe(LONG)
    await vi.advanceTimersByTimeAsync(30_000)
    expect(writes).toHaveLength(2)
    l.stopHeartbeat()
  })
})

describe('batch fence under the rare heartbeat', () => {
  const w = { uri: 'at://did:plc:o/commune.scheduler.workload/b', cid: 'bafyb', kind: 'batch', name: 'b' } as unknown as Workload

  function gate(lease: number, lastBeatAt: number) {
    const reports: string[] = []
    let asked = 0
    const g = new BatchGate({
      view: new CommuneView(),
      runtime: {} as never,
      status: { update: async (_w: Workload, s: { message?: string }) => void reports.push(s.message ?? '') } as never,
      clock,
      log,
      startGate: () => ({ allowed: true, reason: '' }),
      fence: { shortLeaseMs: SHORT, lease: () => lease, lastBeatAt: () => lastBeatAt, wantShort: () => void asked++ },
    })
    return { g, reports, asked: () => asked }
  }

  it('counts from the published lease: 50 s after a beat that published 360 s, a batch may start', async () => {
    const { g, reports, asked } = gate(LONG, Date.now() - 50_000)
    expect(await g.mayStart(w)).toBe(true)
    expect(reports).toEqual([])
    expect(asked()).toBe(1)
  })

  it('50 s after a beat that published 15 s, it waits and says why', async () => {
    const { g, reports, asked } = gate(SHORT, Date.now() - 50_000)
    expect(await g.mayStart(w)).toBe(false)
    expect(reports).toEqual([expect.stringMatching(/no heartbeat of this meshlet landed for 50000 ms \(fence at 10000 ms of the 15000 ms lease\)/)])
    // and asks for the short lease, whose beat lets it start on a later pass
    expect(asked()).toBe(1)
  })

  it('within 2/3 of the short lease it starts', async () => {
    const { g } = gate(SHORT, Date.now() - 9_000)
    expect(await g.mayStart(w)).toBe(true)
  })
})
