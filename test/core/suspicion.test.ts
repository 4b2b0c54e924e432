// Death by suspicion (core/suspicion.ts, docs/protocol.md "Liveness by receipt"): when a suspected
// meshlet counts as dead, what refutes it, and what a false accuser can cost: boundaries and reasons.
import { describe, expect, test } from 'vitest'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { eligibility } from '../../src/core/eligibility.js'
import {
  DEFAULT_SUSPICION_RULES,
  SuspicionBook,
  atMostOnceBatch,
  lenientRules,
  needsShortLease,
  suspicionDeath,
  suspicionIgnored,
  suspicionProblem,
  type SuspicionRules,
} from '../../src/core/suspicion.js'
import type { Did, MeshletLink, MeshletOwnerClaim, Membership, Profile } from '../../src/core/types.js'
import { bid, status, workload, W_URI } from './fixtures.js'

const R: SuspicionRules = { confirmMs: 3000, gapMs: 30_000, maxRefuted: 3, refuteWindowMs: 600_000 }
const S = 'did:plc:subject'
const A = 'did:plc:accuser'
const B = 'did:plc:other'

describe('suspicionDeath: the confirm window', () => {
  test('dead exactly confirmMs after the suspicion was received, not a millisecond before', () => {
    const s = [{ accuser: A, at: 10_000 }]
    expect(suspicionDeath(s, 5_000, 12_999, 3000)).toBeUndefined()
    expect(suspicionDeath(s, 5_000, 13_000, 3000)).toBe(
      `suspected dead: ${A} could not reach it (probes failed); nothing received from its repo in the 3000 ms since (confirm window 3000 ms)`,
    )
  })
  test('a record received after the suspicion refutes it; one received at the same instant does not', () => {
    const s = [{ accuser: A, at: 10_000 }]
    expect(suspicionDeath(s, 10_001, 20_000, 3000)).toBeUndefined()
    expect(suspicionDeath(s, 10_000, 20_000, 3000)).toContain('suspected dead')
    // never heard from at all: the suspicion alone decides (the lease says "silent" anyway)
    expect(suspicionDeath(s, undefined, 13_000, 3000)).toContain('suspected dead')
  })
  test('the earliest unrefuted suspicion decides, and names its accuser', () => {
    const s = [
      { accuser: B, at: 12_000 },
      { accuser: A, at: 10_000 },
      { accuser: 'did:plc:old', at: 4_000 }, // refuted by the receipt at 5000
    ]
    expect(suspicionDeath(s, 5_000, 13_500, 3000)).toContain(`${A} could not reach it`)
    expect(suspicionDeath(s, 5_000, 13_500, 3000)).toContain('in the 3500 ms since')
    expect(suspicionDeath([], 5_000, 1e9, 3000)).toBeUndefined()
  })
})

describe('suspicionIgnored: the per-accuser budget', () => {
  test('one counted suspicion per gap per (accuser, subject)', () => {
    const h = [{ at: 1000, refuted: true }]
    expect(suspicionIgnored(h, 1000 + R.gapMs - 1, R)).toBe(`within 30000 ms of this accuser's previous suspicion of it (29999 ms ago)`)
    expect(suspicionIgnored(h, 1000 + R.gapMs, R)).toBeUndefined()
    expect(suspicionIgnored([], 0, R)).toBeUndefined()
  })
  test('maxRefuted refuted suspicions within the window silence the accuser until the oldest ages out', () => {
    const h = [
      { at: 0, refuted: true },
      { at: 40_000, refuted: true },
      { at: 80_000, refuted: true },
    ]
    expect(suspicionIgnored(h, 120_000, R)).toBe(`this accuser's last 3 suspicions of it were refuted within 600000 ms; ignored for 480000 ms more`)
    expect(suspicionIgnored(h, R.refuteWindowMs - 1, R)).toContain('ignored for 1 ms more')
    expect(suspicionIgnored(h, R.refuteWindowMs, R)).toBeUndefined()
    // unrefuted ones (true deaths) never silence anyone
    expect(suspicionIgnored(h.map((x, i) => ({ ...x, refuted: i !== 0 })), 120_000, R)).toBeUndefined()
  })
  test("the subject's own rules are looser: it refutes everything an observer counts, and a little more", () => {
    const l = lenientRules(R)
    expect(l.gapMs).toBe(20_000)
    expect(l.maxRefuted).toBe(4)
    expect(l.confirmMs).toBe(R.confirmMs)
    expect(DEFAULT_SUSPICION_RULES).toEqual(R)
  })
})

describe('SuspicionBook', () => {
  test('a live peer refutes: receipts within the confirm window mark the suspicion refuted, later ones do not', () => {
    const book = new SuspicionBook(R)
    expect(book.noteSuspicion(A, S, 1000)).toBeUndefined()
    expect(book.deathProblem(S, 500, 3999)).toBeUndefined()
    expect(book.deathProblem(S, 500, 4000)).toContain('suspected dead')
    book.noteReceipt(S, 4000) // at the edge of the window: refutes
    expect(book.deathProblem(S, 4000, 5000)).toBeUndefined()
    expect(book.noteSuspicion(A, S, 1000 + R.gapMs)).toBeUndefined()
    book.noteReceipt(S, 1000 + R.gapMs + R.confirmMs + 1) // too late: not a refutation (it was dead a while)
    expect(book.deathProblem(S, 1000 + R.gapMs + R.confirmMs + 1, 1e6)).toBeUndefined() // but alive again now
  })
  test('a flooding accuser makes an honest peer write at most maxRefuted times per window, then is ignored', () => {
    const book = new SuspicionBook(R)
    let counted = 0
    let t = 0
    for (let i = 0; i < 600; i++, t += 1000) {
      if (book.noteSuspicion(A, S, t) === undefined) {
        counted++
        book.noteReceipt(S, t + 500) // the subject refutes each counted one
      }
    }
    expect(counted).toBe(3)
    // and while A is ignored, a genuine suspicion by another member still counts
    expect(book.noteSuspicion(B, S, t)).toBeUndefined()
    expect(book.deathProblem(S, t - 500, t + R.confirmMs)).toContain(B)
  })
  test('a meshlet cannot suspect itself; untrusted accusers are left out', () => {
    const book = new SuspicionBook(R)
    expect(book.noteSuspicion(S, S, 0)).toBe('a meshlet cannot suspect itself')
    book.noteSuspicion(A, S, 0)
    expect(book.deathProblem(S, undefined, 10_000, (a) => a !== A)).toBeUndefined()
    expect(book.deathProblem(S, undefined, 10_000, (a) => a === A)).toContain(A)
  })
})

