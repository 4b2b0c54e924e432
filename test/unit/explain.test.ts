// `meshlet explain` reads the owner's cluster from public records the way a peer follows it, and
// explains placement with the peers' own functions. The reader here is an in-memory stand-in for
// PDSes (the real-network check is in test/integration/trust.test.ts).
import { describe, expect, test } from 'vitest'
import { explainWorkload, ExplainInputError, ownerOf } from '../../src/services/explain.js'
import { formatExplanation } from '../../src/client/explain-command.js'
import { NSID, type Did, type RecordEvent, type SchedulerRecord, type Workload } from '../../src/core/types.js'
import type { PublicRecordReader } from '../../src/ports/public-records.js'
import { workload as workloadFixture } from '../core/fixtures.js'
import { bidPriority } from '../../src/core/priority.js'
import { workloadEpoch } from '../../src/core/epoch.js'

const NOW = Date.parse('2026-06-01T12:00:00.000Z')
const ISO = new Date(NOW).toISOString()

function put(did: Did, rkey: string, record: SchedulerRecord): RecordEvent {
  return { op: 'put', did, collection: record.collection, rkey, uri: `at://${did}/${record.collection}/${rkey}`, cid: `cid-${did}-${rkey}`, record }
}

/** A member: owner repo links its meshlet; the meshlet's repo points back, lists members, has a profile. */
function member(owner: Did, meshlet: Did, members: Did[]): Map<Did, RecordEvent[]> {
  return new Map([
    [owner, [put(owner, meshlet, { collection: NSID.meshlet, value: { owner, meshlet } })]],
    [
      meshlet,
      [
        put(meshlet, 'self', { collection: NSID.meshletOwner, value: { meshlet, owner } }),
        put(meshlet, 'self', { collection: NSID.membership, value: { meshlet, members } }),
        put(meshlet, 'self', {
          collection: NSID.profile,
          value: { meshlet, endpoint: 'http://127.0.0.1:1', roles: ['worker'], labels: [], capabilities: [], cpuMillis: 4000, memoryMb: 8192, updatedAt: ISO },
        }),
      ],
    ],
  ])
}

class FakeReader implements PublicRecordReader {
  readonly reads: Did[] = []
  constructor(
    private readonly repos: Map<Did, RecordEvent[]>,
    private readonly broken = new Set<Did>(),
  ) {}
  async readRepo(did: Did): Promise<RecordEvent[]> {
    this.reads.push(did)
    if (this.broken.has(did)) throw new Error(`PDS for ${did} is unreachable`)
    return this.repos.get(did) ?? []
  }
  async recordExists(uri: string): Promise<boolean> {
    const did = uri.split('/')[2]!
    return (await this.readRepo(did)).some((e) => e.uri === uri && e.op === 'put')
  }
}

const ANN = 'did:plc:ann'
const BEN = 'did:plc:ben'
const CAT = 'did:plc:cat'
const STRANGER = 'did:plc:stranger'

function commune(): Map<Did, RecordEvent[]> {
  const repos = new Map<Did, RecordEvent[]>()
  const add = (m: Map<Did, RecordEvent[]>) => {
    for (const [did, events] of m) repos.set(did, [...(repos.get(did) ?? []), ...events])
  }
  add(member(ANN, 'did:plc:ann-mesh', [BEN, CAT]))
  add(member(BEN, 'did:plc:ben-mesh', [ANN]))
  // cat lists ann, but ann is not listed by... she is: cat is mutual with ann, not with ben
  add(member(CAT, 'did:plc:cat-mesh', [ANN]))
  // a stranger's meshlet lists ann; ann does not list the stranger: never read as a runner
  add(member(STRANGER, 'did:plc:stranger-mesh', [ANN]))
  const w = workloadFixture({ uri: `at://${ANN}/${NSID.workload}/3kw0000000001`, owner: ANN, createdAt: ISO })
  repos.get(ANN)!.push(put(ANN, '3kw0000000001', { collection: NSID.workload, value: w }))
  return repos
}

