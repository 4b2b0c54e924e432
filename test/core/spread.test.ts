// Burst spread (issue 16, part 2): the agreed term (pendingReplicas in the bid's snapshot lowers its
// fit, checked by every verifier) and the local order a peer bids in.
import { describe, expect, test } from 'vitest'
import { bidPriority, fitParts, type FitInput } from '../../src/core/priority.js'
import { PENDING_REPLICAS_MAX, SPREAD_MAX, SPREAD_ORDER_MAX_PAIRS, SPREAD_STEP, pendingReplicasProblem, spreadKey, spreadOrder, spreadPenalty } from '../../src/core/spread.js'
import { checkBid } from '../../src/core/bid-verify.js'
import { selectWinners } from '../../src/core/selection.js'
import { tiebreak } from '../../src/core/hash.js'
import type { Bid, Did } from '../../src/core/types.js'

describe('spreadPenalty: 10 points per pending replica, at most 200', () => {
  test.each<[number | undefined, number]>([
    [undefined, 0],
    [0, 0],
    [1, 10],
    [7, 70],
    [19, 190],
    [20, 200],
    [21, 200],
    [PENDING_REPLICAS_MAX, 200],
    [-3, 0],
    [2.5, 0],
    [Number.NaN, 0],
  ])('%s pending -> %i points', (n, points) => {
    expect(spreadPenalty(n)).toBe(points)
  })

  test('the constants are what docs/protocol.md states', () => {
    expect([SPREAD_STEP, SPREAD_MAX, PENDING_REPLICAS_MAX]).toEqual([10, 200, 65_536])
  })
})

describe('pendingReplicasProblem: the bound every verifier checks', () => {
  test.each<[unknown, boolean]>([
    [undefined, true],
    [0, true],
    [PENDING_REPLICAS_MAX, true],
    [PENDING_REPLICAS_MAX + 1, false],
    [-1, false],
    [1.5, false],
    ['3', false],
  ])('%s is fine: %s', (n, fine) => {
    const problem = pendingReplicasProblem(n)
    if (fine) expect(problem).toBeUndefined()
    else expect(problem).toBe(`capacity pendingReplicas ${String(n)} is not a whole number within 0..65536`)
  })
})

