// Service claims are renumbered instead of evicted when another replica number is free
// (docs/protocol.md, "Claims, completions, replica numbers"). The invariants every peer relies on:
// one holder per number, the same answer whatever order the records arrived in, and a rewrite of a
// renumbered status with its new number changes nobody's number.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decideWorkload } from '../../src/core/decide.js'
import { resolvePlacement, type Placement } from '../../src/core/placement.js'
import type { Bid, WorkloadStatus } from '../../src/core/types.js'
import { bid, eligibleOf, status, workload } from './fixtures.js'

const PEERS = ['did:a', 'did:b', 'did:c', 'did:d', 'did:e', 'did:f']
const all = eligibleOf(...PEERS)

/** A claim of `meshlet` on replica `replica` backed by its bid at priority `p`. */
function claim(meshlet: string, p: number, replica: number, state: WorkloadStatus['state'] = 'running'): { bid: Bid; status: WorkloadStatus } {
  return { bid: bid(meshlet, p), status: status(meshlet, state, { priority: p, replica, cid: `bafys-${meshlet}-${replica}` }) }
}

function place(replicas: number, claims: { bid: Bid; status: WorkloadStatus }[], kind: 'service' | 'batch' = 'service'): Placement {
  return resolvePlacement(
    workload({ replicas, kind, ...(kind === 'batch' ? { delivery: 'at-least-once' as const } : {}) }),
    claims.map((c) => c.bid),
    claims.map((c) => c.status),
    all,
  )
}

/** What peers must agree on: who holds which number, who is evicted. */
function summary(p: Placement) {
  return {
    assigned: [...p.assigned.entries()].sort(([a], [b]) => a.localeCompare(b)),
    evicted: p.evicted.map((s) => s.meshlet).sort(),
    renumbered: p.renumbered.map((n) => `${n.status.meshlet}:${n.from}->${n.to}`).sort(),
    next: p.next.map((b) => b.meshlet),
  }
}

