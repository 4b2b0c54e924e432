// The small predicates placement and decide build on (core/placement.ts): which statuses are
// live claims, which stopped ones a meshlet may bid again after, and how a new claim picks its number.
import { describe, expect, test } from 'vitest'
import { claimPriority, isClaimState, isCompleted, isLiveClaim, isYielded, replicaIndexFor, YIELD_MESSAGE_PREFIXES } from '../../src/core/placement.js'
import type { StatusState, StrongRef } from '../../src/core/types.js'
import { eligibleOf, status, W_CID, W_URI, workload } from './fixtures.js'

const M = 'did:plc:m'

describe('isYielded', () => {
  test.each(YIELD_MESSAGE_PREFIXES.map((p) => [p]))('a stopped status whose message starts "%s" yielded to the protocol', (prefix) => {
    expect(isYielded(status(M, 'stopped', { message: `${prefix}: details` }))).toBe(true)
  })

  test('the six protocol reasons, and nothing else', () => {
    // when (issue 14): a replica preempted by the machine's owner may come back there as a last resort, once it fits.
    // (issue 12: 'rollout:' is an old version let go during a rolling update)
    expect([...YIELD_MESSAGE_PREFIXES]).toEqual(['lost claim conflict', 'no longer eligible', 'replaced while this meshlet was away', 'draining', 'start failed:', "preempted by the machine's owner", 'rollout:'])
    expect(isYielded(status(M, 'stopped', { message: "preempted by the machine's owner" }))).toBe(true)
  })

  test('stopped by the owner, without a message, or the phrase elsewhere in the message: not yielded', () => {
    expect(isYielded(status(M, 'stopped', { message: 'stopped by owner' }))).toBe(false)
    expect(isYielded(status(M, 'stopped'))).toBe(false)
    expect(isYielded(status(M, 'stopped', { message: 'owner said: draining' }))).toBe(false)
  })

  test.each<StatusState>(['pending', 'pulling', 'starting', 'running', 'exited', 'failed'])('a %s status with a yield message is not yielded (only stopped ones are)', (state) => {
    expect(isYielded(status(M, state, { message: 'draining' }))).toBe(false)
  })
})

describe('isClaimState and isLiveClaim', () => {
  test.each<[StatusState, boolean]>([
    ['pending', true],
    ['pulling', true],
    ['starting', true],
    ['running', true],
    ['exited', false],
    ['failed', false],
    ['stopped', false],
  ])('%s claims a slot: %s', (state, want) => {
    expect(isClaimState(status(M, state))).toBe(want)
    expect(isLiveClaim(status(M, state), workload(), eligibleOf(M))).toBe(want)
  })

  test('a live claim is for the current version, by an eligible meshlet', () => {
    const w = workload()
    expect(isLiveClaim(status(M, 'running'), w, eligibleOf(M))).toBe(true)
    expect(isLiveClaim(status(M, 'running'), w, eligibleOf('did:plc:other'))).toBe(false)
    expect(isLiveClaim(status(M, 'running', { workload: { uri: W_URI, cid: 'bafyolder' } }), w, eligibleOf(M))).toBe(false)
    expect(isLiveClaim(status(M, 'running', { workload: { uri: `${W_URI}x`, cid: W_CID } }), w, eligibleOf(M))).toBe(false)
    // A status naming no workload (hostile or half-written) is no claim, and no crash.
    expect(isLiveClaim(status(M, 'running', { workload: undefined as unknown as StrongRef }), w, eligibleOf(M))).toBe(false)
  })
})

describe('isCompleted', () => {
  test('a batch replica of the current version that exited, or failed after it started', () => {
    const batch = workload({ kind: 'batch' })
    expect(isCompleted(status(M, 'exited'), batch)).toBe(true)
    expect(isCompleted(status(M, 'failed', { containerId: 'c1' }), batch)).toBe(true)
    expect(isCompleted(status(M, 'failed'), batch)).toBe(false) // never started
    expect(isCompleted(status(M, 'running'), batch)).toBe(false)
    expect(isCompleted(status(M, 'exited', { workload: { uri: W_URI, cid: 'bafyolder' } }), batch)).toBe(false)
    expect(isCompleted(status(M, 'exited'), workload({ kind: 'service' }))).toBe(false)
  })
})

describe('replicaIndexFor', () => {
  test('numbers and statuses mix; statuses without a number take none', () => {
    expect(replicaIndexFor([0, status(M, 'running', { replica: 1 }), status('did:plc:n', 'running', { replica: undefined })])).toBe(2)
  })

  test('a negative or fractional position counts as its floor, never below 0', () => {
    expect(replicaIndexFor([1], -3)).toBe(0)
    expect(replicaIndexFor([1], 1.9)).toBe(2)
    expect(replicaIndexFor([], 2.5)).toBe(2)
  })

  test('several claimers of one round take distinct free numbers in order', () => {
    const used = [0, 2, 5]
    expect([0, 1, 2, 3].map((p) => replicaIndexFor(used, p))).toEqual([1, 3, 4, 6])
  })
})

describe('claimPriority', () => {
  test('the status priority, or 0 when it has none that is a finite number', () => {
    expect(claimPriority(status(M, 'running', { priority: 700 }))).toBe(700)
    expect(claimPriority(status(M, 'running', { priority: 0 }))).toBe(0)
    expect(claimPriority(status(M, 'running', { priority: -5 }))).toBe(-5)
    expect(claimPriority(status(M, 'running'))).toBe(0)
    expect(claimPriority(status(M, 'running', { priority: Number.NaN }))).toBe(0)
    expect(claimPriority(status(M, 'running', { priority: Number.POSITIVE_INFINITY }))).toBe(0)
    expect(claimPriority(status(M, 'running', { priority: '900' as unknown as number }))).toBe(0)
  })
})
