import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { preemptionOrder, preemptionVictims, type HeldReplica } from '../../src/core/preemption.js'
import { fnv1a64Hex } from '../../src/core/hash.js'

const M = 'did:plc:machine'
const OWNER = 'did:plc:owner'
const held = (name: string, o: Partial<HeldReplica['workload']> & { started?: boolean } = {}): HeldReplica => ({
  workload: { uri: `at://${o.owner ?? 'did:plc:guest'}/commune.scheduler.workload/${name}`, cid: `cid-${name}`, owner: o.owner ?? 'did:plc:guest', kind: o.kind ?? 'batch', resources: o.resources ?? { cpuMillis: 500, memoryMb: 128 }, ...(o.priority ? { priority: o.priority } : {}), ...(o.delivery ? { delivery: o.delivery } : {}) },
  mayHaveStarted: o.started ?? false,
})

describe('preemption order', () => {
  test('batch before services, then low, normal, high; the owner and started at-most-once batch are never preempted', () => {
    const list = [
      held('svc-low', { kind: 'service', priority: 'low' }),
      held('batch-high', { priority: 'high' }),
      held('batch-normal'),
      held('own', { owner: OWNER }),
      held('batch-low', { priority: 'low' }),
      held('started-amo', { started: true }),
      held('started-alo', { started: true, delivery: 'at-least-once' }),
      held('svc-high', { kind: 'service', priority: 'high', started: true }),
    ]
    const names = preemptionOrder(list, M, OWNER).map((h) => h.workload.uri.split('/').pop())
    expect(names.slice(0, 1)).toEqual(['batch-low'])
    expect(names.slice(-2)).toEqual(['svc-low', 'svc-high'])
    expect(names).toContain('started-alo')
    expect(names).not.toContain('started-amo')
    expect(names).not.toContain('own')
    expect(names.indexOf('batch-high')).toBe(3)
  })
  test('ties break by fnv1a64Hex(cid|meshlet), the same on every peer', () => {
    const a = held('a')
    const b = held('b')
    const first = fnv1a64Hex(`cid-a|${M}`) < fnv1a64Hex(`cid-b|${M}`) ? 'a' : 'b'
    expect(preemptionOrder([a, b], M, OWNER)[0]!.workload.cid).toBe(`cid-${first}`)
    expect(preemptionOrder([b, a], M, OWNER)[0]!.workload.cid).toBe(`cid-${first}`)
  })
  test('victims: the shortest prefix that makes room; none when it fits or when nothing would', () => {
    const list = [held('x', { priority: 'low' }), held('y'), held('z', { priority: 'high' })]
    const fitsWith = (need: number) => (freed: { cpuMillis: number }) => freed.cpuMillis >= need
    expect(preemptionVictims(list, M, OWNER, fitsWith(0))).toBeUndefined()
    expect(preemptionVictims(list, M, OWNER, fitsWith(500))!.map((h) => h.workload.cid)).toEqual(['cid-x'])
    expect(preemptionVictims(list, M, OWNER, fitsWith(501))!.map((h) => h.workload.cid)).toEqual(['cid-x', 'cid-y'])
    expect(preemptionVictims(list, M, OWNER, fitsWith(1501))).toBeUndefined()
  })
  test('property: the order is a permutation-independent function of the records', () => {
    const arb = fc.array(
      fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), kind: fc.constantFrom('batch', 'service' as const), priority: fc.constantFrom('low', 'normal', 'high' as const), started: fc.boolean(), own: fc.boolean() }),
      { maxLength: 12 },
    )
    fc.assert(
      fc.property(arb, fc.func(fc.integer()), (specs, rnd) => {
        const list = specs.map((s, i) => held(`${s.name}${i}`, { kind: s.kind as 'batch' | 'service', priority: s.priority as 'low', started: s.started, ...(s.own ? { owner: OWNER } : {}) }))
        const shuffled = [...list].sort((a, b) => rnd(a.workload.uri) - rnd(b.workload.uri))
        const order = preemptionOrder(list, M, OWNER)
        expect(preemptionOrder(shuffled, M, OWNER)).toEqual(order)
        // batch never after a service; within a kind, classes never decrease
        const rank = { low: 0, normal: 1, high: 2 }
        for (let i = 1; i < order.length; i++) {
          const [p, q] = [order[i - 1]!.workload, order[i]!.workload]
          expect(p.kind === 'service' && q.kind === 'batch').toBe(false)
          if (p.kind === q.kind) expect(rank[p.priority ?? 'normal']).toBeLessThanOrEqual(rank[q.priority ?? 'normal'])
          expect(q.owner).not.toBe(OWNER)
        }
      }),
      { numRuns: 200 },
    )
  })
})