const base: FitInput = {
  capacity: { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' },
  totals: { cpuMillis: 4000, memoryMb: 8192 },
  need: { cpuMillis: 1000, memoryMb: 2048 },
}
const withPending = (n: number | undefined): FitInput => ({ ...base, capacity: { ...base.capacity, pendingReplicas: n } })

describe('the spread term in fit', () => {
  test('it is subtracted from the other parts: 150 + 112 + 100 + 50 - 30 = 382 with 3 pending', () => {
    expect(fitParts(withPending(3))).toMatchObject({ mem: 150, cpu: 112, load: 100, power: 50, thermal: 0, spread: 30, fit: 382 })
    expect(fitParts(withPending(undefined)).fit).toBe(412)
  })

  test('fit never goes below 0: a hot, loaded machine with 20 pending', () => {
    const p = fitParts({ ...base, capacity: { cpuMillisFree: 0, memoryMbFree: 0, loadPermille: 1000, onBattery: true, thermal: 'throttled', pendingReplicas: 20 } })
    expect(p).toMatchObject({ spread: 200, fit: 0 })
  })

  test('a peer with k open claims ranks below an equal peer with 0, by 10 points each (k = 1..20)', () => {
    const idle = bidPriority({ ...withPending(0), balance: 0 }).priority
    for (let k = 1; k <= 20; k++) {
      const busy = bidPriority({ ...withPending(k), balance: 0 }).priority
      expect(idle - busy).toBe(10 * k)
    }
    expect(bidPriority({ ...withPending(0), balance: 0 }).priority - bidPriority({ ...withPending(25), balance: 0 }).priority).toBe(200)
  })

  test('in selection the busy peer loses a workload to an idle one of equal size and balance', () => {
    const w = { uri: 'at://did:plc:owner/commune.scheduler.workload/w1', cid: 'bafyw1', replicas: 1 }
    // Pick DIDs so that the busy peer would win the tiebreak: the spread term, not the hash, decides.
    const [busy, idle] = (['did:plc:aaa', 'did:plc:bbb'] as Did[]).sort((a, b) => (tiebreak(w.cid, a) < tiebreak(w.cid, b) ? -1 : 1))
    const bid = (m: Did, pending: number): Bid => ({
      uri: `at://${m}/commune.scheduler.bid/3k${pending}`,
      cid: `bafyb${m}`,
      meshlet: m,
      rkey: `3k${pending}`,
      workload: { uri: w.uri, cid: w.cid },
      priority: bidPriority({ ...withPending(pending), balance: 0 }).priority,
      capacity: { ...base.capacity, pendingReplicas: pending, cpuMillisTotal: 4000, memoryMbTotal: 8192 },
      epoch: 0,
      resources: { cpuMillis: 1000, memoryMb: 2048 },
      createdAt: '2026-01-01T00:00:00.000Z',
    })
    const eligible = new Map([busy!, idle!].map((m) => [m, { meshlet: m, owner: m }]))
    const r = selectWinners(w as never, [bid(busy!, 1), bid(idle!, 0)], eligible)
    expect(r.winners.map((b) => b.meshlet)).toEqual([idle])
  })
})

describe('checkBid recomputes the spread term and checks its bound', () => {
  const workload = { uri: 'at://did:plc:o/commune.scheduler.workload/w', cid: 'bafyw', resources: { cpuMillis: 1000, memoryMb: 2048 }, createdAt: '1970-01-01T00:00:00.000Z' }
  const bidWith = (pending: unknown, priority: number): Bid =>
    ({
      uri: 'at://did:plc:m/commune.scheduler.bid/3k',
      cid: 'bafyb',
      meshlet: 'did:plc:m',
      rkey: '3k',
      workload: { uri: workload.uri, cid: workload.cid },
      priority,
      capacity: { ...base.capacity, cpuMillisTotal: 4000, memoryMbTotal: 8192, pendingReplicas: pending },
      epoch: 0,
      resources: workload.resources,
      createdAt: '1970-01-01T00:00:01.000Z',
    }) as Bid
  const ctx = { workload, owner: 'did:plc:o' as Did, balanceAt: () => 0n }

  test('an honest bid with 4 pending verifies (250 + 412 - 40 = 622)', () => {
    expect(checkBid(bidWith(4, 622), ctx)).toMatchObject({ ok: true })
  })

  test('a bid that leaves the term out of its priority is invalid, with the recomputed number', () => {
    expect(checkBid(bidWith(4, 662), ctx)).toMatchObject({ ok: false, reason: 'priority 662 does not match the recomputed 622 = fairShare 250 + fit 372' })
  })

  test('a pendingReplicas out of bounds makes the bid invalid', () => {
    expect(checkBid(bidWith(-1, 662), ctx)).toMatchObject({ ok: false, reason: 'capacity pendingReplicas -1 is not a whole number within 0..65536' })
    expect(checkBid(bidWith(PENDING_REPLICAS_MAX + 1, 462), ctx)).toMatchObject({ ok: false, reason: 'capacity pendingReplicas 65537 is not a whole number within 0..65536' })
  })
})

describe('spreadOrder: each peer bids first where it is the rendezvous pick', () => {
  const peers = ['did:plc:ann', 'did:plc:ben', 'did:plc:cat'] as Did[]
  const ws = Array.from({ length: 60 }, (_, i) => ({ uri: `at://did:plc:o/commune.scheduler.workload/w${String(i).padStart(2, '0')}`, cid: `bafyw${i}` }))

  test('a peer takes first the workloads it is the rendezvous winner of, then ranks by how many others beat it', () => {
    for (const self of peers) {
      const order = spreadOrder(ws, self, peers)
      const rank = (w: (typeof ws)[number]) => peers.filter((d) => d !== self && spreadKey(w.cid, d) < spreadKey(w.cid, self)).length
      const ranks = order.map(rank)
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
      expect(ranks[0]).toBe(0)
      expect(order).toHaveLength(ws.length)
      expect(new Set(order.map((w) => w.uri)).size).toBe(ws.length)
    }
  })

  test('every workload is first choice (rank 0) of exactly one peer', () => {
    const firsts = peers.map((self) => new Set(spreadOrder(ws, self, peers).filter((w) => peers.every((d) => d === self || spreadKey(w.cid, d) > spreadKey(w.cid, self))).map((w) => w.uri)))
    for (const w of ws) expect(firsts.filter((s) => s.has(w.uri))).toHaveLength(1)
  })

  test('the same batch in any input order gives the same order (ties: own key, then uri)', () => {
    const a = spreadOrder(ws, peers[0]!, peers).map((w) => w.uri)
    const b = spreadOrder([...ws].reverse(), peers[0]!, peers).map((w) => w.uri)
    expect(b).toEqual(a)
  })

  test('past SPREAD_ORDER_MAX_PAIRS pairs it sorts by the own tiebreak key alone', () => {
    const many = Array.from({ length: SPREAD_ORDER_MAX_PAIRS + 1 }, (_, i) => `did:plc:p${i}` as Did)
    const order = spreadOrder(ws.slice(0, 1).concat(ws.slice(1, 2)), peers[0]!, [peers[0]!, ...many]).map((w) => w.uri)
    const byOwn = ws.slice(0, 2).sort((x, y) => (spreadKey(x.cid, peers[0]!) < spreadKey(y.cid, peers[0]!) ? -1 : 1)).map((w) => w.uri)
    expect(order).toEqual(byOwn)
  })
})

describe('spreadKey spreads peers whose DIDs differ only at the end', () => {
  test('of 300 workloads, each of peer00..peer02 is the rendezvous pick of at least 70', () => {
    const peers = ['did:plc:peer00', 'did:plc:peer01', 'did:plc:peer02'] as Did[]
    const picks = [0, 0, 0]
    for (let i = 0; i < 300; i++) {
      const cid = `bafyw${i.toString(36)}x${(i * 7919).toString(16)}`
      const keys = peers.map((p) => spreadKey(cid, p))
      picks[keys.indexOf([...keys].sort()[0]!)]!++
    }
    for (const n of picks) expect(n).toBeGreaterThanOrEqual(70)
  })
})
