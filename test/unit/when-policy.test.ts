// The peer's side of when (issue 14): which workloads timing refuses here (and drains), what the
// profile publishes, and the activity state from load samples with guests' share taken out.
import { describe, expect, test } from 'vitest'
import { CommuneView } from '../../src/core/view.js'
import type { HostSnapshot, Workload } from '../../src/core/types.js'
import { WhenPolicy } from '../../src/services/when-policy.js'

const SELF = { meshlet: 'did:plc:laptop', owner: 'did:plc:me' }
const host = (loadPermille: number, onBattery = false): HostSnapshot => ({ cpuMillisTotal: 2000, memoryMbTotal: 4096, memoryMbAvailable: 4096, loadPermille, onBattery, thermal: 'nominal' })
const workload = (owner: string, extra: Partial<Workload> = {}): Workload => ({
  uri: `at://${owner}/commune.scheduler.workload/3kabc`,
  cid: 'bafy',
  owner,
  rkey: '3kabc',
  name: 'w',
  image: 'meshlet/busybox:test',
  replicas: 1,
  resources: { cpuMillis: 100, memoryMb: 32 },
  env: [],
  kind: 'service',
  restart: { policy: 'always' },
  constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
  bidWindowMs: 1000,
  delivery: 'at-most-once',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...extra,
})

describe('WhenPolicy', () => {
  test('guest hours refuse guests only, and drain; the window clock is the injected one', () => {
    let now = Date.parse('2026-01-01T12:00:00Z')
    const p = new WhenPolicy({ self: SELF, roles: ['worker'], guest: { window: { hours: '22:00-07:00', tz: 'UTC' } }, windowClock: () => now })
    const view = new CommuneView()
    expect(p.refusal(workload('did:plc:guest'), host(0), view)).toEqual({ reason: "outside guest hours 22:00-07:00 UTC (this meshlet takes guests' work only then)", drain: true })
    expect(p.refusal(workload(SELF.owner), host(0), view)).toBeUndefined()
    now = Date.parse('2026-01-01T23:00:00Z')
    expect(p.refusal(workload('did:plc:guest'), host(0), view)).toBeUndefined()
    expect(p.published()).toEqual({ window: { hours: '22:00-07:00', tz: 'UTC' } })
  })
  test("a workload's own window applies to the owner's work too", () => {
    const p = new WhenPolicy({ self: SELF, roles: ['worker'], guest: {}, windowClock: () => Date.parse('2026-01-01T12:00:00Z') })
    expect(p.refusal(workload(SELF.owner, { window: { hours: '01:00-05:00' } }), host(0), new CommuneView())).toEqual({ reason: 'waits for its window 01:00-05:00 UTC', drain: true })
    expect(p.published()).toBeUndefined() // nothing configured: nothing to publish
  })
  test('activity: the load besides guests, over the configured minutes; interface role publishes idle state', () => {
    const t0 = Date.parse('2026-01-01T12:00:00Z')
    const p = new WhenPolicy({ self: SELF, roles: ['interface'], guest: { activeLoadPermille: 500, activeMinutes: 1 }, windowClock: () => t0, sampleEveryMs: 10_000 })
    // 1500 load per core with 1000m of 2000m committed to guests (500 per core): 1000 besides guests.
    for (let i = 0; i <= 7; i++) p.observe(t0 + i * 10_000, host(1500), 1000)
    expect(p.activity().active).toBe(true)
    expect(p.refusal(workload('did:plc:guest'), host(1500), new CommuneView())?.reason).toMatch(/^its person is active: load 1\.00 per core or more besides guests for 1 min \(threshold 0\.50\) \(role interface: guests only when idle\)$/)
    expect(p.refusal(workload(SELF.owner, { when: 'idle' }), host(1500), new CommuneView())?.reason).toMatch(/^waits for an idle machine/)
    expect(p.published()).toMatchObject({ idle: false, inputIdle: expect.stringMatching(/^not read/) })
    // The same load, all of it guests': idle again after a minute of it.
    for (let i = 8; i <= 16; i++) p.observe(t0 + i * 10_000, host(1000), 2000)
    expect(p.activity().active).toBe(false)
    expect(p.published()).toMatchObject({ idle: true })
  })
  test('battery, when the policy says so', () => {
    const p = new WhenPolicy({ self: SELF, roles: ['worker'], guest: { noBattery: true }, windowClock: () => 0 })
    expect(p.refusal(workload('did:plc:guest'), host(0, true), new CommuneView())?.reason).toBe('on battery (guest policy: no guest work on battery)')
    expect(p.refusal(workload('did:plc:guest'), host(0, false), new CommuneView())).toBeUndefined()
  })
})
