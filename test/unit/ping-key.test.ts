// Probes an adversary cannot fake (issue 16 part 3): a ping answer counts only when signed by the
// pingKey of the target's profile, for this nonce, by that DID. A member that forges answers or
// relays a stale one cannot keep a dead peer alive; the prober then writes its one suspicion.
import { describe, expect, test } from 'vitest'
import { PingSigner, pingAnswerProblem } from '../../src/adapters/crypto/ping-key.js'
import { Prober } from '../../src/services/prober.js'
import { CommuneView } from '../../src/core/view.js'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { NSID, type Did, type MeshletLink, type MeshletOwnerClaim, type Membership, type Profile } from '../../src/core/types.js'
import type { RecordWriter } from '../../src/services/record-writer.js'
import { createLogger } from '../../src/logger.js'

const T = 'did:plc:target'
const H = 'did:plc:helper'
const P = 'did:plc:prober'
const NONCE = 'n'.repeat(32)

describe('pingAnswerProblem', () => {
  test('the target signs; a forged key, another nonce or another DID is no answer', async () => {
    const target = await PingSigner.create(T)
    const liar = await PingSigner.create(T) // a member making up answers "as" T with its own key
    const a = target.answer(NONCE, Date.now())
    expect(await pingAnswerProblem(a, { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBeUndefined()
    expect(await pingAnswerProblem(liar.answer(NONCE, Date.now()), { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBe('the signature does not verify with the pingKey of its profile')
    expect(await pingAnswerProblem(target.answer('o'.repeat(32), Date.now()), { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBe('the answer is for another nonce (stale or replayed)')
    expect(await pingAnswerProblem(a, { meshlet: H, nonce: NONCE, pingKey: target.publicKey })).toBe(`the answer is from ${T}, not ${H}`)
    // a nonce swapped into an old signed answer: the signature covers the nonce
    expect(await pingAnswerProblem({ ...target.answer('o'.repeat(32), Date.now()), nonce: NONCE }, { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBe('the signature does not verify with the pingKey of its profile')
    expect(await pingAnswerProblem({ ...a, time: new Date(0).toISOString() }, { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBe('the signature does not verify with the pingKey of its profile')
    expect(await pingAnswerProblem(null, { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBe('the answer is not an object')
    expect(await pingAnswerProblem({ meshlet: T }, { meshlet: T, nonce: NONCE, pingKey: target.publicKey })).toBe('the answer lacks meshlet, nonce, time or sig')
  })
})

/** A prober P in a commune of three owners, each with one meshlet answering probes. */
async function commune(handlers: Record<string, (url: URL) => unknown>, monoStep = 1000) {
  const view = new CommuneView()
  const signers = new Map<Did, PingSigner>()
  for (const m of [T, H, P]) signers.set(m, await PingSigner.create(m))
  const owners = { [T]: 'did:plc:ot', [H]: 'did:plc:oh', [P]: 'did:plc:op' } as Record<Did, Did>
  const all = Object.values(owners)
  for (const m of [T, H, P]) {
    const profile: Profile = { meshlet: m, endpoint: `http://${m.split(':')[2]}.test`, roles: [], labels: [], capabilities: [], cpuMillis: 1000, memoryMb: 1024, updatedAt: new Date().toISOString(), pingKey: signers.get(m)!.publicKey }
    view.apply({ op: 'put', did: m, collection: NSID.profile, rkey: 'self', uri: `at://${m}/${NSID.profile}/self`, cid: `c-${m}`, record: { collection: NSID.profile, value: profile } }, 0)
  }
  const graph = buildClusterGraph({
    links: [T, H, P].map((m) => ({ owner: owners[m], meshlet: m })) as MeshletLink[],
    owners: [T, H, P].map((m) => ({ meshlet: m, owner: owners[m] })) as MeshletOwnerClaim[],
    memberships: [T, H, P].map((m) => ({ meshlet: m, members: all })) as Membership[],
  })
  const writes: { collection: string; rkey: string; value: unknown }[] = []
  const writer = { put: async (collection: string, rkey: string, value: unknown) => (writes.push({ collection, rkey, value }), { uri: '', cid: '' }) } as unknown as RecordWriter
  const fetchFake = (async (input: string | URL | Request) => {
    const url = new URL(String(input))
    const h = handlers[`${url.hostname}${url.pathname}`]
    const body = h?.(url)
    if (body === undefined) throw new Error('connection refused')
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
  }) as typeof fetch
  let mono = 0
  const prober = new Prober({
    self: P,
    owner: owners[P]!,
    view,
    graph: () => graph,
    writer,
    clock: { now: () => Date.now(), monotonic: () => (mono += monoStep) },
    log: createLogger('test'),
    periodMs: 1000,
    timeoutMs: 200,
    indirect: 2,
    gapMs: 30_000,
    heardSince: () => true,
    fetch: fetchFake,
    verify: pingAnswerProblem,
  })
  return { prober, signers, writes, target: () => prober.targets().find((t) => t.meshlet === T)! }
}

describe('Prober against lying helpers', () => {
  test('a live target answers directly: no suspicion', async () => {
    const c = await commune({ 'target.test/xrpc/farm.meshlet.ping': (u) => c.signers.get(T)!.answer(u.searchParams.get('nonce')!, Date.now()) })
    expect(await c.prober.reaches(c.target(), c.prober.targets())).toBe(true)
  })
  test('a live target behind a broken direct path is reached through an honest helper', async () => {
    const c = await commune({ 'helper.test/xrpc/farm.meshlet.probe': (u) => c.signers.get(T)!.answer(u.searchParams.get('nonce')!, Date.now()) })
    expect(await c.prober.reaches(c.target(), c.prober.targets())).toBe(true)
  })
  test('a dead target: a helper forging its answer, or relaying a stale one, does not keep it alive', async () => {
    const stale = (await PingSigner.create(T)).answer('s'.repeat(32), Date.now())
    const liar = await PingSigner.create(T) // signs "as" the target with a key of its own
    for (const lie of [(u: URL) => liar.answer(u.searchParams.get('nonce')!, Date.now()), () => stale, (u: URL) => ({ ...stale, nonce: u.searchParams.get('nonce') })]) {
      const c = await commune({ 'helper.test/xrpc/farm.meshlet.probe': lie, 'helper.test/xrpc/farm.meshlet.ping': (u) => c.signers.get(H)!.answer(u.searchParams.get('nonce')!, Date.now()) })
      expect(await c.prober.reaches(c.target(), c.prober.targets())).toBe(false)
      // and a full round writes exactly one suspicion: of the target, not of the (live) helper
      await c.prober.tick()
      await c.prober.tick()
      expect(c.writes).toEqual([{ collection: NSID.suspicion, rkey: T, value: expect.objectContaining({ $type: NSID.suspicion, subject: T }) }])
    }
  })
  test('one suspicion per target per gap, however often its probes fail', async () => {
    const c = await commune({})
    for (let i = 0; i < 10; i++) await c.prober.tick()
    // two targets, both dead: one suspicion each, then the budget
    expect(c.writes.map((w) => w.rkey).sort()).toEqual([H, T].sort())
  })
})

test('a prober whose own process lagged through the timeouts writes no suspicion (a loaded host is not a dead target)', async () => {
  const c = await commune({}, 10_000)
  expect(await c.prober.tick()).toBe('lagging')
  expect(await c.prober.tick()).toBe('lagging')
  expect(c.writes).toEqual([])
})
