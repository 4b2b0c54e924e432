// Who may run a workload, and why each other candidate may not (core/eligibility.ts): the order
// every peer lists them in, which claimer a link problem is told from, and the lease each uses.
import { describe, expect, test } from 'vitest'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { eligibility, type EligibilityInput } from '../../src/core/eligibility.js'
import type { Did, MeshletLink, MeshletOwnerClaim, Membership, Profile } from '../../src/core/types.js'
import { workload } from './fixtures.js'

const A = 'did:plc:alice'
const B = 'did:plc:bob'
const C = 'did:plc:carol'
const NOW = 1_000_000
const LEASE = 30_000

function profile(meshlet: Did, p: Partial<Profile> = {}): Profile {
  return { meshlet, endpoint: '', roles: [], labels: [], capabilities: [], cpuMillis: 4000, memoryMb: 8192, updatedAt: '2025-01-01T00:00:00.000Z', ...p }
}

/** A verified meshlet `m` of `owner` whose membership lists `members`. */
function owned(owner: Did, m: Did, ...members: Did[]) {
  return { links: [{ owner, meshlet: m }] as MeshletLink[], owners: [{ meshlet: m, owner }] as MeshletOwnerClaim[], memberships: [{ meshlet: m, members }] as Membership[] }
}
function graphOf(...parts: ReturnType<typeof owned>[]) {
  return buildClusterGraph({ links: parts.flatMap((p) => p.links), owners: parts.flatMap((p) => p.owners), memberships: parts.flatMap((p) => p.memberships) })
}
const none = () => ({ links: [] as MeshletLink[], owners: [] as MeshletOwnerClaim[], memberships: [] as Membership[] })

function run(over: Partial<EligibilityInput> & Pick<EligibilityInput, 'graph'>, meshlets: Did[]) {
  return eligibility({
    workload: workload({ owner: A }),
    profiles: new Map(meshlets.map((m) => [m, profile(m)])),
    monoNow: NOW,
    lastReceived: () => NOW - 1,
    defaultLeaseMs: LEASE,
    ...over,
  })
}

describe('eligibility: order', () => {
  test('eligible runners, the electorate and the exclusions are all in DID order, whoever claims them', () => {
    // Alice (first owner in order) claims z-meshlets, Bob a-meshlets: claim order is z before a.
    const g = graphOf(owned(A, 'did:plc:z-alice', B), owned(A, 'did:plc:y-alice', B), owned(B, 'did:plc:a-bob', A), owned(B, 'did:plc:b-bob', A))
    const meshlets = ['did:plc:z-alice', 'did:plc:y-alice', 'did:plc:a-bob', 'did:plc:b-bob']
    const r = run({ graph: g }, meshlets)
    expect([...r.eligible.keys()]).toEqual(['did:plc:a-bob', 'did:plc:b-bob', 'did:plc:y-alice', 'did:plc:z-alice'])
    expect([...r.electorate.keys()]).toEqual(['did:plc:a-bob', 'did:plc:b-bob', 'did:plc:y-alice', 'did:plc:z-alice'])
    const silent = run({ graph: g, lastReceived: () => undefined }, meshlets)
    expect(silent.excluded.map((e) => e.meshlet)).toEqual(['did:plc:a-bob', 'did:plc:b-bob', 'did:plc:y-alice', 'did:plc:z-alice'])
  })

  test('a meshlet claimed by two owners and verified by neither is explained from the first owner in DID order, whoever owns the workload', () => {
    const shared = 'did:plc:shared'
    const g = buildClusterGraph({
      links: [...owned(A, 'did:plc:m-alice', B).links, ...owned(B, 'did:plc:m-bob', A).links, { owner: B, meshlet: shared }, { owner: A, meshlet: shared }],
      owners: [...owned(A, 'did:plc:m-alice').owners, ...owned(B, 'did:plc:m-bob').owners],
      memberships: [...owned(A, 'did:plc:m-alice', B).memberships, ...owned(B, 'did:plc:m-bob', A).memberships],
    })
    const want = { meshlet: shared, reason: `not verified: ${A} claims meshlet ${shared}, but ${shared} has no meshletOwner record yet` }
    for (const owner of [A, B]) {
      const r = run({ graph: g, workload: workload({ owner }) }, ['did:plc:m-alice', 'did:plc:m-bob'])
      expect(r.excluded).toEqual([want])
    }
  })
})