describe('explain: reading the cluster from public records', () => {
  test('follows the owner, its meshlets, the members they list and their meshlets; never strangers', async () => {
    const reader = new FakeReader(commune())
    const x = await explainWorkload(`at://${ANN}/${NSID.workload}/3kw0000000001`, reader, { now: NOW })
    expect(x.repos).toEqual(['did:plc:ann', 'did:plc:ann-mesh', 'did:plc:ben', 'did:plc:ben-mesh', 'did:plc:cat', 'did:plc:cat-mesh'])
    expect(reader.reads).not.toContain(STRANGER)
    expect(reader.reads.length, 'each repo is read once').toBe(new Set(reader.reads).size)
    expect(x.workload?.name).toBe('web')
    // nobody bid yet: the cluster's meshlets are all there, none excluded
    expect(x.excluded).toEqual([])
    expect(x.holders).toEqual([])
    expect(x.queued).toBe(true)
  })

  test('an unreadable repo is named with its reason, and the rest is still explained', async () => {
    const reader = new FakeReader(commune(), new Set(['did:plc:ben-mesh']))
    const x = await explainWorkload(`at://${ANN}/${NSID.workload}/3kw0000000001`, reader, { now: NOW })
    expect(x.unreadable).toEqual([{ did: 'did:plc:ben-mesh', reason: expect.stringContaining('unreachable') }])
    // without its meshlet's records ben is not (known to be) mutual with ann: it is simply not in the picture
    expect(x.workload?.name).toBe('web')
    expect(x.repos).not.toContain('did:plc:stranger')
    expect(formatExplanation(x)).toContain('could not read did:plc:ben-mesh')
  })

  test('a missing workload says so and lists no holders', async () => {
    const x = await explainWorkload(`at://${ANN}/${NSID.workload}/3kwnothere000`, new FakeReader(commune()), { now: NOW })
    expect(x.workload).toBeUndefined()
    expect(x.rejection).toMatch(/no such record/)
    expect(formatExplanation(x)).toMatch(/not scheduled: no such record/)
  })

  test('input that is not a workload URI is refused with the expected form', () => {
    expect(() => ownerOf('at://did:plc:ann/commune.scheduler.bid/3kw0000000001')).toThrow(ExplainInputError)
    expect(() => ownerOf('did:plc:ann')).toThrow(/at:\/\/<owner did>\/commune\.scheduler\.workload\/<rkey>/)
    expect(ownerOf(`at://${ANN}/${NSID.workload}/3kw0000000001`)).toBe(ANN)
  })
})

describe('explain: bids checked the way every peer checks them', () => {
  test('an honest bid verifies with its recomputed parts; an inflated one is invalid with the recomputed value', async () => {
    const repos = commune()
    const w = (repos.get(ANN)!.find((e) => e.op === 'put' && e.record.collection === NSID.workload) as Extract<RecordEvent, { op: 'put' }>).record.value as Workload
    const capacity = { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' as const }
    const honest = bidPriority({ capacity, totals: { cpuMillis: 4000, memoryMb: 8192 }, need: w.resources, balance: 0n }).priority
    const mkBid = (meshlet: Did, rkey: string, priority: number): RecordEvent =>
      put(meshlet, rkey, { collection: NSID.bid, value: { uri: `at://${meshlet}/${NSID.bid}/${rkey}`, cid: `cid-${meshlet}-${rkey}`, meshlet, rkey, workload: { uri: w.uri, cid: w.cid }, priority, capacity, epoch: workloadEpoch(w), resources: w.resources, createdAt: ISO } })
    repos.get('did:plc:ben-mesh')!.push(mkBid('did:plc:ben-mesh', '3kb0000000001', honest))
    repos.get('did:plc:cat-mesh')!.push(mkBid('did:plc:cat-mesh', '3kb0000000002', 1000))
    const x = await explainWorkload(w.uri, new FakeReader(repos), { now: NOW })
    const ben = x.bids.find((b) => b.meshlet === 'did:plc:ben-mesh')!
    const cat = x.bids.find((b) => b.meshlet === 'did:plc:cat-mesh')!
    expect(ben).toMatchObject({ verified: true, priority: honest, recomputed: { priority: honest, fairShare: 250 } })
    expect(cat.verified).toBe(false)
    expect(cat.problem).toBe(`priority 1000 does not match the recomputed ${honest} = fairShare 250 + fit ${honest - 250}`)
    // placement ignores the inflated bid: ben is next in line, cat's record is an invalid outcome
    expect(x.outcomes.find((o) => o.meshlet === 'did:plc:cat-mesh')).toMatchObject({ outcome: 'invalid' })
    expect(x.outcomes.find((o) => o.meshlet === 'did:plc:ben-mesh')).toMatchObject({ outcome: 'won' })
    expect(x.balances.map((b) => b.owner)).toEqual([ANN, BEN, CAT])
    const text = formatExplanation(x)
    expect(text).toContain(`did:plc:cat-mesh: priority 1000 INVALID: priority 1000 does not match the recomputed ${honest}`)
    expect(text).toMatch(/did:plc:ben-mesh: priority \d+ verified \(recomputed \d+ = fairShare 250 \+ fit \d+, epoch \d+\)/)
  })
})
