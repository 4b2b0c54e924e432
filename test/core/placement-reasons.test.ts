// resolvePlacement's verdicts as a person reads them in `meshlet explain` and in status messages:
// every lost slot, eviction, conflict and start gate says who holds what and why, in words every
// peer computes the same way. Written from the mutants Stryker left alive in placement.ts.
import { describe, expect, test } from 'vitest'
import { resolvePlacement } from '../../src/core/placement.js'
import { NSID, type Ack, type Bid, type WorkloadStatus } from '../../src/core/types.js'
import { bid, eligibleOf, status, workload } from './fixtures.js'

const A = 'did:plc:aaa'
const B = 'did:plc:bbb'
const C = 'did:plc:ccc'
const batch = workload({ kind: 'batch', replicas: 1 })
const all = eligibleOf(A, B, C)
const ackFor = (meshlet: string, replica = 0): Ack[] => [{ replica, meshlet }]
/** A claim (or end) by `m` backed by its bid of priority `p`. */
const claim = (m: string, state: WorkloadStatus['state'], p: number, over: Partial<WorkloadStatus> = {}) => status(m, state, { priority: p, ...over })

describe('lost slots (batch at most once)', () => {
  test('a quorum holder that failed: lost, and the reason names the holder, the quorum and what happened', () => {
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100, { acks: ackFor(A) }), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'stopped', 500, { message: 'killed by the owner' })], all, undefined, all)
    expect(p.lost).toEqual([
      expect.objectContaining({ replica: 0, meshlet: A, status: expect.objectContaining({ meshlet: A, state: 'stopped' }), reason: `lost: replica 0 was held by ${A} with a quorum of acks 2/2, which stopped: killed by the owner; not re-run (delivery at-most-once)` }),
    ])
    expect(p.openSlots).toBe(0)
    expect(p.next).toEqual([])
  })

  test('the same without a message, and a holder with no status at all', () => {
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100, { acks: ackFor(A) }), bid(C, 100)]
    expect(resolvePlacement(batch, bids, [claim(A, 'stopped', 500)], all, undefined, all).lost[0]!.reason).toBe(
      `lost: replica 0 was held by ${A} with a quorum of acks 2/2, which stopped; not re-run (delivery at-most-once)`,
    )
    const none = resolvePlacement(batch, bids, [], all, undefined, all).lost
    expect(none).toEqual([{ replica: 0, meshlet: A, reason: `lost: replica 0 was held by ${A} with a quorum of acks 2/2, which has no status; not re-run (delivery at-most-once)` }])
  })

  test('a holder that lapsed (not eligible any more, still in the electorate): lost, "lapsed"', () => {
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100, { acks: ackFor(A) }), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'running', 500)], eligibleOf(B, C), undefined, all)
    expect(p.lost.map((l) => l.reason)).toEqual([`lost: replica 0 was held by ${A} with a quorum of acks 2/2, which lapsed (no longer an eligible runner); not re-run (delivery at-most-once)`])
    expect(p.kept).toEqual([])
  })

  test('settled by an unbeatable lead (every member acked, no quorum): the reason says so', () => {
    // 5 members: A 2 acks, B 1, C 1, D 1 -> no quorum (3), but u = 0 and A leads.
    const five = eligibleOf(A, B, C, 'did:plc:ddd', 'did:plc:eee')
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100, { acks: ackFor(A) }), bid(C, 100, { acks: ackFor(B) }), bid('did:plc:ddd', 100, { acks: ackFor(C) }), bid('did:plc:eee', 100, { acks: ackFor('did:plc:ddd') })]
    const p = resolvePlacement(batch, bids, [claim(A, 'failed', 500)], five, undefined, five)
    expect(p.lost.map((l) => l.reason)).toEqual([`lost: replica 0 was held by ${A} with an unbeatable lead of acks (2 of 5), which failed; not re-run (delivery at-most-once)`])
  })

  test('a settled holder that completed its number is a completion, not also a loss', () => {
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100, { acks: ackFor(A) }), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'exited', 500, { exitCode: 0 })], all, undefined, all)
    expect(p.completed.map((s) => s.meshlet)).toEqual([A])
    expect(p.lost).toEqual([])
  })

  test('a completion without a quorum of acks is invalid, with the count it had', () => {
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'exited', 500, { exitCode: 0 })], all, undefined, all)
    expect(p.completed).toEqual([])
    expect(p.outcomes.filter((o) => o.outcome === 'invalid').map((o) => o.reason)).toEqual(['invalid: completion of replica 0 without a quorum of acks (1/2)'])
  })
})

