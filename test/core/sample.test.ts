// Sampled bidding (issue 16): ring membership, widening on declines and on silence, early close,
// and that every peer with the same view computes the same rings.
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decideWorkload, type DecideInput, type Offer } from '../../src/core/decide.js'
import { SAMPLE_K, SAMPLE_MIN_RING, isSampled, openRings, pinnedCandidates, ringSize, sampleFor, sampleKey, sampleOrder, sampleRings, sampledOutReason } from '../../src/core/sample.js'
import { bidWindow, type EligibleMeshlet } from '../../src/core/selection.js'
import type { Bid, Did } from '../../src/core/types.js'
import { W_CID, bid, decline, eligibleOf, status, workload } from './fixtures.js'

const dids = (n: number): Did[] => Array.from({ length: n }, (_, i) => `did:plc:m${String(i).padStart(3, '0')}`)
/** The order a reader of docs/protocol.md would compute with any SHA-256: hex of sha256(cid|did) ascending. */
const byHash = (cid: string, ds: Did[]): Did[] =>
  [...ds].sort((a, b) => {
    const ha = createHash('sha256').update(`${cid}|${a}`).digest('hex')
    const hb = createHash('sha256').update(`${cid}|${b}`).digest('hex')
    return ha < hb ? -1 : ha > hb ? 1 : 0
  })
const T0 = 1_000_000
const WIN = 5000 // fixtures' bidWindowMs
const capacity = { cpuMillisFree: 2000, memoryMbFree: 1000 }
const BID: Offer = { kind: 'bid', priority: 500, capacity }

describe('rings', () => {
  test('ring size: replicas x SAMPLE_K, at least SAMPLE_MIN_RING', () => {
    expect(SAMPLE_K).toBe(2)
    expect(SAMPLE_MIN_RING).toBe(12)
    expect(ringSize({ replicas: 1 })).toBe(12)
    expect(ringSize({ replicas: 6 })).toBe(12)
    expect(ringSize({ replicas: 7 })).toBe(14)
    expect(ringSize({ replicas: 10 })).toBe(20)
    expect(ringSize({ replicas: 0 })).toBe(12)
  })

  test('sample key is SHA-256 of cid|did (64 hex digits); the order is by key ascending', () => {
    expect(sampleKey('bafyx', 'did:plc:a')).toBe(createHash('sha256').update('bafyx|did:plc:a').digest('hex'))
    const ds = dids(30)
    expect(sampleOrder(W_CID, [...ds].reverse())).toEqual(byHash(W_CID, ds))
    // Another version of the workload asks another sample.
    expect(sampleOrder('bafyother', ds).slice(0, 4)).not.toEqual(sampleOrder(W_CID, ds).slice(0, 4))
  })

  test('30 eligible, 1 replica: rings of 12, 12, 6 in hash order; everyone in exactly one ring', () => {
    const ds = dids(30)
    const r = sampleRings(workload({ replicas: 1 }), eligibleOf(...ds))
    const order = byHash(W_CID, ds)
    expect(r.rings).toEqual([order.slice(0, 12), order.slice(12, 24), order.slice(24)])
    expect([...r.ringOf.keys()].sort()).toEqual([...ds].sort())
    expect(r.ringOf.get(order[11])).toBe(0)
    expect(r.ringOf.get(order[12])).toBe(1)
  })

  test('exactly ring-size eligible: one ring, everybody (a small commune bids as before)', () => {
    const ds = dids(14)
    const r = sampleRings(workload({ replicas: 7 }), eligibleOf(...ds))
    expect(r.rings).toHaveLength(1)
    expect(new Set(r.rings[0])).toEqual(new Set(ds))
    expect(sampleRings(workload({ replicas: 7 }), eligibleOf(...dids(15))).rings.map((x) => x.length)).toEqual([14, 1])
    expect(sampleRings(workload({ replicas: 1 }), eligibleOf(...dids(12))).rings).toHaveLength(1)
  })

  test('pinned candidates join ring 0, counted once; an ineligible pin is ignored', () => {
    const ds = dids(30)
    const order = byHash(W_CID, ds)
    const w = workload({ replicas: 1 })
    // Already in the first twelve: ring 0 stays twelve.
    expect(sampleRings(w, eligibleOf(...ds), [order[1]]).rings[0]).toHaveLength(12)
    // From ring 2: ring 0 grows by one, ring 2 loses it.
    const r = sampleRings(w, eligibleOf(...ds), [order[29], 'did:plc:gone'])
    expect(r.rings[0]).toEqual([...order.slice(0, 12), order[29]])
    expect(r.rings.slice(1)).toEqual([order.slice(12, 24), order.slice(24, 29)])
    expect(r.ringOf.has('did:plc:gone')).toBe(false)
  })

  test('pinned: preferred holders, claims on the current version, the owner\'s own meshlets (at most a ring of them)', () => {
    const w = workload({ replicas: 1 })
    const ds = dids(30)
    const eligible = new Map<Did, EligibleMeshlet>(ds.map((d, i) => [d, { meshlet: d, owner: i < 15 ? w.owner : `${d}-owner` }]))
    const pins = pinnedCandidates(
      w,
      eligible,
      [status(ds[17], 'running'), status(ds[18], 'stopped'), status(ds[19], 'running', { workload: { uri: w.uri, cid: 'bafyold' } })],
      new Set([ds[20]]),
    )
    expect(pins.has(ds[20])).toBe(true) // preferred
    expect(pins.has(ds[17])).toBe(true) // holds a claim
    expect(pins.has(ds[18])).toBe(false) // stopped is no claim
    expect(pins.has(ds[19])).toBe(false) // a claim on an older version (rollout pins those through preferred)
    const own = [...pins].filter((d) => eligible.get(d)!.owner === w.owner)
    expect(own).toEqual(byHash(W_CID, ds.slice(0, 15)).slice(0, 12))
    expect(pins.size).toBe(14)
  })
})