describe('renumbering service claims', () => {
  test.each<{ name: string; replicas: number; claims: [string, number, number][]; kept: Record<string, number>; renumbered: string[]; evicted: string[] }>([
    {
      name: 'two claims on replica 0 of 2: the lower-ranked one takes replica 1 (no eviction)',
      replicas: 2,
      claims: [
        ['did:a', 5, 0],
        ['did:b', 3, 0],
      ],
      kept: { 'did:a': 0, 'did:b': 1 },
      renumbered: ['did:b:0->1'],
      evicted: [],
    },
    {
      name: 'the better-ranked claim keeps its number whatever the order of claim times',
      replicas: 2,
      claims: [
        ['did:b', 3, 0],
        ['did:a', 5, 0],
      ],
      kept: { 'did:a': 0, 'did:b': 1 },
      renumbered: ['did:b:0->1'],
      evicted: [],
    },
    {
      name: 'one replica: nothing is free, the lower-ranked claim is evicted as before',
      replicas: 1,
      claims: [
        ['did:a', 5, 0],
        ['did:b', 3, 0],
      ],
      kept: { 'did:a': 0 },
      renumbered: [],
      evicted: ['did:b'],
    },
    {
      name: 'renumbered in rank order to the lowest free numbers; claims on their own free number are never moved',
      replicas: 4,
      claims: [
        ['did:a', 9, 1],
        ['did:b', 8, 1],
        ['did:c', 7, 1],
        ['did:d', 1, 3],
      ],
      kept: { 'did:a': 1, 'did:b': 0, 'did:c': 2, 'did:d': 3 },
      renumbered: ['did:b:1->0', 'did:c:1->2'],
      evicted: [],
    },
    {
      name: 'more claims than numbers: the best-ranked conflicting claims are renumbered, the rest evicted',
      replicas: 2,
      claims: [
        ['did:a', 9, 0],
        ['did:b', 2, 0],
        ['did:c', 5, 0],
      ],
      kept: { 'did:a': 0, 'did:c': 1 },
      renumbered: ['did:c:0->1'],
      evicted: ['did:b'],
    },
  ])('$name', ({ replicas, claims, kept, renumbered, evicted }) => {
    const p = place(
      replicas,
      claims.map(([m, pr, r]) => claim(m, pr, r)),
    )
    expect(Object.fromEntries(p.assigned)).toEqual(kept)
    expect(p.renumbered.map((n) => `${n.status.meshlet}:${n.from}->${n.to}`)).toEqual(renumbered)
    expect(p.evicted.map((s) => s.meshlet)).toEqual(evicted)
    expect(p.openSlots).toBe(replicas - Object.keys(kept).length)
    for (const n of p.renumbered) expect(n.reason).toMatch(new RegExp(`^renumbered: replica ${n.from} is held by did:\\w \\(priority \\d+ vs \\d+\\); takes free replica ${n.to}$`))
    // The outcome a user reads says which number it holds now and why.
    for (const n of p.renumbered) expect(p.outcomes.find((o) => o.meshlet === n.status.meshlet)?.reason).toContain(`holds replica ${n.to} (running; renumbered: replica ${n.from} is held by`)
  })

  test('batch is never renumbered: a colliding batch claim is evicted even with a free number', () => {
    const p = place(2, [claim('did:a', 5, 0), claim('did:b', 3, 0)], 'batch')
    expect(p.renumbered).toEqual([])
    expect(p.evicted.map((s) => s.meshlet)).toEqual(['did:b'])
    expect(p.evictions[0].reason).toMatch(/^lost claim conflict: replica 0 is held by did:a/)
  })

  test('the start gate names the number the claim holds now', () => {
    const p = place(2, [claim('did:a', 5, 0, 'pending'), claim('did:b', 3, 0, 'pending')])
    expect(p.gates.get('did:b')).toMatchObject({ replica: 1, allowed: true })
    expect(p.gates.get('did:a')).toMatchObject({ replica: 0, allowed: true })
  })

  test('decide: the renumbered holder re-writes its status; once it did, nothing more to do', () => {
    const claims = [claim('did:a', 5, 0), claim('did:b', 3, 0)]
    const input = (cs: typeof claims, self: string) => ({
      workload: workload({ replicas: 2 }),
      bids: cs.map((c) => c.bid),
      statuses: cs.map((c) => c.status),
      eligible: all,
      firstSeenAt: 0,
      now: 10_000,
      self: { meshlet: self, owner: `${self}-owner`, draining: false, recovering: false },
      offer: { kind: 'bid' as const, priority: 1, capacity: { cpuMillisFree: 1000, memoryMbFree: 1000 } },
    })
    const b = decideWorkload(input(claims, 'did:b'))
    expect(b.actions).toEqual([{ type: 'renumber', replica: 1, reason: 'renumbered: replica 0 is held by did:a (priority 5 vs 3); takes free replica 1' }])
    expect(b.start).toMatchObject({ replica: 1, allowed: true })
    expect(b.holders).toEqual(['did:a', 'did:b'])
    expect(decideWorkload(input(claims, 'did:a')).actions).toEqual([])
    const rewritten = [claims[0], claim('did:b', 3, 1)]
    expect(decideWorkload(input(rewritten, 'did:b')).actions).toEqual([])
    expect(decideWorkload(input(rewritten, 'did:a')).actions).toEqual([])
  })
})

