import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { isHealthy, oldHolderStep, oldVersionHolders, revertClaim, rolloutDecision, rolloutOf, type RolloutInput } from '../../src/core/rollout.js'
import { decideWorkload } from '../../src/core/decide.js'
import type { Bid, WorkloadStatus } from '../../src/core/types.js'
import { W_CID, bid, eligibleOf, status, workload } from './fixtures.js'

const OLD = 'bafyold'
const T = Date.parse('2025-01-01T01:00:00.000Z')
const A = 'did:plc:aaa'
const B = 'did:plc:bbb'
const C = 'did:plc:ccc'
const D = 'did:plc:ddd'
const eligible = new Map([A, B, C, D].map((d) => [d, {}]))
const policy = { maxParallel: 1, minHealthyMs: 0, autoRevert: false }
const w = (over: Partial<ReturnType<typeof workload>> = {}) => workload({ replicas: 2, update: policy, ...over })

/** An old-version holder (claim of OLD, backed by its own bid for OLD). */
function old(m: string, replica: number, state: WorkloadStatus['state'] = 'running', over: Partial<WorkloadStatus> = {}): { s: WorkloadStatus; b: Bid } {
  const b = bid(m, 10, { rkey: '3kbold', workload: { uri: workload().uri, cid: OLD } })
  const s = status(m, state, { workload: { uri: workload().uri, cid: OLD }, bid: { uri: b.uri, cid: b.cid }, replica, startedAt: '2025-01-01T00:00:00.000Z', ...over })
  return { s, b }
}
/** A kept claim of the current version. */
function fresh(m: string, replica: number, state: WorkloadStatus['state'] = 'running', over: Partial<WorkloadStatus> = {}): { s: WorkloadStatus; b: Bid } {
  const b = bid(m, 10)
  return { s: status(m, state, { bid: { uri: b.uri, cid: b.cid }, replica, startedAt: '2025-01-01T00:59:00.000Z', ...over }), b }
}

function input(parts: { s: WorkloadStatus; b: Bid }[], over: Partial<RolloutInput> = {}): RolloutInput {
  const statuses = parts.map((p) => p.s)
  return { workload: w(), statuses, bids: parts.map((p) => p.b), eligible, kept: statuses.filter((s) => s.workload.cid === W_CID && s.state !== 'failed'), now: T, ...over }
}

describe('isHealthy', () => {
  test.each<[WorkloadStatus['state'], string | undefined, boolean]>([
    ['running', undefined, true],
    ['running', 'healthy', true],
    ['running', 'starting', false],
    ['running', 'unhealthy', false],
    ['starting', undefined, false],
    ['pending', 'healthy', false],
  ])('%s with health %s -> %s', (state, h, ok) => {
    expect(isHealthy({ state, ...(h ? { health: { state: h as 'healthy', failures: 0, restarts: 0 } } : {}) })).toBe(ok)
  })
})