describe('evictions and conflicts', () => {
  test('a claim on a number a quorum settled for another: evicted, naming the holder and the quorum', () => {
    const bids = [bid(A, 100, { acks: ackFor(A) }), bid(B, 900, { acks: ackFor(A) }), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'pending', 100), claim(B, 'pending', 900)], all, undefined, all)
    expect(p.kept.map((s) => s.meshlet)).toEqual([A])
    expect(p.evictions.map((e) => [e.status.meshlet, e.reason])).toEqual([[B, `lost claim conflict: replica 0 is held by ${A} (quorum of acks 2/2)`]])
  })

  test('… and by an unbeatable lead', () => {
    const five = eligibleOf(A, B, C, 'did:plc:ddd', 'did:plc:eee')
    const bids = [bid(A, 100, { acks: ackFor(A) }), bid(B, 900, { acks: ackFor(A) }), bid(C, 100, { acks: ackFor(B) }), bid('did:plc:ddd', 100, { acks: ackFor(C) }), bid('did:plc:eee', 100, { acks: ackFor('did:plc:ddd') })]
    const p = resolvePlacement(batch, bids, [claim(A, 'pending', 100), claim(B, 'pending', 900)], five, undefined, five)
    expect(p.evictions.map((e) => e.reason)).toEqual([`lost claim conflict: replica 0 is held by ${A} (unbeatable lead of acks 2 of 5)`])
  })

  test('a number held by a completion (at-least-once batch): the conflict names the completion, with no priorities', () => {
    const w = workload({ kind: 'batch', replicas: 1, delivery: 'at-least-once' })
    const p = resolvePlacement(w, [bid(A, 500), bid(B, 900)], [claim(A, 'exited', 500, { exitCode: 0 }), claim(B, 'pending', 900)], all)
    expect(p.completed.map((s) => s.meshlet)).toEqual([A])
    expect(p.evictions.map((e) => e.reason)).toEqual([`lost claim conflict: replica 0 is held by ${A} (completed)`])
  })

  test('a claim whose meshlet renounced its number, with nobody holding it yet: evicted, "another claim"', () => {
    const bids = [bid(A, 900, { renounced: [0] }), bid(B, 100), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'pending', 900)], all, undefined, all)
    expect(p.evictions.map((e) => e.reason)).toEqual(['lost claim conflict: renounced replica 0 (split acks led by another claim)'])
  })

  test('unsettled number: the claim with more acks is kept even when the other outranks it; the other contends and its gate says with whom', () => {
    // A (priority 100) has 1 ack, B (priority 900) none; 3 members, quorum 2, nobody settled.
    const bids = [bid(A, 100), bid(B, 900), bid(C, 100, { acks: ackFor(A) })]
    const p = resolvePlacement(batch, bids, [claim(A, 'pending', 100), claim(B, 'pending', 900)], all, undefined, all)
    expect(p.kept.map((s) => s.meshlet)).toEqual([A])
    expect(p.contending.map((s) => s.meshlet)).toEqual([B])
    expect(p.evictions).toEqual([])
    expect(p.gates.get(A)).toEqual({ replica: 0, allowed: false, reason: 'waiting for acks 1/2 for replica 0' })
    expect(p.gates.get(B)).toEqual({ replica: 0, allowed: false, reason: `waiting for acks 0/2 for replica 0; contending with ${A}` })
  })
})