describe('renumbering invariants (property)', () => {
  // Up to 6 peers claim numbers in [0, replicas) at priorities from a small range (many ties).
  const arbWorld = fc.integer({ min: 1, max: 4 }).chain((replicas) =>
    fc.record({
      replicas: fc.constant(replicas),
      claims: fc.uniqueArray(fc.record({ meshlet: fc.constantFrom(...PEERS), p: fc.nat(3), replica: fc.nat(replicas - 1) }), { selector: (c) => c.meshlet, maxLength: 6 }),
      seed: fc.integer(),
      subset: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    }),
  )
  const build = (cs: { meshlet: string; p: number; replica: number }[]) => cs.map((c) => claim(c.meshlet, c.p, c.replica))
  const shuffle = <T>(xs: T[], seed: number): T[] => {
    const out = [...xs]
    let s = seed >>> 0
    for (let i = out.length - 1; i > 0; i--) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      const j = s % (i + 1)
      ;[out[i], out[j]] = [out[j], out[i]]
    }
    return out
  }

  test('in every partial view: one holder per number, numbers in range, evictions only when no number is free', () => {
    fc.assert(
      fc.property(arbWorld, ({ replicas, claims, subset }) => {
        const view = build(claims.filter((_, i) => subset[i]))
        const p = place(replicas, view)
        const numbers = [...p.assigned.values()]
        expect(new Set(numbers).size).toBe(numbers.length)
        for (const n of numbers) expect(n >= 0 && n < replicas).toBe(true)
        expect(p.kept.length + p.evicted.length).toBe(view.length)
        expect(p.kept.length).toBe(Math.min(replicas, view.length))
        if (p.evicted.length > 0) expect(p.taken).toHaveLength(replicas)
        // A claim whose own number nobody better-ranked names keeps it.
        for (const s of p.kept) if (!p.renumbered.some((n) => n.status === s)) expect(p.assigned.get(s.meshlet)).toBe(s.replica)
        expect(p.taken).toEqual([...numbers].sort((a, b) => a - b))
      }),
      { numRuns: 2000 },
    )
  })

  test('holders agree: the same records in any order give the same numbers, renumberings and evictions', () => {
    fc.assert(
      fc.property(arbWorld, ({ replicas, claims, seed }) => {
        const cs = build(claims)
        const a = place(replicas, cs)
        const shuffled = shuffle(cs, seed)
        const b = resolvePlacement(workload({ replicas }), shuffle(shuffled.map((c) => c.bid), seed + 1), shuffled.map((c) => c.status), all)
        expect(summary(b)).toEqual(summary(a))
      }),
      { numRuns: 2000 },
    )
  })

  test('stable: when any of the renumbered holders re-write their status with the new number, every number stays as it was', () => {
    fc.assert(
      fc.property(arbWorld, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), ({ replicas, claims }, rewrites) => {
        const before = place(replicas, build(claims))
        const moved = new Map(before.renumbered.map((n) => [n.status.meshlet, n.to]))
        const after = place(
          replicas,
          build(claims.map((c, i) => (moved.has(c.meshlet) && rewrites[i] ? { ...c, replica: moved.get(c.meshlet)! } : c))),
        )
        expect(summary(after).assigned).toEqual(summary(before).assigned)
        expect(summary(after).evicted).toEqual(summary(before).evicted)
        const all = place(replicas, build(claims.map((c) => (moved.has(c.meshlet) ? { ...c, replica: moved.get(c.meshlet)! } : c))))
        expect(all.renumbered).toEqual([])
        expect(summary(all).assigned).toEqual(summary(before).assigned)
      }),
      { numRuns: 2000 },
    )
  })

  test('decide agrees with placement: exactly the renumbered peers re-write, the evicted release, everyone else is quiet', () => {
    fc.assert(
      fc.property(arbWorld, ({ replicas, claims }) => {
        const cs = build(claims)
        const p = place(replicas, cs)
        for (const c of claims) {
          const d = decideWorkload({
            workload: workload({ replicas }),
            bids: cs.map((x) => x.bid),
            statuses: cs.map((x) => x.status),
            eligible: all,
            firstSeenAt: 0,
            now: 10_000,
            self: { meshlet: c.meshlet, owner: `${c.meshlet}-owner`, draining: false, recovering: false },
            offer: { kind: 'bid', priority: c.p, capacity: { cpuMillisFree: 1000, memoryMbFree: 1000 } },
          })
          const n = p.renumbered.find((x) => x.status.meshlet === c.meshlet)
          const types = d.actions.map((a) => a.type)
          if (n) expect(d.actions).toEqual([{ type: 'renumber', replica: n.to, reason: n.reason }])
          else if (p.evicted.some((s) => s.meshlet === c.meshlet)) expect(types).toEqual(['release'])
          else expect(types).toEqual([])
        }
      }),
      { numRuns: 500 },
    )
  })
})
