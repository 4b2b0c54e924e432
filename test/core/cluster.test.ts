import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { buildClusterGraph, type ClusterGraph, type ClusterGraphInput } from '../../src/core/cluster.js'
import type { Did } from '../../src/core/types.js'

// Owners are did:plc:a..; meshlets are did:plc:m-<owner><n>.
const A = 'did:plc:a'
const B = 'did:plc:b'
const C = 'did:plc:c'
const D = 'did:plc:d'
const mA = 'did:plc:m-a1'
const mA2 = 'did:plc:m-a2'
const mB = 'did:plc:m-b1'
const mC = 'did:plc:m-c1'
const mD = 'did:plc:m-d1'

type Rec =
  | { t: 'link'; owner: Did; meshlet: Did }
  | { t: 'claim'; meshlet: Did; owner: Did }
  | { t: 'members'; meshlet: Did; members: Did[] }

const link = (owner: Did, meshlet: Did): Rec => ({ t: 'link', owner, meshlet })
const claim = (meshlet: Did, owner: Did): Rec => ({ t: 'claim', meshlet, owner })
const members = (meshlet: Did, ...ms: Did[]): Rec => ({ t: 'members', meshlet, members: ms })
/** A meshlet linked both ways to its owner, listing `ms`. */
const owned = (owner: Did, meshlet: Did, ...ms: Did[]): Rec[] => [link(owner, meshlet), claim(meshlet, owner), members(meshlet, ...ms)]

function input(recs: Rec[]): ClusterGraphInput {
  const out: ClusterGraphInput & { links: any[]; owners: any[]; memberships: any[] } = { links: [], owners: [], memberships: [] }
  for (const r of recs) {
    if (r.t === 'link') out.links.push({ owner: r.owner, meshlet: r.meshlet })
    else if (r.t === 'claim') out.owners.push({ meshlet: r.meshlet, owner: r.owner })
    else out.memberships.push({ meshlet: r.meshlet, members: r.members })
  }
  return out
}
const graph = (recs: Rec[]): ClusterGraph => buildClusterGraph(input(recs))

describe('ownership verification', () => {
  test.each([
    { name: 'both records point at each other', recs: owned(A, mA), owner: A },
    { name: 'only the owner claims it', recs: [link(A, mA)], owner: undefined },
    { name: 'only the meshlet claims the owner (spoof)', recs: [claim(mA, A)], owner: undefined },
    { name: 'owner claims a meshlet that names someone else', recs: [link(A, mA), claim(mA, B)], owner: undefined },
    { name: 'the named owner also claims it', recs: [link(A, mA), link(B, mA), claim(mA, B)], owner: B },
    { name: 'conflicting meshletOwner records', recs: [link(A, mA), claim(mA, A), claim(mA, B), link(B, mA)], owner: undefined },
  ])('$name', ({ recs, owner }) => {
    expect(graph(recs).ownerOf(mA)).toBe(owner)
  })

  test('an owner may have several meshlets; only verified ones count, sorted', () => {
    const g = graph([...owned(A, mA2), ...owned(A, mA), link(A, 'did:plc:m-a3')])
    expect(g.meshletsOf(A)).toEqual([mA, mA2])
    expect(g.claimedBy(A)).toEqual([mA, mA2, 'did:plc:m-a3'])
    expect(g.meshletsOf(B)).toEqual([])
  })

  test('a spoofed claim is reported with a reason naming both sides', () => {
    const g = graph([claim(mB, A), ...owned(A, mA)])
    expect(g.ownerOf(mB)).toBeUndefined()
    expect(g.problems()).toContainEqual({
      did: mB,
      reason: `${mB} claims owner ${A}, but ${A} does not list it as a meshlet (possible spoof; not verified)`,
    })
  })

  test('an owner claiming a meshlet that names another owner is reported', () => {
    const g = graph([link(A, mB), ...owned(B, mB)])
    expect(g.ownerOf(mB)).toBe(B)
    expect(g.meshletsOf(A)).toEqual([])
    expect(g.problems()).toContainEqual({ did: A, reason: `${A} claims meshlet ${mB}, but ${mB} names ${B} as its owner` })
  })

  test('a claimed meshlet without its meshletOwner record yet is reported', () => {
    expect(graph([link(A, mA)]).problems()).toEqual([
      { did: A, reason: `${A} claims meshlet ${mA}, but ${mA} has no meshletOwner record yet` },
    ])
  })
})