describe('rolloutOf: old holders, healthy counts, budget', () => {
  test('no update policy: no rollout', () => {
    expect(rolloutOf({ ...input([old(A, 0)]), workload: workload({ replicas: 2 }) })).toBeUndefined()
  })

  test('two healthy old holders, nothing new: one may leave (2 - (2 - 1)), ordered by replica then DID', () => {
    const r = rolloutOf(input([old(B, 0), old(A, 1)]))!
    expect(r.old.map((s) => s.meshlet)).toEqual([B, A])
    expect(r).toMatchObject({ healthyNew: 0, healthyOld: 2, budget: 1, previous: OLD })
    expect(r.failed).toBeUndefined()
  })

  test('an old holder that is not healthy does not count; budget never negative', () => {
    const r = rolloutOf(input([old(A, 0, 'starting'), old(B, 1, 'running', { health: { state: 'unhealthy', failures: 3, restarts: 0 } })]))!
    expect(r).toMatchObject({ healthyOld: 0, budget: 0 })
  })

  test('not old holders: lapsed meshlets, ended states, claims without their own bid, the current version', () => {
    const lapsed = old(D, 0)
    const stopped = old(A, 0, 'stopped')
    const forged = old(B, 1)
    forged.b = { ...forged.b, uri: forged.b.uri.replace('3kbold', '3kbzzz') } // its status names a bid that does not exist
    const declined = old(C, 1)
    declined.b = { ...declined.b, decline: 'no room' }
    const r = rolloutOf({ ...input([lapsed, stopped, forged, declined]), eligible: new Map([A, B, C].map((d) => [d, {}])) })!
    expect(r.old).toEqual([])
    expect(r.previous).toBeUndefined()
  })

  test('minHealthyMs: a new claim counts once it has been running that long; until then wakeAt', () => {
    const parts = [old(A, 0), fresh(B, 1, 'running', { startedAt: new Date(T - 999).toISOString() })]
    const wk = w({ update: { ...policy, minHealthyMs: 1000 } })
    expect(rolloutOf({ ...input(parts), workload: wk })).toMatchObject({ healthyNew: 0, budget: 0, wakeAt: T + 1 })
    expect(rolloutOf({ ...input(parts), workload: wk, now: T + 1 })).toMatchObject({ healthyNew: 1, budget: 1 })
    expect(rolloutOf({ ...input(parts), workload: wk, now: T + 1 })!.wakeAt).toBeUndefined()
  })

  test('a failed status of the current version, backed by its own bid, fails the version', () => {
    const f = fresh(C, 0, 'failed', { message: 'unhealthy: restarted 1 time ...' })
    expect(rolloutOf(input([old(A, 1), f]))!.failed).toBe(`${C} failed: unhealthy: restarted 1 time ...`)
    const unbacked = { s: f.s, b: bid(D, 1) }
    expect(rolloutOf(input([old(A, 1), unbacked]))!.failed).toBeUndefined()
  })
})

describe('oldHolderStep: who leaves, and how', () => {
  const r2 = () => rolloutOf(input([old(A, 0), old(B, 1)]))!
  test.each<{ name: string; self: string; inNext: boolean; keptNew: number; action: string }>([
    { name: 'first in line, in next: claims the new version', self: A, inNext: true, keptNew: 0, action: 'claim' },
    { name: 'second in line waits even in next', self: B, inNext: true, keptNew: 0, action: 'stay' },
    { name: 'first in line, not in next, new claims do not cover yet: stays', self: A, inNext: false, keptNew: 0, action: 'stay' },
    { name: 'first in line, not in next, one new claim + the other old cover 2: releases', self: A, inNext: false, keptNew: 1, action: 'release' },
    { name: 'not an old holder, in next: claims as usual', self: C, inNext: true, keptNew: 0, action: 'claim' },
  ])('$name', ({ self, inNext, keptNew, action }) => {
    expect(oldHolderStep(r2(), w(), self, inNext, keptNew).action).toBe(action)
  })

  test('the waiting reason says the numbers', () => {
    expect(oldHolderStep(r2(), w(), B, true, 0)).toEqual({ action: 'stay', reason: 'rollout: waiting for its turn (2 in line, 1 may leave now: 0 new + 2 old healthy, at least 1 must stay)' })
  })

  test('a failed version halts the rollout: nobody leaves', () => {
    const r = rolloutOf(input([old(A, 0), old(B, 1), fresh(C, 0, 'failed')]))!
    expect(oldHolderStep(r, w(), A, true, 0)).toMatchObject({ action: 'stay' })
  })

  test('maxParallel 2 of 2: both may leave at once', () => {
    const r = rolloutOf({ ...input([old(A, 0), old(B, 1)]), workload: w({ update: { ...policy, maxParallel: 2 } }) })!
    expect(r.budget).toBe(2)
    expect(oldHolderStep(r, w(), B, true, 0).action).toBe('claim')
  })

  test('property: the old holders that leave in one view never take healthy below replicas - maxParallel', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.record({ healthy: fc.boolean(), inNext: fc.boolean() }), { maxLength: 5 }),
        fc.array(fc.boolean(), { maxLength: 5 }),
        (replicas, maxParallel, olds, news) => {
          const mp = Math.min(maxParallel, replicas)
          const ms = ['did:plc:m0', 'did:plc:m1', 'did:plc:m2', 'did:plc:m3', 'did:plc:m4']
          const ns = ['did:plc:n0', 'did:plc:n1', 'did:plc:n2', 'did:plc:n3', 'did:plc:n4']
          const parts = [...olds.map((o, i) => old(ms[i]!, i, o.healthy ? 'running' : 'starting')), ...news.map((h, i) => fresh(ns[i]!, i, h ? 'running' : 'starting'))]
          const wk = w({ replicas, update: { ...policy, maxParallel: mp } })
          const inp = { ...input(parts), workload: wk, eligible: new Map([...ms, ...ns].map((d) => [d, {}])) }
          const r = rolloutOf(inp)!
          const leaving = olds.filter((o, i) => oldHolderStep(r, wk, ms[i]!, o.inNext, news.length).action !== 'stay')
          const healthy = olds.filter((o) => o.healthy).length + news.filter(Boolean).length
          const healthyLeaving = olds.filter((o, i) => o.healthy && leaving.includes(o) && olds.indexOf(o) === i).length
          expect(leaving.length).toBeLessThanOrEqual(r.budget)
          if (leaving.length > 0) expect(healthy - healthyLeaving).toBeGreaterThanOrEqual(replicas - mp)
        },
      ),
    )
  })
})