describe('widening', () => {
  const ds = dids(30)
  const order = byHash(W_CID, ds)
  const w = workload({ replicas: 1 })
  const rings = sampleRings(w, eligibleOf(...ds))
  const open = (bids: Bid[], now: number, over = w) => openRings(over, rings, bids, eligibleOf(...ds), T0, now)

  test('ring 0 only while it can still fill the slots; the next ring is due one window after first receipt', () => {
    const s = open([], T0)
    expect(s.open).toBe(1)
    expect(s.reason).toBe('enough offers')
    expect([...s.members]).toEqual(order.slice(0, 12))
    expect(s.nextAt).toBe(T0 + WIN)
  })

  test('enough valid offers: nothing widens, however late', () => {
    const s = open([bid(order[0], 5)], T0 + 10 * WIN)
    expect(s.open).toBe(1)
    expect(s.nextAt).toBeUndefined()
  })

  test('a bid from outside the sample is valid and counts', () => {
    const s = open([bid(order[29], 5)], T0 + 10 * WIN)
    expect(s.open).toBe(1)
    expect(s.reason).toBe('enough offers')
  })

  test('declines: when the unanswered members cannot fill the slots, the next ring opens at once', () => {
    const eleven = order.slice(0, 11).map((d) => decline(d, 'insufficient memory'))
    expect(open(eleven, T0).open).toBe(1) // one member may still bid
    const twelve = order.slice(0, 12).map((d) => decline(d, 'insufficient memory'))
    const s = open(twelve, T0)
    expect(s.open).toBe(2)
    expect(s.reason).toBe('declines')
    expect(s.members.size).toBe(24)
    expect(s.nextAt).toBe(T0 + 2 * WIN)
    // Two replicas: 11 declines leave one possible offer for two slots: the next ring opens at once.
    expect(open(eleven, T0, workload({ replicas: 2 })).open).toBe(2)
    // Every member of rings 0 and 1 declined: ring 2 too, still before any timeout.
    const eight = order.slice(0, 24).map((d) => decline(d, 'insufficient memory'))
    const all = open(eight, T0)
    expect(all.open).toBe(3)
    expect(all.reason).toBe('all rings open')
    expect(all.nextAt).toBeUndefined()
  })

  test('silence: ring r opens at exactly firstSeenAt + r x window on this peer\'s clock', () => {
    expect(open([], T0 + WIN - 1).open).toBe(1)
    const s = open([], T0 + WIN)
    expect(s.open).toBe(2)
    expect(s.reason).toBe('silence')
    expect(s.nextAt).toBe(T0 + 2 * WIN)
    expect(open([], T0 + 2 * WIN - 1).open).toBe(2)
    expect(open([], T0 + 2 * WIN).open).toBe(3)
  })

  test('a window of 0 waits for nobody: every ring opens while offers are short', () => {
    expect(open([], T0, workload({ replicas: 1, bidWindowMs: 0 })).open).toBe(3)
  })

  test('batch at-most-once is not sampled (its acks need every member); services and at-least-once batch are', () => {
    expect(isSampled({ kind: 'batch', delivery: 'at-most-once' })).toBe(false)
    expect(isSampled({ kind: 'batch', delivery: 'at-least-once' })).toBe(true)
    expect(isSampled({ kind: 'service', delivery: 'at-most-once' })).toBe(true)
    expect(sampleFor(workload({ kind: 'batch', delivery: 'at-most-once' }), [], [], eligibleOf(...ds), undefined, T0, T0)).toBeUndefined()
  })

  test('early close: the window closes once every member of the open rings answered', () => {
    const s = open([], T0)
    const answers = order.slice(0, 12).map((d, i) => bid(d, i))
    expect(bidWindow(w, answers, eligibleOf(...ds), T0, T0 + 1, undefined, s.members).reason).toBe('all-answered')
    expect(bidWindow(w, answers.slice(1), eligibleOf(...ds), T0, T0 + 1, undefined, s.members).reason).toBe('open')
    // Without the sample: every eligible meshlet must answer (as before).
    expect(bidWindow(w, answers, eligibleOf(...ds), T0, T0 + 1).reason).toBe('open')
  })
})