describe('mutual verification', () => {
  test.each([
    { name: 'each lists the other', recs: [...owned(A, mA, B), ...owned(B, mB, A)], mutual: true },
    { name: 'one-way membership', recs: [...owned(A, mA, B), ...owned(B, mB)], mutual: false },
    { name: 'neither lists', recs: [...owned(A, mA), ...owned(B, mB)], mutual: false },
    { name: 'listing from an unverified meshlet of B', recs: [...owned(A, mA, B), claim(mB, B), members(mB, A)], mutual: false },
    { name: 'listing from a spoofed meshlet of B', recs: [...owned(A, mA, B), link(B, mB), claim(mB, C), members(mB, A)], mutual: false },
    { name: 'listing through a second meshlet of A', recs: [...owned(A, mA), ...owned(A, mA2, B), ...owned(B, mB, A)], mutual: true },
    { name: 'a meshlet listing its own owner does not help', recs: [...owned(A, mA, A, B), ...owned(B, mB, B)], mutual: false },
  ])('$name -> $mutual', ({ recs, mutual }) => {
    const g = graph(recs)
    expect(g.mutual(A, B)).toBe(mutual)
    expect(g.mutual(B, A)).toBe(mutual)
    expect(g.activeCluster(A)).toEqual(mutual ? [B] : [])
  })

  test('an owner is mutual with itself but not in its own active cluster', () => {
    const g = graph([...owned(A, mA, A, B), ...owned(B, mB, A)])
    expect(g.mutual(A, A)).toBe(true)
    expect(g.activeCluster(A)).toEqual([B])
  })

  test('one-way membership is reported in words', () => {
    const g = graph([...owned(A, mA, B), ...owned(B, mB)])
    expect(g.problems()).toEqual([{ did: A, reason: `${A} lists ${B}, but no meshlet of ${B} lists ${A}` }])
  })

  test('removing a membership ends the mutual relation', () => {
    const before = [...owned(A, mA, B), ...owned(B, mB, A)]
    expect(graph(before).mutual(A, B)).toBe(true)
    const after = before.map((r) => (r.t === 'members' && r.meshlet === mB ? members(mB) : r))
    const g = graph(after)
    expect(g.mutual(A, B)).toBe(false)
    expect(g.activeCluster(B)).toEqual([])
    expect(g.problems().map((p) => p.reason)).toContain(`${A} lists ${B}, but no meshlet of ${B} lists ${A}`)
  })

  test('unlinking a meshlet ends the mutual relation', () => {
    const g = graph([...owned(A, mA, B), claim(mB, B), members(mB, A)])
    expect(g.mutual(A, B)).toBe(false)
    expect(g.membersOf(mB)).toEqual([])
    expect(g.problems()).toContainEqual({ did: mB, reason: `membership of ${mB} is ignored: its ownership is not verified` })
  })

  test('overlapping clusters: A-B and B-C mutual, A and C stay apart', () => {
    const g = graph([...owned(A, mA, B), ...owned(B, mB, A, C), ...owned(C, mC, B)])
    expect(g.activeCluster(B)).toEqual([A, C])
    expect(g.activeCluster(A)).toEqual([B])
    expect(g.activeCluster(C)).toEqual([B])
    expect(g.mutual(A, C)).toBe(false)
    expect(g.problems()).toEqual([])
  })
})

describe('trackedRepos', () => {
  // A (self) configured with B. B is mutual with C (2 hops). D is unrelated. B also lists E (no reply yet).
  const E = 'did:plc:e'
  const recs = [
    ...owned(A, mA, B),
    ...owned(B, mB, A, C, E),
    ...owned(C, mC, B),
    ...owned(D, mD, C),
    link(B, 'did:plc:m-b-pending'),
    link(E, 'did:plc:m-e1'),
  ]

  test('self, members, 2-hop mutual owners, candidates and all their claimed meshlets', () => {
    expect(graph(recs).trackedRepos(A, [B])).toEqual(
      [A, B, C, E, mA, mB, 'did:plc:m-b-pending', mC, 'did:plc:m-e1'].sort(),
    )
  })

  test('a configured member that is not (yet) mutual is still followed, with its meshlets', () => {
    const repos = graph([...owned(A, mA), ...owned(D, mD)]).trackedRepos(A, [D, D])
    expect(repos).toEqual([A, D, mA, mD].sort())
  })

  test('the cap keeps self and members first and reports what it dropped', () => {
    const g = graph(recs)
    const plan = g.planTrackedRepos(A, [B], 3)
    expect(plan.repos).toEqual([A, B, mA].sort())
    expect(plan.omitted).toEqual([C, E, mB, 'did:plc:m-b-pending', mC, 'did:plc:m-e1'].sort())
    expect(g.trackedRepos(A, [B], 3)).toEqual(plan.repos)
  })
})

describe('graph results do not depend on record order', () => {
  const dids = [A, B, C, mA, mA2, mB, mC]
  const recArb = fc.oneof(
    fc.record({ t: fc.constant('link' as const), owner: fc.constantFrom(A, B, C), meshlet: fc.constantFrom(mA, mA2, mB, mC) }),
    fc.record({ t: fc.constant('claim' as const), meshlet: fc.constantFrom(mA, mA2, mB, mC), owner: fc.constantFrom(A, B, C) }),
    fc.record({
      t: fc.constant('members' as const),
      meshlet: fc.constantFrom(mA, mA2, mB, mC),
      members: fc.uniqueArray(fc.constantFrom(A, B, C), { maxLength: 3 }),
    }),
  )
  const snapshot = (g: ClusterGraph) => ({
    owners: dids.map((d) => g.ownerOf(d)),
    meshlets: dids.map((d) => g.meshletsOf(d)),
    clusters: dids.map((d) => g.activeCluster(d)),
    mutual: dids.flatMap((a) => dids.map((b) => g.mutual(a, b))),
    problems: g.problems(),
    tracked: g.trackedRepos(A, [B]),
  })

  test('shuffling the records changes nothing', () => {
    fc.assert(
      fc.property(fc.array(recArb, { maxLength: 16 }).chain((recs) => fc.tuple(fc.constant(recs), fc.shuffledSubarray(recs, { minLength: recs.length, maxLength: recs.length }))), ([recs, shuffled]) => {
        expect(snapshot(graph(shuffled))).toEqual(snapshot(graph(recs)))
      }),
      { numRuns: 300 },
    )
  })

  test('mutual is symmetric and active clusters agree with it', () => {
    fc.assert(
      fc.property(fc.array(recArb, { maxLength: 16 }), (recs) => {
        const g = graph(recs)
        for (const a of [A, B, C]) {
          for (const b of [A, B, C]) expect(g.mutual(a, b)).toBe(g.mutual(b, a))
          expect(g.activeCluster(a)).toEqual([A, B, C].filter((b) => b !== a && g.mutual(a, b)))
        }
      }),
      { numRuns: 300 },
    )
  })
})