describe('autoRevert', () => {
  const wr = () => w({ update: { ...policy, autoRevert: true } })
  const switched = (state: WorkloadStatus['state']) => {
    const prev = old(A, 0)
    const cur = fresh(A, 0, state, { history: [{ cid: OLD, bid: prev.s.bid!, priority: 10, replica: 0, state: 'running', startedAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:58:00.000Z' }] })
    return { cur, prevBid: prev.b }
  }

  test('a meshlet that moved to the failed version returns to its history claim of the version others still run', () => {
    const { cur, prevBid } = switched('failed')
    const parts = [{ s: cur.s, b: cur.b }, { s: cur.s, b: prevBid }, old(B, 1)]
    const d = rolloutDecision({ ...input(parts), workload: wr(), self: A, inNext: false })!
    expect(d.revert).toEqual({ cid: OLD, bid: cur.s.history![0]!.bid, priority: 10, replica: 0, reason: `rollout: reverted to version ${OLD}: the new version failed (${A} failed: no message)` })
  })

  test('without autoRevert, or before the version failed, or with another version in its history: no revert', () => {
    const { cur, prevBid } = switched('running')
    const parts = [{ s: cur.s, b: cur.b }, { s: cur.s, b: prevBid }, old(B, 1)]
    const r = rolloutOf({ ...input(parts), workload: wr() })!
    expect(revertClaim(r, wr(), cur.s)).toBeUndefined()
    const failed = rolloutOf({ ...input([...parts, fresh(C, 0, 'failed')]), workload: wr() })!
    expect(revertClaim(failed, w(), cur.s)).toBeUndefined()
    expect(revertClaim(failed, wr(), cur.s)).toMatchObject({ cid: OLD })
    expect(revertClaim({ ...failed, previous: 'bafyother' }, wr(), cur.s)).toBeUndefined()
    expect(revertClaim(failed, wr(), { ...cur.s, history: [] })).toBeUndefined()
    expect(revertClaim(failed, wr(), { ...cur.s, state: 'stopped' })).toBeUndefined()
  })

  test('the failure outlives the failed status: a history entry of the current version in state failed, on its own bid', () => {
    const prev = old(B, 1)
    const cur = fresh(A, 0)
    const reverted = old(A, 0, 'running', { history: [{ cid: W_CID, bid: cur.s.bid!, priority: 10, replica: 0, state: 'failed', startedAt: '2025-01-01T00:59:00.000Z', updatedAt: '2025-01-01T00:59:00.000Z' }] })
    const parts = [prev, reverted, { s: reverted.s, b: cur.b }]
    expect(rolloutOf({ ...input(parts), workload: wr() })!.failed).toBe(`${A} failed on it and reverted`)
    // a running entry, or one whose bid is not its meshlet's bid for this version, is no evidence
    const running = old(A, 0, 'running', { history: [{ ...reverted.s.history![0]!, state: 'running' }] })
    expect(rolloutOf({ ...input([prev, running, { s: running.s, b: cur.b }]), workload: wr() })!.failed).toBeUndefined()
    expect(rolloutOf({ ...input([prev, reverted]), workload: wr() })!.failed).toBeUndefined()
    expect(rolloutDecision({ ...input(parts), workload: wr(), self: B, inNext: true })!.holdClaim).toMatch(/^rollout: not claiming a failed version/)
  })

  test('with autoRevert, nobody claims a failed version', () => {
    const parts = [old(A, 0), fresh(C, 1, 'failed')]
    expect(rolloutDecision({ ...input(parts), workload: wr(), self: D, inNext: true })!.holdClaim).toMatch(/^rollout: not claiming a failed version \(autoRevert\)/)
    expect(rolloutDecision({ ...input(parts), workload: w(), self: D, inNext: true })!.holdClaim).toBeUndefined()
  })
})

describe('no needless moves: the old version’s holders are asked first for the new one', () => {
  test('oldVersionHolders: the backed old holders, only while the workload rolls', () => {
    const a = old(A, 0)
    const b = old(B, 1)
    const unbacked = { s: status(C, 'running', { workload: { uri: workload().uri, cid: OLD }, replica: 0 }), b: bid('did:plc:zzz', 1) }
    expect([...oldVersionHolders(w(), [a.s, b.s, unbacked.s], [a.b, b.b, unbacked.b], eligible)].sort()).toEqual([A, B])
    expect(oldVersionHolders(w({ update: undefined }), [a.s, b.s], [a.b, b.b], eligible).size).toBe(0)
    expect(oldVersionHolders(w(), [a.s], [a.b], new Map([[B, {}]])).size).toBe(0) // not eligible any more
  })

  test('decideWorkload: an old holder with a lower bid takes the new version’s free slot before a higher bidder', () => {
    // replicas 1: D holds the old version; C bids higher for the new one. D stays where it is.
    const one = w({ replicas: 1, bidWindowMs: 1000 })
    const d = old(D, 0)
    const bids = [d.b, bid(D, 100, { rkey: '3kbnew' }), bid(C, 900, { rkey: '3kbnew' })]
    const at = (self: string) =>
      decideWorkload({ workload: one, bids, statuses: [d.s], eligible: eligibleOf(A, B, C, D), electorate: eligibleOf(A, B, C, D), firstSeenAt: T - 60_000, now: T, self: { meshlet: self, owner: `${self}-owner`, draining: false, recovering: false }, offer: { kind: 'bid', priority: self === C ? 900 : 100, capacity: { cpuMillisFree: 4000, memoryMbFree: 4000 } } })
    expect(at(D).actions.filter((x) => x.type === 'claim')).toHaveLength(1)
    expect(at(C).actions.filter((x) => x.type === 'claim')).toEqual([])
    // without a rolling policy the higher bid wins as always
    const plain = { ...one, update: undefined }
    const c = decideWorkload({ workload: plain, bids, statuses: [d.s], eligible: eligibleOf(A, B, C, D), electorate: eligibleOf(A, B, C, D), firstSeenAt: T - 60_000, now: T, self: { meshlet: C, owner: 'o', draining: false, recovering: false }, offer: { kind: 'bid', priority: 900, capacity: { cpuMillisFree: 4000, memoryMbFree: 4000 } } })
    expect(c.actions.filter((x) => x.type === 'claim')).toHaveLength(1)
  })
})
