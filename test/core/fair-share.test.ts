import { describe, expect, test } from 'vitest'
import { computeBalances, decayedSeconds, resourceUnits } from '../../src/core/fair-share.js'
import type { Resources, WorkloadStatus } from '../../src/core/types.js'
import { status } from './fixtures.js'

const H = 3_600_000 // one hour half-life
const NOW = Date.parse('2025-01-02T00:00:00.000Z')
const iso = (msBeforeNow: number) => new Date(NOW - msBeforeNow).toISOString()

// Workloads: w1 by alice (1 core + 1 GiB = 2 units), w2 by bob.
const owners: Record<string, string> = { 'at://w1': 'did:alice', 'at://w2': 'did:bob' }
const res: Record<string, Resources> = { 'at://w1': { cpuMillis: 1000, memoryMb: 1024 }, 'at://w2': { cpuMillis: 500, memoryMb: 512 } }
const meshletOwners: Record<string, string> = { 'did:m-alice': 'did:alice', 'did:m-bob': 'did:bob', 'did:m-carol': 'did:carol' }

function run(statuses: WorkloadStatus[], now = NOW) {
  return computeBalances({
    statuses,
    workloadOwner: (u) => owners[u],
    meshletOwner: (m) => meshletOwners[m],
    workloadResources: (u) => res[u],
    now,
    halfLifeMs: H,
  })
}
const on = (meshlet: string, w: string, state: WorkloadStatus['state'], startedAgo: number | undefined, updatedAgo: number, extra: Partial<WorkloadStatus> = {}) =>
  status(meshlet, state, { uri: `at://${meshlet}/s/${w.slice(5)}`, workload: { uri: w, cid: 'c' }, startedAt: startedAgo === undefined ? undefined : iso(startedAgo), updatedAt: iso(updatedAgo), ...extra })

describe('decay (rule 7)', () => {
  test.each([
    // [start before now, end before now, expected seconds]
    [H, 0, H / 1000 / Math.LN2 / 2], // the last half-life weighs H/(2 ln2)
    [2 * H, H, H / 1000 / Math.LN2 / 4],
    [10, 0, 0.01], // a very recent short interval is ~undecayed
  ])('interval [now-%d, now-%d] weighs %f s', (startAgo, endAgo, expected) => {
    expect(decayedSeconds(NOW - startAgo, NOW - endAgo, NOW, H)).toBeCloseTo(expected, 4)
  })

  test('an inverted interval weighs nothing, and the future is clipped', () => {
    expect(decayedSeconds(NOW, NOW - 1000, NOW, H)).toBe(0)
    expect(decayedSeconds(NOW - 1000, NOW + 99_999, NOW, H)).toBeCloseTo(decayedSeconds(NOW - 1000, NOW, NOW, H), 9)
  })

  test('units: one core or one GiB is one unit', () => {
    expect(resourceUnits({ cpuMillis: 1000, memoryMb: 1024 })).toBe(2)
    expect(resourceUnits({ cpuMillis: 250, memoryMb: 0 })).toBe(0.25)
  })
})

describe('computeBalances (rule 7)', () => {
  test('cross-owner usage: consumer pays, runner earns, balances sum to zero', () => {
    const b = run([on('did:m-bob', 'at://w1', 'running', H, 0)])
    const u = 2 * decayedSeconds(NOW - H, NOW, NOW, H)
    expect(b.get('did:alice')).toEqual({ consumed: u, contributed: 0, balance: -u })
    expect(b.get('did:bob')).toEqual({ consumed: 0, contributed: u, balance: u })
  })

  test('own workloads on own meshlets do not count', () => {
    expect(run([on('did:m-alice', 'at://w1', 'running', H, 0)]).size).toBe(0)
  })

  test('a finished replica counts until its updatedAt; recent usage weighs more than old usage', () => {
    const recent = run([on('did:m-bob', 'at://w1', 'exited', H, 0)]).get('did:bob')!.contributed
    const old = run([on('did:m-bob', 'at://w1', 'exited', 3 * H, 2 * H)]).get('did:bob')!.contributed
    expect(old).toBeCloseTo(recent / 4, 6)
  })

  test('a claim state with a lease stops accruing when the lease runs out (a dead peer)', () => {
    // Started 2 h ago, last renewed a minute later with a one-minute lease: two minutes of usage.
    const withLease = run([on('did:m-bob', 'at://w1', 'running', 2 * H, 2 * H - 60_000, { leaseMs: 60_000 })]).get('did:bob')!.contributed
    expect(withLease).toBeCloseTo(2 * decayedSeconds(NOW - 2 * H, NOW - 2 * H + 120_000, NOW, H), 9)
    const noLease = run([on('did:m-bob', 'at://w1', 'running', 2 * H, 2 * H - 60_000)]).get('did:bob')!.contributed
    expect(noLease).toBeGreaterThan(withLease * 10)
  })

  test('statuses with missing or invalid times, unknown owners or resources are ignored', () => {
    const b = run([
      on('did:m-bob', 'at://w1', 'running', undefined, 0),
      on('did:m-bob', 'at://w1', 'exited', H, 0, { uri: 'at://x/1', updatedAt: 'not a date' }),
      on('did:m-bob', 'at://w1', 'running', H, 0, { uri: 'at://x/2', startedAt: 'yesterday' }),
      on('did:m-stranger', 'at://w1', 'running', H, 0, { uri: 'at://x/3' }),
      on('did:m-bob', 'at://unknown', 'running', H, 0, { uri: 'at://x/4' }),
    ])
    expect(b.size).toBe(0)
  })

  test('three owners: each balance is contributed - consumed', () => {
    const b = run([on('did:m-bob', 'at://w1', 'running', H, 0), on('did:m-carol', 'at://w2', 'running', H, 0), on('did:m-carol', 'at://w1', 'running', H, 0)])
    const d = decayedSeconds(NOW - H, NOW, NOW, H)
    expect(b.get('did:alice')!.balance).toBeCloseTo(-4 * d, 9)
    expect(b.get('did:bob')!.balance).toBeCloseTo(2 * d - 1 * d, 9)
    expect(b.get('did:carol')!.balance).toBeCloseTo(3 * d, 9)
  })

  test('a duplicated status counts once', () => {
    const s = on('did:m-bob', 'at://w1', 'running', H, 0)
    expect(run([s, s]).get('did:bob')).toEqual(run([s]).get('did:bob'))
  })

  test.each([0, -1, Number.NaN, Infinity])('halfLifeMs %f is a clear config error', (h) => {
    expect(() => computeBalances({ statuses: [], workloadOwner: () => undefined, meshletOwner: () => undefined, workloadResources: () => undefined, now: NOW, halfLifeMs: h })).toThrow(
      /halfLifeMs must be a positive number/,
    )
  })
})