describe('decideWorkload with sampled bidding', () => {
  const ds = dids(30)
  const order = byHash(W_CID, ds)
  const input = (self: Did, over: Partial<DecideInput> = {}): DecideInput => ({
    workload: workload({ replicas: 1 }),
    bids: [],
    statuses: [],
    eligible: eligibleOf(...ds),
    firstSeenAt: T0,
    now: T0 + 100,
    self: { meshlet: self, owner: `${self}-owner`, draining: false, recovering: false },
    offer: BID,
    ...over,
  })

  test('a ring-0 member bids; a meshlet outside the open rings writes nothing, commits nothing, and wakes when its ring is due', () => {
    expect(decideWorkload(input(order[0])).actions).toEqual([{ type: 'bid', priority: 500, capacity }])
    const out = decideWorkload(input(order[15]))
    expect(out.actions).toEqual([])
    expect(out.phase).toBe('bidding')
    expect(out.sampledOut).toBe('not in the sample: ring 1 of 3, 1 ring(s) open (enough offers)')
    expect(out.wakeAt).toBe(T0 + WIN)
    expect(decideWorkload(input(order[0])).sampledOut).toBeUndefined()
  })

  test('ring 0 declined: ring 1 bids at once, ring 2 still waits', () => {
    const bids = order.slice(0, 12).map((d) => decline(d, 'insufficient memory'))
    expect(decideWorkload(input(order[12], { bids })).actions).toEqual([{ type: 'bid', priority: 500, capacity }])
    expect(decideWorkload(input(order[24], { bids })).actions).toEqual([])
  })

  test('silence after the window: the next ring offers (a late offer) and wakes to claim', () => {
    const d = decideWorkload(input(order[12], { now: T0 + WIN + 10 }))
    expect(d.actions).toEqual([{ type: 'bid', priority: 500, capacity }])
    expect(d.wakeAt).toBe(T0 + WIN + 10 + WIN)
  })

  test('after the window, silence: ring 2 stays quiet and wakes when it is due', () => {
    const d = decideWorkload(input(order[24], { now: T0 + WIN + 10 }))
    expect(d.actions).toEqual([])
    expect(d.sampledOut).toBe('not in the sample: ring 2 of 3, 2 ring(s) open (silence)')
    expect(d.wakeAt).toBe(T0 + 2 * WIN)
  })

  test('after the window, with enough offers, an outsider stays quiet even with an open slot', () => {
    const d = decideWorkload(input(order[14], { now: T0 + WIN + 10, bids: [bid(order[0], 5)] }))
    expect(d.actions.filter((a) => a.type === 'bid' || a.type === 'decline')).toEqual([])
    expect(d.sampledOut).toContain('ring 1 of 3')
  })

  test('a bid from outside the sample is valid: it can win', () => {
    const d = decideWorkload(input(order[29], { now: T0 + WIN + 10, bids: [bid(order[29], 900), bid(order[0], 5)] }))
    expect(d.actions).toEqual([{ type: 'claim', bid: { uri: bid(order[29], 900).uri, cid: bid(order[29], 900).cid }, priority: 900, replica: 0 }])
  })

  test('small commune (eligible <= ring size), allBid, and batch at-most-once: everyone bids, as before', () => {
    expect(decideWorkload(input(ds[11], { eligible: eligibleOf(...ds.slice(0, 12)) })).actions).toHaveLength(1)
    expect(decideWorkload(input(order[29], { allBid: true })).actions).toHaveLength(1)
    expect(decideWorkload(input(order[29], { workload: workload({ replicas: 1, kind: 'batch', delivery: 'at-most-once', restart: { policy: 'never' } }) })).actions).toHaveLength(1)
  })

  test('a volume holder outside the first ring is asked first', () => {
    expect(decideWorkload(input(order[29], { preferred: new Set([order[29]]) })).actions).toHaveLength(1)
  })
})