describe('the rest of the verdicts', () => {
  test('a simple placement explains exactly the one winner, nothing else', () => {
    const p = resolvePlacement(workload(), [bid(A, 500)], [claim(A, 'running', 500)], eligibleOf(A))
    expect(p.outcomes).toEqual([expect.objectContaining({ meshlet: A, outcome: 'won' })])
  })

  test('a meshlet that yielded its replica may be a candidate again when a slot opens', () => {
    const p = resolvePlacement(workload(), [bid(A, 500)], [claim(A, 'stopped', 500, { message: 'lost claim conflict: replica 0 is held by x' })], eligibleOf(A))
    expect(p.next.map((b) => b.meshlet)).toEqual([A])
  })

  test("statuses of other workloads are none of this one's business, and a status naming no workload is no crash", () => {
    const other = claim(B, 'running', 500, { workload: { uri: `at://did:plc:owner/${NSID.workload}/3kwother`, cid: 'bafyother' } })
    const broken = { ...claim(C, 'running', 500), workload: undefined } as unknown as WorkloadStatus
    const p = resolvePlacement(workload(), [bid(A, 500)], [claim(A, 'running', 500), other, broken], eligibleOf(A, B, C))
    expect(p.kept.map((s) => s.meshlet)).toEqual([A])
    expect(p.outcomes.filter((o) => o.outcome === 'invalid')).toEqual([])
  })

  test('invalid statuses are listed by meshlet, then record', () => {
    const offKey = (m: string, rkey: string): WorkloadStatus => ({ ...claim(m, 'running', 500), uri: `at://${m}/${NSID.workloadStatus}/${rkey}` })
    const statuses = [offKey(B, 'b1'), offKey(A, 'x2'), offKey(A, 'x1'), offKey(C, 'a0')]
    const p = resolvePlacement(workload(), [bid(A, 500)], statuses, eligibleOf(A, B, C))
    const listed = p.outcomes.filter((o) => o.outcome === 'invalid').map((o) => o.record)
    expect(listed).toEqual([`at://${A}/${NSID.workloadStatus}/x1`, `at://${A}/${NSID.workloadStatus}/x2`, `at://${B}/${NSID.workloadStatus}/b1`, `at://${C}/${NSID.workloadStatus}/a0`])
  })

  test('bids with acks for numbers outside [0, replicas) settle nothing', () => {
    const bids: Bid[] = [bid(A, 500, { acks: ackFor(A, 1) }), bid(B, 100, { acks: ackFor(A, 1) }), bid(C, 100, { acks: ackFor(A, 1) })]
    const p = resolvePlacement(batch, bids, [], all, undefined, all)
    expect(p.lost).toEqual([])
    expect(p.openSlots).toBe(1)
  })
})

describe('more verdicts from the mutants', () => {
  test('a claim on a number that is lost: evicted, naming the lost holder', () => {
    const bids = [bid(A, 500, { acks: ackFor(A) }), bid(B, 100, { acks: ackFor(A) }), bid(C, 100)]
    const p = resolvePlacement(batch, bids, [claim(A, 'stopped', 500), claim(B, 'pending', 100)], all, undefined, all)
    expect(p.evictions.map((e) => e.reason)).toEqual([`lost claim conflict: replica 0 is held by ${A} (lost) (quorum of acks 2/2)`])
  })

  test('a settled holder whose live claim is for another number: the settled number is lost', () => {
    const two = workload({ kind: 'batch', replicas: 2 })
    const bids = [bid(A, 500, { acks: ackFor(A, 0) }), bid(B, 100, { acks: ackFor(A, 0) }), bid(C, 100)]
    const p = resolvePlacement(two, bids, [claim(A, 'pending', 500, { replica: 1 })], all, undefined, all)
    expect(p.lost.map((l) => [l.replica, l.meshlet])).toEqual([[0, A]])
    expect(p.lost[0]!.reason).toMatch(/which pending; not re-run/)
  })

  test('two completions of one number (at least once): one completes it, the other is out for this version', () => {
    const w = workload({ kind: 'batch', replicas: 1, delivery: 'at-least-once' })
    const p = resolvePlacement(w, [bid(A, 500), bid(B, 100)], [claim(A, 'exited', 500, { exitCode: 0 }), claim(B, 'exited', 100, { exitCode: 0 })], eligibleOf(A, B))
    expect(p.completed.map((s) => s.meshlet)).toEqual([A])
    expect(p.outcomes.find((o) => o.meshlet === B)).toMatchObject({ outcome: 'lost', reason: expect.stringMatching(/^out for this version: /) })
  })

  test('a service replica stopped by its owner: that meshlet is out for this version, and says so', () => {
    const p = resolvePlacement(workload(), [bid(A, 500)], [claim(A, 'stopped', 500, { message: 'stopped by owner' })], eligibleOf(A))
    expect(p.outcomes).toEqual([expect.objectContaining({ meshlet: A, outcome: 'lost', reason: expect.stringMatching(/^out for this version: .*a meshlet does not take a version again after its replica ended$/) })])
    expect(p.next).toEqual([])
  })

  test('a batch workload with no delivery field is at most once: its claims wait for acks', () => {
    const w = { ...batch, delivery: undefined } as unknown as typeof batch
    const p = resolvePlacement(w, [bid(A, 500), bid(B, 100), bid(C, 100)], [claim(A, 'pending', 500)], all, undefined, all)
    expect(p.gates.get(A)).toEqual({ replica: 0, allowed: false, reason: 'waiting for acks 0/2 for replica 0' })
  })
})
