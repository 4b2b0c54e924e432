// Claims need bids, one status per (meshlet, workload) at its SHA-256 rkey, replica numbers
// assigned by placement (docs/protocol.md, "Claims, completions, replica numbers").
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { statusRkey } from '../../src/core/hash.js'
import { resolvePlacement } from '../../src/core/placement.js'
import { NSID, type WorkloadStatus } from '../../src/core/types.js'
import { W_URI, bid, decline, eligibleOf, status, workload } from './fixtures.js'

const all = eligibleOf('did:a', 'did:b', 'did:c', 'did:z')
const ids = (xs: { meshlet: string }[]) => xs.map((x) => x.meshlet)
const outcomeOf = (outcomes: { meshlet: string; outcome: string; reason: string }[], m: string, kind: string) => outcomes.find((o) => o.meshlet === m && o.outcome === kind)

describe('claims need a counting bid', () => {
  test.each<{ name: string; z: Partial<WorkloadStatus>; zBids: ReturnType<typeof bid>[]; reason: RegExp | undefined }>([
    { name: 'no bid at all', z: { priority: 1_000_000, bid: undefined }, zBids: [], reason: /^invalid: claim without a counting bid \(references no bid\)$/ },
    { name: 'a bid that does not exist', z: { priority: 900 }, zBids: [], reason: /^invalid: claim without a counting bid/ },
    { name: 'its later (duplicate) bid, not the earliest', z: { priority: 900, bid: { uri: `at://did:z/${NSID.bid}/3kb0000000009`, cid: 'x' } }, zBids: [bid('did:z', 1), bid('did:z', 900, { rkey: '3kb0000000009' })], reason: /counting bid is at:\/\/did:z\/commune\.scheduler\.bid\/3kb0000000001/ },
    { name: 'a decline', z: { priority: 0 }, zBids: [decline('did:z', 'busy')], reason: /^invalid: claim without a counting bid/ },
    { name: 'priority one above its bid', z: { priority: 901 }, zBids: [bid('did:z', 900)], reason: /^invalid: claim priority 901 does not match its bid's priority 900$/ },
    { name: 'priority one below its bid', z: { priority: 899 }, zBids: [bid('did:z', 900)], reason: /^invalid: claim priority 899 does not match its bid's priority 900$/ },
    { name: 'priority equal to its bid: a valid claim', z: { priority: 900 }, zBids: [bid('did:z', 900)], reason: undefined },
  ])('$name', (c) => {
    const statuses = [status('did:a', 'running', { priority: 5 }), status('did:z', 'pending', { ...c.z })]
    const p = resolvePlacement(workload({ replicas: 1 }), [bid('did:a', 5), ...c.zBids], statuses, all)
    if (c.reason) {
      // An unbacked claim never evicts the holder, and is explained.
      expect(ids(p.kept)).toEqual(['did:a'])
      expect(p.evicted).toEqual([])
      expect(outcomeOf(p.outcomes, 'did:z', 'invalid')?.reason).toMatch(c.reason)
    } else {
      expect(ids(p.kept)).toEqual(['did:z'])
      expect(ids(p.evicted)).toEqual(['did:a'])
    }
  })

  test('the bid is matched by uri: a claim stays backed after its bid gained acks (new cid)', () => {
    const b = bid('did:a', 5, { cid: 'bafyafteracks', acks: [{ replica: 0, meshlet: 'did:a' }] })
    const p = resolvePlacement(workload({ replicas: 1 }), [b], [status('did:a', 'running', { priority: 5, bid: { uri: b.uri, cid: 'bafybeforeacks' } })], all)
    expect(ids(p.kept)).toEqual(['did:a'])
  })
})

describe('one status per (meshlet, workload), at its canonical rkey', () => {
  test('statusRkey is "s" + 64 hex of SHA-256 of the workload uri', () => {
    expect(statusRkey(W_URI)).toMatch(/^s[0-9a-f]{64}$/)
    expect(statusRkey(W_URI)).not.toBe(statusRkey(`${W_URI}x`))
  })

  test('a status at another rkey is ignored with a reason, and evicts nobody', () => {
    const spam = status('did:z', 'running', { priority: 5, uri: `at://did:z/${NSID.workloadStatus}/spam1` })
    const p = resolvePlacement(workload({ replicas: 1 }), [bid('did:a', 1), bid('did:z', 5)], [status('did:a', 'running', { priority: 1 }), spam], all)
    expect(ids(p.kept)).toEqual(['did:a'])
    expect(outcomeOf(p.outcomes, 'did:z', 'invalid')?.reason).toBe(`invalid: status at rkey spam1, expected ${statusRkey(W_URI)} (one status per meshlet and workload)`)
  })

  test('fifty spam statuses of one repo count for nothing', () => {
    const spam = Array.from({ length: 50 }, (_, i) => status('did:z', 'exited', { priority: 5, exitCode: 0, uri: `at://did:z/${NSID.workloadStatus}/spam${i}` }))
    const w = workload({ replicas: 1, kind: 'batch', delivery: 'at-least-once' })
    const p = resolvePlacement(w, [bid('did:a', 1), bid('did:z', 5)], spam, all)
    expect(p.completed).toEqual([])
    expect(p.openSlots).toBe(1)
    expect(p.outcomes.filter((o) => o.outcome === 'invalid')).toHaveLength(50)
  })
})

describe('replica numbers assigned by placement', () => {
  test.each<{ name: string; replicas: number; replica: number; valid: boolean }>([
    { name: 'replica 0 of 1', replicas: 1, replica: 0, valid: true },
    { name: 'replica replicas-1 (2 of 3)', replicas: 3, replica: 2, valid: true },
    { name: 'replica = replicas (3 of 3) is out of range', replicas: 3, replica: 3, valid: false },
    { name: 'replica -1 is out of range', replicas: 3, replica: -1, valid: false },
    { name: 'replica 0.5 is not an integer', replicas: 3, replica: 0.5, valid: false },
  ])('$name', (c) => {
    const p = resolvePlacement(workload({ replicas: c.replicas }), [bid('did:a', 5)], [status('did:a', 'running', { priority: 5, replica: c.replica })], all)
    expect(ids(p.kept)).toEqual(c.valid ? ['did:a'] : [])
    expect(p.openSlots).toBe(c.valid ? c.replicas - 1 : c.replicas)
    if (!c.valid) expect(outcomeOf(p.outcomes, 'did:a', 'invalid')?.reason).toBe(`invalid: replica ${c.replica} is not a replica number in [0, ${c.replicas})`)
  })

  test('two claims on one number and no number free: the higher-ranked keeps it, the other is evicted naming the holder', () => {
    const p = resolvePlacement(
      workload({ replicas: 2 }),
      [bid('did:a', 5), bid('did:b', 6), bid('did:c', 1)],
      [status('did:a', 'running', { priority: 5, replica: 1 }), status('did:b', 'pending', { priority: 6, replica: 1 }), status('did:c', 'running', { priority: 1, replica: 0 })],
      all,
    )
    expect(ids(p.kept)).toEqual(['did:b', 'did:c'])
    expect(p.evictions.map((e) => e.reason)).toEqual(['lost claim conflict: replica 1 is held by did:b (priority 6 vs 5)'])
    expect(p.taken).toEqual([0, 1])
    expect(p.openSlots).toBe(0)
  })

  test('two service claims on one number with a number free: the lower-ranked takes the free number (test/core/renumber.test.ts)', () => {
    const p = resolvePlacement(workload({ replicas: 2 }), [bid('did:a', 5), bid('did:b', 6)], [status('did:a', 'running', { priority: 5, replica: 1 }), status('did:b', 'pending', { priority: 6, replica: 1 })], all)
    expect(ids(p.kept)).toEqual(['did:b', 'did:a'])
    expect(p.evictions).toEqual([])
    expect(Object.fromEntries(p.assigned)).toEqual({ 'did:b': 1, 'did:a': 0 })
    expect(p.taken).toEqual([0, 1])
    expect(p.openSlots).toBe(0)
  })

  test('claims on different numbers are both kept', () => {
    const p = resolvePlacement(workload({ replicas: 2 }), [bid('did:a', 5), bid('did:b', 6)], [status('did:a', 'running', { priority: 5, replica: 0 }), status('did:b', 'pending', { priority: 6, replica: 1 })], all)
    expect(ids(p.kept)).toEqual(['did:b', 'did:a'])
    expect(p.evicted).toEqual([])
    expect(p.openSlots).toBe(0)
  })

  test('property: kept claims have distinct numbers in [0, replicas); kept + completed + lost + next <= replicas', () => {
    const ms = ['did:a', 'did:b', 'did:c', 'did:z']
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<'service' | 'batch'>('service', 'batch'),
        fc.constantFrom<'at-most-once' | 'at-least-once'>('at-most-once', 'at-least-once'),
        fc.array(fc.record({ m: fc.constantFrom(...ms), p: fc.integer({ min: 0, max: 3 }), acks: fc.array(fc.record({ replica: fc.integer({ min: 0, max: 4 }), meshlet: fc.constantFrom(...ms) }), { maxLength: 4 }) }), { maxLength: 4 }),
        fc.array(fc.record({ m: fc.constantFrom(...ms), p: fc.integer({ min: 0, max: 3 }), r: fc.integer({ min: -1, max: 4 }), state: fc.constantFrom<WorkloadStatus['state']>('pending', 'running', 'exited', 'failed', 'stopped') }), { maxLength: 5 }),
        fc.subarray(ms),
        (replicas, kind, delivery, bs, ss, elig) => {
          const bids = [...new Map(bs.map((b) => [b.m, bid(b.m, b.p, { acks: b.acks })])).values()]
          const statuses = [...new Map(ss.map((s) => [s.m, status(s.m, s.state, { priority: s.p, replica: s.r, containerId: s.state === 'failed' ? 'c' : undefined })])).values()]
          const p = resolvePlacement(workload({ replicas, kind, delivery }), bids, statuses, eligibleOf(...elig), undefined, all)
          // (a renumbered service claim is kept under its assigned number, not the one it wrote)
          const numbers = p.kept.map((s) => p.assigned.get(s.meshlet) ?? s.replica!)
          expect(new Set(numbers).size).toBe(numbers.length)
          for (const r of numbers) expect(r >= 0 && r < replicas).toBe(true)
          const used = [...numbers, ...p.completed.map((s) => s.replica!), ...p.lost.map((l) => l.replica)]
          expect(new Set(used).size).toBe(used.length)
          expect(p.kept.length + p.completed.length + p.lost.length + p.next.length).toBeLessThanOrEqual(replicas)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