describe('property: the same view gives the same rings on every peer', () => {
  test('any arrival order of eligible meshlets and records, any peer', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.nat(59), fc.boolean(), fc.nat(20)), { maxLength: 40 }),
        fc.integer({ min: 0, max: 4 * WIN }),
        fc.array(fc.nat(59), { maxLength: 3 }),
        fc.integer(),
        (n, replicas, recs, dt, pinIdx, seed) => {
          const ds = dids(n)
          const w = workload({ replicas })
          const bids = recs.filter(([i]) => i < n).map(([i, ok, p], j) => (ok ? bid(ds[i], p, { rkey: `3kb${String(j).padStart(10, '0')}` }) : decline(ds[i], 'no', { rkey: `3kb${String(j).padStart(10, '0')}` })))
          const pins = new Set(pinIdx.filter((i) => i < n).map((i) => ds[i]))
          const shuffle = <T>(xs: T[]): T[] => {
            const out = [...xs]
            let s = seed >>> 0
            for (let i = out.length - 1; i > 0; i--) {
              s = (Math.imul(s, 1664525) + 1013904223) >>> 0
              const j = s % (i + 1)
              ;[out[i], out[j]] = [out[j], out[i]]
            }
            return out
          }
          const a = sampleFor(w, bids, [], eligibleOf(...ds), pins, T0, T0 + dt)!
          const b = sampleFor(w, shuffle(bids), [], eligibleOf(...shuffle(ds)), new Set(shuffle([...pins])), T0, T0 + dt)!
          expect(b.rings.rings).toEqual(a.rings.rings)
          expect(b.open).toBe(a.open)
          expect([...b.members].sort()).toEqual([...a.members].sort())
          // Every eligible meshlet is in one ring; ring 0 holds every pin; rings only grow with time.
          expect(a.rings.rings.flat().sort()).toEqual([...ds].sort())
          for (const p of pins) expect(a.rings.ringOf.get(p)).toBe(0)
          const later = sampleFor(w, bids, [], eligibleOf(...ds), pins, T0, T0 + dt + WIN)!
          expect(later.open).toBeGreaterThanOrEqual(a.open)
          expect(sampledOutReason(a, ds[0])).toMatch(/^not in the sample: ring \d+ of \d+, \d+ ring\(s\) open/)
        },
      ),
      { numRuns: 200 },
    )
  })
})
