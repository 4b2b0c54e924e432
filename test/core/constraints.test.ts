import { describe, expect, test } from 'vitest'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { matchConstraints } from '../../src/core/constraints.js'
import { eligibility, runsFor } from '../../src/core/eligibility.js'
import type { Constraints, Did, Profile, Workload } from '../../src/core/types.js'

const A = 'did:plc:alice'
const B = 'did:plc:bob'
const C = 'did:plc:carol'
const mA = 'did:plc:m-alice'
const mB = 'did:plc:m-bob'
const mC = 'did:plc:m-carol'

const NOW = Date.parse('2025-06-01T12:00:00.000Z')
const LEASE = 30_000
const iso = (ms: number) => new Date(ms).toISOString()

function workload(c: Partial<Constraints> = {}, owner: Did = A): Workload {
  return {
    uri: `at://${owner}/commune.scheduler.workload/3kabc`,
    cid: 'bafyworkload',
    owner,
    rkey: '3kabc',
    name: 'web',
    image: 'nginx:1',
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 64 },
    env: [],
    kind: 'service',
    restart: { policy: 'always' },
    constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared', ...c },
    bidWindowMs: 5000,
    delivery: 'at-most-once',
    createdAt: iso(NOW - 60_000),
  }
}

function profile(meshlet: Did, p: Partial<Profile> = {}): Profile {
  return {
    meshlet,
    endpoint: 'http://127.0.0.1:2583',
    roles: ['worker'],
    labels: [{ key: 'zone', value: 'eu' }],
    capabilities: ['docker'],
    cpuMillis: 4000,
    memoryMb: 8192,
    updatedAt: iso(NOW - 1_000),
    ...p,
  }
}

describe('matchConstraints', () => {
  test.each<{ name: string; c: Partial<Constraints>; owner?: Did; p?: Partial<Profile>; reason: string | undefined }>([
    { name: 'no constraints', c: {}, reason: undefined },
    { name: 'role present', c: { roles: ['worker'] }, reason: undefined },
    { name: 'role missing', c: { roles: ['gpu'] }, reason: 'needs role gpu' },
    { name: 'several roles missing', c: { roles: ['gpu', 'worker', 'arm64'] }, reason: 'needs roles gpu, arm64' },
    { name: 'label matches', c: { labels: [{ key: 'zone', value: 'eu' }] }, reason: undefined },
    { name: 'label has another value', c: { labels: [{ key: 'zone', value: 'us' }] }, reason: 'needs label zone=us (has zone=eu)' },
    { name: 'label key missing', c: { labels: [{ key: 'disk', value: 'ssd' }] }, reason: 'needs label disk=ssd (missing)' },
    { name: 'capability present', c: { capabilities: ['docker'] }, reason: undefined },
    { name: 'capability missing', c: { capabilities: ['nvidia'] }, reason: 'needs capability nvidia' },
    { name: 'owner in members', c: { members: [C, B] }, owner: B, reason: undefined },
    { name: 'owner not in members', c: { members: [C] }, owner: B, reason: `owner ${B} is not in the workload's members list` },
    { name: 'owner-only on the owner meshlet', c: { privacy: 'owner-only' }, owner: A, reason: undefined },
    {
      name: 'owner-only on a friend meshlet',
      c: { privacy: 'owner-only' },
      owner: B,
      reason: `workload is owner-only and this meshlet belongs to ${B}, not ${A}`,
    },
    {
      name: 'every failure is named',
      c: { roles: ['gpu'], capabilities: ['nvidia'], labels: [{ key: 'zone', value: 'us' }] },
      reason: 'needs role gpu; needs label zone=us (has zone=eu); needs capability nvidia',
    },
    { name: 'profile without labels', c: { labels: [{ key: 'zone', value: 'eu' }] }, p: { labels: [] }, reason: 'needs label zone=eu (missing)' },
  ])('$name', ({ c, owner = A, p, reason }) => {
    expect(matchConstraints(workload(c), { meshlet: 'did:plc:m-x', owner, profile: profile('did:plc:m-x', p) })).toBe(reason)
  })
})