describe('eligibility: exclusions', () => {
  test('a meshlet the owner claims but a non-mutual owner verifiably owns is excluded, naming that owner', () => {
    const m = 'did:plc:m-carol'
    const g = buildClusterGraph({ links: [{ owner: A, meshlet: m }, { owner: C, meshlet: m }], owners: [{ meshlet: m, owner: C }], memberships: [] })
    const r = run({ graph: g }, [m])
    expect(r.excluded).toEqual([{ meshlet: m, reason: `belongs to ${C}, who is not mutually verified with ${A}` }])
    expect(r.eligible.size).toBe(0)
    expect(r.electorate.size).toBe(0)
  })

  test('the electorate leaves out what the public records rule out (no profile, constraints) but keeps the silent', () => {
    const g = graphOf(owned(A, 'did:plc:m1'), owned(A, 'did:plc:m2'), owned(A, 'did:plc:m3'))
    const profiles = new Map([
      ['did:plc:m2', profile('did:plc:m2', { roles: ['gpu'] })],
      ['did:plc:m3', profile('did:plc:m3')],
    ])
    const r = run({ graph: g, profiles, workload: workload({ owner: A, constraints: { roles: ['gpu'], labels: [], capabilities: [], members: [], privacy: 'shared' } }), lastReceived: () => undefined }, [])
    expect([...r.electorate.values()]).toEqual([{ meshlet: 'did:plc:m2', owner: A }])
    expect(r.eligible.size).toBe(0)
    expect(r.excluded).toEqual([
      { meshlet: 'did:plc:m1', reason: 'no profile published yet' },
      { meshlet: 'did:plc:m2', reason: 'silent: no record received from its repo yet' },
      { meshlet: 'did:plc:m3', reason: 'needs role gpu' },
    ])
  })
})

describe('eligibility: the lease', () => {
  const g = graphOf(owned(A, 'did:plc:m1'))
  const agedBy = (age: number) => () => NOW - age

  test.each<[string, number | undefined]>([
    ['none advertised', undefined],
    ['zero', 0],
    ['negative', -1],
    ['infinite', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
  ])('a profile lease that is %s falls back to the default', (_what, own) => {
    const leaseMsOf = () => own
    expect(run({ graph: g, leaseMsOf, lastReceived: agedBy(LEASE - 1) }, ['did:plc:m1']).eligible.has('did:plc:m1')).toBe(true)
    expect(run({ graph: g, leaseMsOf, lastReceived: agedBy(LEASE) }, ['did:plc:m1']).excluded).toEqual([
      { meshlet: 'did:plc:m1', reason: `silent: last record from its repo received ${LEASE} ms ago; lease of ${LEASE} ms expired 0 ms ago` },
    ])
  })

  test('a positive profile lease replaces the default, shorter or longer', () => {
    expect(run({ graph: g, leaseMsOf: () => 1, lastReceived: agedBy(1) }, ['did:plc:m1']).excluded).toEqual([
      { meshlet: 'did:plc:m1', reason: 'silent: last record from its repo received 1 ms ago; lease of 1 ms expired 0 ms ago' },
    ])
    expect(run({ graph: g, leaseMsOf: () => 3 * LEASE, lastReceived: agedBy(3 * LEASE - 1) }, ['did:plc:m1']).eligible.has('did:plc:m1')).toBe(true)
  })

  test('the lease is read from that meshlet’s own profile', () => {
    const g2 = graphOf(owned(A, 'did:plc:m1'), owned(A, 'did:plc:m2'))
    const leaseMsOf = (p: Profile) => (p.meshlet === 'did:plc:m2' ? 10 * LEASE : undefined)
    const r = run({ graph: g2, leaseMsOf, lastReceived: agedBy(2 * LEASE) }, ['did:plc:m1', 'did:plc:m2'])
    expect([...r.eligible.keys()]).toEqual(['did:plc:m2'])
    expect(r.excluded.map((e) => e.meshlet)).toEqual(['did:plc:m1'])
  })
})
