// The replayed ledger is reused across scheduling passes until a record it reads changes or the
// epoch turns (src/core/ledger-cache.ts). What a pass gets from the cache must be what a fresh
// replay of the same records gives: balances, accounts, bid verdicts.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { LedgerCache, type LedgerInputs } from '../../src/core/ledger-cache.js'
import { Ledger } from '../../src/core/ledger.js'
import { STATUS_LEASE_MS } from '../../src/core/epoch.js'
import type { Bid, WorkloadStatus } from '../../src/core/types.js'
import { E0, OWNERS, at, claim, honestBid, iso, meshletOf, records, wl } from './ledger-world.js'

const owners = Object.values(OWNERS)
const graph = {}

/** alice's and bob's workloads run on each other's meshlets from E0 on; carol's on alice's. */
function world(): LedgerInputs & { bids: Bid[]; statuses: WorkloadStatus[] } {
  const ws = [wl(OWNERS.alice, 'a1'), wl(OWNERS.bob, 'b1'), wl(OWNERS.carol, 'c1', E0 + 1)]
  const runners = [OWNERS.bob, OWNERS.alice, OWNERS.alice]
  const bids = ws.map((w, i) => honestBid(records(ws, [], []), meshletOf(runners[i]), w))
  const statuses = bids.map((b, i) => claim(b, 'running', at(E0 + i), at(E0 + 3, 50 * 60_000)))
  return { ...records(ws, bids, statuses), bids, statuses, graph, now: at(E0 + 4, 5 * 60_000) }
}

function readout(l: Ledger, bids: readonly Bid[], e: number): unknown {
  const balances: string[] = []
  for (let k = E0; k <= e + 1; k++) for (const o of owners) balances.push(`${o}@${k}: ${l.balanceAt(o, k).contributed}/${l.balanceAt(o, k).consumed}`)
  return { balances, accounts: l.statusAccounts(), verdicts: bids.map((b) => l.verifyBid(b) ?? 'ok') }
}

describe('LedgerCache', () => {
  test('the same records later in the same epoch: the same replay; the next epoch: a new one', () => {
    const cache = new LedgerCache()
    const r = world()
    const a = cache.get(r)
    expect(cache.get({ ...r, now: r.now + 30 * 60_000 })).toBe(a)
    expect(cache.get({ ...r, now: at(E0 + 5) })).not.toBe(a)
    expect([cache.builds, cache.reuses]).toEqual([2, 1])
  })

  test('changes a replay does not read reuse it: a renewal past the epoch start, an ack re-put, a heartbeat profile', () => {
    const cache = new LedgerCache()
    const r = world()
    const a = cache.get(r)
    // Renewed at E0+4 + 5 min: its lease already ran past the epoch start (E0+3:50 + 30 min).
    const renewed = r.statuses.map((s, i) => (i === 0 ? { ...s, updatedAt: iso(r.now) } : s))
    const acked = r.bids.map((b, i) => (i === 1 ? { ...b, cid: 'bafy-acked', acks: [{ replica: 0, meshlet: b.meshlet }] } : b))
    const beat = r.profiles.map((p) => ({ ...p, updatedAt: iso(r.now) }))
    expect(cache.get({ ...r, statuses: renewed, bids: acked, profiles: beat, workloads: [...r.workloads].reverse() })).toBe(a)
  })

  test.each<[string, (r: ReturnType<typeof world>) => Partial<LedgerInputs>]>([
    ['a status ended before the epoch start', (r) => ({ statuses: r.statuses.map((s, i) => (i === 0 ? { ...s, state: 'stopped', updatedAt: iso(at(E0 + 2)) } : s)) })],
    ['a renewal that revives a lapsed lease', (r) => ({ statuses: r.statuses.map((s, i) => (i === 0 ? { ...s, updatedAt: iso(at(E0 + 3, 50 * 60_000 - STATUS_LEASE_MS - 60_000)) } : s)) })],
    ['a history entry', (r) => ({ statuses: r.statuses.map((s, i) => (i === 0 ? { ...s, history: [{ cid: 'bafy-old', bid: s.bid!, priority: s.priority!, replica: 0, state: 'stopped', startedAt: iso(at(E0 - 3)), updatedAt: iso(at(E0 - 1)) }] } : s)) })],
    ['a new status', (r) => ({ statuses: [...r.statuses, { ...r.statuses[0], uri: `${r.statuses[0].uri}x` }] })],
    ['a status deleted', (r) => ({ statuses: r.statuses.slice(1) })],
    ['a bid priority', (r) => ({ bids: r.bids.map((b, i) => (i === 0 ? { ...b, priority: b.priority + 1 } : b)) })],
    ['a bid deleted', (r) => ({ bids: r.bids.slice(1) })],
    ['a new workload version', (r) => ({ workloads: r.workloads.map((w, i) => (i === 0 ? { ...w, cid: 'bafy-v2' } : w)) })],
    ['profile totals', (r) => ({ profiles: r.profiles.map((p, i) => (i === 0 ? { ...p, memoryMb: 1 } : p)) })],
    ['the owner graph', () => ({ graph: {} })],
  ])('a change a replay reads rebuilds it: %s', (_n, change) => {
    const cache = new LedgerCache()
    const r = world()
    const a = cache.get(r)
    const next = { ...r, ...change(r) }
    const b = cache.get(next)
    expect(b).not.toBe(a)
    expect(readout(b, r.bids, E0 + 4)).toEqual(readout(new Ledger(next), r.bids, E0 + 4))
  })

  test('property: whatever changes between passes, the cached replay reads exactly like a fresh one', () => {
    const change = fc.record({
      which: fc.nat(2),
      kind: fc.constantFrom('renew', 'stop', 'restart', 'ack', 'heartbeat', 'later', 'nextEpoch'),
      minutes: fc.integer({ min: -400, max: 400 }),
    })
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 12 }), (changes) => {
        const cache = new LedgerCache()
        let r = world()
        cache.get(r)
        for (const c of changes) {
          const t = r.now + c.minutes * 60_000
          switch (c.kind) {
            case 'renew':
              r = { ...r, statuses: r.statuses.map((s, i) => (i === c.which ? { ...s, updatedAt: iso(t) } : s)) }
              break
            case 'stop':
              r = { ...r, statuses: r.statuses.map((s, i) => (i === c.which ? { ...s, state: 'stopped' as const, updatedAt: iso(t) } : s)) }
              break
            case 'restart':
              r = { ...r, statuses: r.statuses.map((s, i) => (i === c.which ? { ...s, state: 'running' as const, startedAt: iso(t) } : s)) }
              break
            case 'ack':
              r = { ...r, bids: r.bids.map((b, i) => (i === c.which ? { ...b, acks: [{ replica: 0, meshlet: b.meshlet }] } : b)) }
              break
            case 'heartbeat':
              r = { ...r, profiles: r.profiles.map((p) => ({ ...p, updatedAt: iso(t) })) }
              break
            case 'later':
              r = { ...r, now: Math.max(r.now, t) }
              break
            case 'nextEpoch':
              r = { ...r, now: r.now + 3_600_000 }
              break
          }
          const e = Math.floor(r.now / 3_600_000)
          expect(readout(cache.get(r), r.bids, e)).toEqual(readout(new Ledger(r), r.bids, e))
        }
        expect(cache.builds + cache.reuses).toBe(changes.length + 1)
      }),
      { numRuns: 60 },
    )
  })
})