describe('eligibility', () => {
  const owned = (owner: Did, meshlet: Did, ...members: Did[]) => ({
    links: [{ owner, meshlet }],
    owners: [{ meshlet, owner }],
    memberships: [{ meshlet, members }],
  })
  const merge = (...parts: ReturnType<typeof owned>[]) => ({
    links: parts.flatMap((p) => p.links),
    owners: parts.flatMap((p) => p.owners),
    memberships: parts.flatMap((p) => p.memberships),
  })
  // Alice and Bob are mutual; Carol lists Alice but Alice does not list Carol.
  const graph = buildClusterGraph(merge(owned(A, mA, B), owned(B, mB, A), owned(C, mC, A)))
  const fresh = new Map([mA, mB, mC].map((m) => [m, profile(m)]))

  // Every meshlet's last record arrived just now, unless a test says otherwise (liveness by receipt).
  const justNow = (): number => NOW - 1
  const run = (w: Workload, profiles: ReadonlyMap<Did, Profile> = fresh, extra: { leaseMsOf?: (p: Profile) => number | undefined; lastReceived?: (m: Did) => number | undefined } = {}) =>
    eligibility({ workload: w, graph, profiles, monoNow: NOW, lastReceived: justNow, defaultLeaseMs: LEASE, ...extra })

  test("the owner's meshlets and mutual owners' meshlets are eligible, one-way listers are not considered", () => {
    const r = run(workload())
    expect([...r.eligible.entries()]).toEqual([
      [mA, { meshlet: mA, owner: A }],
      [mB, { meshlet: mB, owner: B }],
    ])
    expect(r.excluded).toEqual([])
  })

  test('each constraint excludes with its reason', () => {
    const profiles = new Map(fresh)
    profiles.set(mB, profile(mB, { roles: ['worker', 'gpu'] }))
    const r = run(workload({ roles: ['gpu'] }), profiles)
    expect([...r.eligible.keys()]).toEqual([mB])
    expect(r.excluded).toEqual([{ meshlet: mA, reason: 'needs role gpu' }])
  })

  test('owner-only keeps the workload on the owner meshlets', () => {
    const r = run(workload({ privacy: 'owner-only' }))
    expect([...r.eligible.keys()]).toEqual([mA])
    expect(r.excluded).toEqual([{ meshlet: mB, reason: `workload is owner-only and this meshlet belongs to ${B}, not ${A}` }])
  })

  test('members restricts to the listed owners', () => {
    const r = run(workload({ members: [B] }))
    expect([...r.eligible.keys()]).toEqual([mB])
    expect(r.excluded.map((e) => e.meshlet)).toEqual([mA])
  })

  test.each([
    { name: 'received just inside the lease', age: LEASE - 1, eligible: true },
    { name: 'received exactly one lease ago', age: LEASE, eligible: false },
    { name: 'long gone', age: 10 * LEASE, eligible: false },
  ])('liveness: $name', ({ age, eligible }) => {
    const r = run(workload(), fresh, { lastReceived: (m) => (m === mB ? NOW - age : NOW - 1) })
    expect(r.eligible.has(mB)).toBe(eligible)
    expect(r.electorate.has(mB)).toBe(true) // the electorate ignores liveness
    if (!eligible) expect(r.excluded.find((e) => e.meshlet === mB)?.reason).toBe(`silent: last record from its repo received ${age} ms ago; lease of 30000 ms expired ${age - LEASE} ms ago`)
  })

  test('a per-profile lease overrides the default; nonsense falls back', () => {
    const lastReceived = (m: Did) => (m === mB ? NOW - 2 * LEASE : NOW - 1)
    expect(run(workload(), fresh, { lastReceived, leaseMsOf: (p) => (p.meshlet === mB ? 3 * LEASE : undefined) }).eligible.has(mB)).toBe(true)
    expect(run(workload(), fresh, { lastReceived, leaseMsOf: () => -5 }).eligible.has(mB)).toBe(false)
  })

  test("a missing profile and a silent repo are reasons, not crashes; the profile's own date is not consulted", () => {
    const profiles = new Map(fresh)
    profiles.delete(mA)
    profiles.set(mB, profile(mB, { updatedAt: 'yesterday' }))
    expect(run(workload(), profiles).excluded).toEqual([{ meshlet: mA, reason: 'no profile published yet' }])
    expect(run(workload(), profiles, { lastReceived: () => undefined }).excluded).toEqual([
      { meshlet: mA, reason: 'no profile published yet' },
      { meshlet: mB, reason: 'silent: no record received from its repo yet' },
    ])
  })

  test('an unverified meshlet claimed by the owner is excluded with the link problem', () => {
    const g = buildClusterGraph(merge(owned(A, mA), { links: [{ owner: A, meshlet: 'did:plc:m-new' }], owners: [], memberships: [] }))
    const r = eligibility({ workload: workload(), graph: g, profiles: fresh, monoNow: NOW, lastReceived: justNow, defaultLeaseMs: LEASE })
    expect([...r.eligible.keys()]).toEqual([mA])
    expect(r.excluded).toEqual([
      { meshlet: 'did:plc:m-new', reason: `not verified: ${A} claims meshlet did:plc:m-new, but did:plc:m-new has no meshletOwner record yet` },
    ])
  })

  test('a meshlet of a non-mutual owner never runs the workload, even if named in members', () => {
    const r = run(workload({ members: [C] }))
    expect(r.eligible.size).toBe(0)
    expect(r.excluded.map((e) => e.meshlet)).not.toContain(mC)
  })

  test("consent per machine: a meshlet whose own list lacks B never runs B's work, though a sibling of the same owner lists B", () => {
    // A owns two meshlets: mA lists B, mA2 lists nobody. A and B are mutual through mA alone.
    const mA2 = 'did:plc:m-a2'
    const g = buildClusterGraph(merge(owned(A, mA, B), owned(A, mA2), owned(B, mB, A), owned(C, mC, B)))
    const profiles = new Map([mA, mA2, mB].map((m) => [m, profile(m)]))
    const byB = eligibility({ workload: workload({}, B), graph: g, profiles, monoNow: NOW, lastReceived: justNow, defaultLeaseMs: LEASE })
    expect([...byB.eligible.keys()]).toEqual([mA, mB])
    expect([...byB.electorate.keys()]).toEqual([mA, mB])
    expect(byB.excluded).toEqual([{ meshlet: mA2, reason: `its own membership list does not name ${B} (a meshlet runs work only for its owner and the owners it lists itself)` }])
    expect(runsFor(g, mA2, B)).toBe(false)
    expect(runsFor(g, mA, B)).toBe(true)
    // Its owner's own work needs no list: mA2 runs A's workloads.
    const byA = eligibility({ workload: workload({}, A), graph: g, profiles, monoNow: NOW, lastReceived: justNow, defaultLeaseMs: LEASE })
    expect([...byA.eligible.keys()]).toEqual([mA2, mA, mB])
    expect(runsFor(g, mA2, A)).toBe(true)
    // Listing B is not enough without mutual verification: a meshlet of C (not mutual with B) never runs B's work.
    expect(runsFor(g, mC, B)).toBe(false)
  })

  test('overlapping clusters: a workload by B may use A and C, a workload by A never C', () => {
    const g = buildClusterGraph(merge(owned(A, mA, B), owned(B, mB, A, C), owned(C, mC, B)))
    const of = (owner: Did) => [...eligibility({ workload: workload({}, owner), graph: g, profiles: fresh, monoNow: NOW, lastReceived: justNow, defaultLeaseMs: LEASE }).eligible.keys()]
    expect(of(B)).toEqual([mA, mB, mC])
    expect(of(A)).toEqual([mA, mB])
    expect(of(C)).toEqual([mB, mC])
  })
})