// A two-owner commune: alice's meshlet S and bob's A, mutually verified.
const OA = 'did:plc:alice'
const OB = 'did:plc:bob'
const parts = [
  { owner: OA, meshlet: S, members: [OB] },
  { owner: OB, meshlet: A, members: [OA] },
]
const graph = buildClusterGraph({
  links: parts.map((p) => ({ owner: p.owner, meshlet: p.meshlet })) as MeshletLink[],
  owners: parts.map((p) => ({ meshlet: p.meshlet, owner: p.owner })) as MeshletOwnerClaim[],
  memberships: parts.map((p) => ({ meshlet: p.meshlet, members: [p.owner, ...p.members] })) as Membership[],
})
const profile = (m: Did, p: Partial<Profile> = {}): Profile => ({ meshlet: m, endpoint: '', roles: [], labels: [], capabilities: [], cpuMillis: 4000, memoryMb: 8192, updatedAt: '2025-01-01T00:00:00.000Z', pingKey: 'k', ...p })

describe('suspicionProblem and eligibility', () => {
  const dead = () => 'suspected dead: test'
  test('a meshlet that answers probes and is confirmed suspected is not eligible for a service, with the reason', () => {
    const r = eligibility({
      workload: workload({ owner: OA }),
      graph,
      profiles: new Map([[S, profile(S)], [A, profile(A)]]),
      monoNow: 1000,
      lastReceived: () => 999,
      defaultLeaseMs: 360_000,
      suspected: (m) => (m === S ? dead() : undefined),
    })
    expect([...r.eligible.keys()]).toEqual([A])
    expect(r.excluded).toEqual([{ meshlet: S, reason: 'suspected dead: test' }])
    expect([...r.electorate.keys()].sort()).toEqual([A, S].sort())
  })
  test('never for batch at-most-once (the lease alone ends such a claim), nor for a meshlet without a pingKey (behind NAT)', () => {
    const base = { graph, meshlet: S, owner: OA, suspected: dead }
    expect(suspicionProblem({ ...base, workload: workload({ kind: 'batch' }), profile: profile(S) })).toBeUndefined()
    expect(suspicionProblem({ ...base, workload: workload({ kind: 'batch', delivery: 'at-least-once' }), profile: profile(S) })).toBe('suspected dead: test')
    expect(suspicionProblem({ ...base, workload: workload(), profile: profile(S, { pingKey: undefined }) })).toBeUndefined()
    expect(suspicionProblem({ ...base, workload: workload(), profile: profile(S), suspected: undefined })).toBeUndefined()
    expect(atMostOnceBatch(workload({ kind: 'batch' }))).toBe(true)
    expect(atMostOnceBatch(workload())).toBe(false)
  })
  test('only verified meshlets of mutually verified owners may accuse, never the subject itself', () => {
    const seen: boolean[] = []
    suspicionProblem({
      graph,
      meshlet: S,
      owner: OA,
      workload: workload(),
      profile: profile(S),
      suspected: (_m, trusted) => {
        seen.push(trusted(A), trusted(S), trusted('did:plc:stranger'))
        return undefined
      },
    })
    expect(seen).toEqual([true, false, false])
  })
})

describe('needsShortLease: when the frequent heartbeat is back', () => {
  const M = 'did:plc:m'
  const batch = workload({ kind: 'batch', replicas: 1 })
  const none = () => []
  test('idle, or only services: the long fallback lease', () => {
    expect(needsShortLease(M, [], none, none)).toBe(false)
    expect(needsShortLease(M, [workload()], () => [status(M, 'running')], () => [bid(M, 5)])).toBe(false)
  })
  test('holding a batch claim, or offering for an unclaimed batch slot: the short lease', () => {
    expect(needsShortLease(M, [batch], () => [status(M, 'pending')], none)).toBe(true)
    expect(needsShortLease(M, [batch], none, () => [bid(M, 5)])).toBe(true)
    expect(needsShortLease(M, [workload({ kind: 'batch', delivery: 'at-least-once' })], () => [status(M, 'running')], none)).toBe(true)
  })
  test('finished here, lost to another claimer, or declined: back to the long lease', () => {
    expect(needsShortLease(M, [batch], () => [status(M, 'exited')], () => [bid(M, 5)])).toBe(false)
    expect(needsShortLease(M, [batch], () => [status('did:plc:x', 'running')], () => [bid(M, 5)])).toBe(false)
    expect(needsShortLease(M, [batch], none, () => [bid(M, 0, { decline: 'no' })])).toBe(false)
    expect(needsShortLease(M, [batch], none, () => [bid(M, 5, { workload: { uri: W_URI, cid: 'old' } })])).toBe(false)
    expect(needsShortLease(M, [batch], () => [status(M, 'running', { workload: { uri: W_URI, cid: 'old' } })], none)).toBe(false)
  })
})
