// Service auth and authorisation on a real XRPC server, with real accounts on a real PLC + PDS:
// every token here is minted by a PDS (getServiceAuth) or signed with a real or foreign key.
// Identity fetches are counted at the HTTP layer of the resolver (issue 17: a stranger's token must
// never cost a fetch).
import v8 from 'node:v8'
import vm from 'node:vm'
import { Secp256k1Keypair, type Keypair } from '@atproto/crypto'
import { createServiceJwt } from '@atproto/xrpc-server'
import { AtprotoIdentityResolver } from '../../src/adapters/atproto/identity.js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevNetwork, type DevAccount } from '../../src/devnet/network.js'
import type { ControlPlane, WorkloadStatusView } from '../../src/ports/control-plane.js'
import { WorkloadNotFoundError } from '../../src/ports/control-plane.js'
import { createXrpcServer, type ListeningXrpcServer } from '../../src/xrpc/server.js'

let net: DevNetwork
let server: ListeningXrpcServer | undefined
let meshlet: DevAccount
let owner: DevAccount
let member: DevAccount
let stranger: DevAccount
let workloadUri: string
let unknownUri: string
let identity: AtprotoIdentityResolver
/** Outbound identity (PLC / did:web) requests made by the server's resolver. */
let identityFetches = 0
/** What the control plane was asked to do: a refused call must never get here. */
const acted: string[] = []

function testControlPlane(): ControlPlane {
  const status = (uri: string): WorkloadStatusView => ({ uri, state: 'running', valid: true, replicas: [], bids: [] })
  const act = (op: string) => async (uri: string) => {
    if (uri !== workloadUri) throw new WorkloadNotFoundError(uri)
    acted.push(`${op} ${uri}`)
    return { state: op === 'pause' ? 'paused' : op === 'resume' ? 'running' : 'stopped' }
  }
  return {
    meshletDid: meshlet.did,
    ownerDid: owner.did,
    isClusterMember: (did) => did === owner.did || did === member.did,
    workloadOwner: (uri) => (uri === workloadUri ? owner.did : undefined),
    capacity: async () => ({
      meshlet: meshlet.did,
      cpuMillis: 2000,
      memoryMb: 4096,
      cpuMillisFree: 1500,
      memoryMbFree: 3000,
      cpuMillisCommitted: 500,
      memoryMbCommitted: 1096,
      loadPermille: 250,
      onBattery: false,
      thermal: 'nominal',
      running: 1,
      accepting: true,
    }),
    listWorkloads: () => [{ uri: workloadUri, owner: owner.did, name: 'web', image: 'meshlet/busybox:test', state: 'running' }],
    workloadStatus: (uri) => {
      if (uri !== workloadUri) throw new WorkloadNotFoundError(uri)
      return status(uri)
    },
    deleteWorkload: act('delete'),
    pauseWorkload: act('pause'),
    resumeWorkload: act('resume'),
    stopWorkload: act('stop'),
    logs: async (uri) => {
      if (uri !== workloadUri) throw new WorkloadNotFoundError(uri)
      acted.push(`logs ${uri}`)
      return { uri, lines: [{ stream: 'stdout', text: 'hello' }] }
    },
    shutdown: async ({ drain }) => {
      acted.push(`shutdown drain=${drain}`)
      return { accepted: true, handedOver: 0 }
    },
    evictWorkload: async (uri, { undo }) => {
      acted.push(`evict${undo ? ' undo' : ''} ${uri}`)
      return undo ? { evicted: false, state: 'allowed' } : { evicted: true, state: 'stopped' }
    },
  }
}

beforeAll(async () => {
  net = await DevNetwork.create({ pdsCount: 2 })
  meshlet = await net.createAccount('meshlet', 0)
  owner = await net.createAccount('owner', 0)
  member = await net.createAccount('member', 1)
  stranger = await net.createAccount('stranger', 1)
  workloadUri = `at://${owner.did}/commune.scheduler.workload/3lwebworkload`
  unknownUri = `at://${owner.did}/commune.scheduler.workload/3lnosuchthing`
  const countingFetch: typeof fetch = (input, init) => {
    identityFetches++
    return globalThis.fetch(input, init)
  }
  identity = new AtprotoIdentityResolver({ plcUrl: net.plcUrl, allowInsecureHttp: true, fetch: countingFetch })
  const xrpc = createXrpcServer({
    control: testControlPlane(),
    idResolver: identity.idResolver,
    // The flood below comes from one address (loopback): this server's per-address limit is out of
    // its way, so the flood measures the membership check; the limits have their own servers below.
    limits: { perAddress: { points: 1_000_000, windowSec: 60 } },
  })
  server = await xrpc.listen(0, '127.0.0.1')
})

afterAll(async () => {
  await server?.close()
  await net?.close()
})

async function serviceToken(caller: DevAccount, lxm: string | undefined, opts: { aud?: string; exp?: number } = {}): Promise<string> {
  const res = await caller.agent.com.atproto.server.getServiceAuth({ aud: opts.aud ?? meshlet.did, lxm, exp: opts.exp })
  return res.data.token
}

/** The account's real signing key, held by its PDS: tokens signed with it are genuine. */
async function realKeypair(account: DevAccount): Promise<Keypair> {
  const pds = net.pdses.find((p) => p.url === account.pds)!
  return pds.server.ctx.actorStore.keypair(account.did)
}

type Method = { nsid: string; kind: 'query' | 'procedure'; params?: Record<string, string>; body?: Record<string, unknown> }

type Answer = { status: number; body: { error?: string; message?: string } & Record<string, unknown>; headers: Headers }

async function call(m: Method, token?: string, url = server!.url): Promise<Answer> {
  const qs = m.params ? `?${new URLSearchParams(m.params)}` : ''
  const res = await fetch(`${url}/xrpc/${m.nsid}${qs}`, {
    method: m.kind === 'query' ? 'GET' : 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(m.kind === 'procedure' ? { 'content-type': 'application/json' } : {}),
    },
    body: m.kind === 'procedure' ? JSON.stringify(m.body ?? {}) : undefined,
  })
  return { status: res.status, body: (await res.json()) as { error?: string }, headers: res.headers }
}

const getCapacity: Method = { nsid: 'farm.meshlet.getCapacity', kind: 'query' }
const methods = (): Method[] => [
  getCapacity,
  { nsid: 'farm.meshlet.listWorkloads', kind: 'query' },
  { nsid: 'farm.meshlet.getWorkloadStatus', kind: 'query', params: { uri: workloadUri } },
  { nsid: 'farm.meshlet.getLogs', kind: 'query', params: { uri: workloadUri } },
  { nsid: 'farm.meshlet.deleteWorkload', kind: 'procedure', body: { uri: workloadUri } },
  { nsid: 'farm.meshlet.pauseWorkload', kind: 'procedure', body: { uri: workloadUri } },
  { nsid: 'farm.meshlet.resumeWorkload', kind: 'procedure', body: { uri: workloadUri } },
  { nsid: 'farm.meshlet.stopWorkload', kind: 'procedure', body: { uri: workloadUri } },
  { nsid: 'farm.meshlet.shutdown', kind: 'procedure', body: { drain: true } },
  { nsid: 'farm.meshlet.evictWorkload', kind: 'procedure', body: { uri: workloadUri } },
]
const NSIDS = [
  'farm.meshlet.getCapacity',
  'farm.meshlet.listWorkloads',
  'farm.meshlet.getWorkloadStatus',
  'farm.meshlet.getLogs',
  'farm.meshlet.deleteWorkload',
  'farm.meshlet.pauseWorkload',
  'farm.meshlet.resumeWorkload',
  'farm.meshlet.stopWorkload',
  'farm.meshlet.shutdown',
  'farm.meshlet.evictWorkload',
]
const method = (nsid: string) => methods().find((m) => m.nsid === nsid)!

describe('authentication', () => {
  test.each(NSIDS)('%s without a token: 401 AuthRequired, nothing done', async (nsid) => {
    const before = acted.length
    const res = await call(method(nsid))
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toContain('getServiceAuth')
    expect(acted.length).toBe(before)
  })

  test.each([
    ['not a JWT', 'not-a-token'],
    ['three parts of garbage', 'abc.def.ghi'],
    ['a JSON payload missing claims', `${Buffer.from('{"alg":"ES256K"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.sig`],
  ])('a malformed token (%s): 401 AuthRequired', async (_name, token) => {
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toMatch(/malformed/)
  })

  test('the PDS refuses to mint a token that is already expired', async () => {
    await expect(serviceToken(owner, getCapacity.nsid, { exp: Math.floor(Date.now() / 1000) - 60 })).rejects.toThrow(/past/)
  })

  test('an expired token signed with the issuer’s real key: 401 saying when it expired', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await createServiceJwt({
      iss: owner.did,
      aud: meshlet.did,
      lxm: getCapacity.nsid,
      iat: now - 120,
      exp: now - 60,
      keypair: await realKeypair(owner),
    })
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toContain(`service auth token expired at ${new Date((now - 60) * 1000).toISOString()}`)
  })

  test('a short-lived token from the PDS works, then stops working once it expires', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2
    const token = await serviceToken(owner, getCapacity.nsid, { exp })
    const fresh = await call(getCapacity, token)
    expect(fresh.status).toBe(200)
    // Wait on the condition (the clock passing exp), not a fixed sleep.
    while (Date.now() / 1000 <= exp + 0.5) await new Promise((r) => setTimeout(r, 200))
    const stale = await call(getCapacity, token)
    expect(stale.status).toBe(401)
    expect(stale.body.error).toBe('AuthRequired')
    expect(stale.body.message).toMatch(/expired at/)
  })

  test('a token for another service (wrong aud): 401 naming both DIDs', async () => {
    const token = await serviceToken(owner, getCapacity.nsid, { aud: stranger.did })
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toBe(`token is for ${stranger.did}, this meshlet is ${meshlet.did}`)
  })

  test('a token for another method (wrong lxm): 401 naming both methods', async () => {
    const token = await serviceToken(owner, 'farm.meshlet.listWorkloads')
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toBe('token is for method farm.meshlet.listWorkloads, not farm.meshlet.getCapacity')
  })

  test('a token without lxm: 401 asking for one', async () => {
    const token = await serviceToken(owner, undefined)
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.message).toContain('no lxm')
  })

  test('a token signed by a key that is not in the issuer’s DID document: 401', async () => {
    const token = await createServiceJwt({
      iss: owner.did,
      aud: meshlet.did,
      lxm: getCapacity.nsid,
      keypair: await Secp256k1Keypair.create(),
    })
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toBe(`token signature does not match the signing key in ${owner.did}'s DID document`)
  })

  test('a token from a DID outside the cluster (even one that does not exist): 403, and its DID document is never fetched', async () => {
    const before = identityFetches
    for (const iss of ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', stranger.did]) {
      const token = await createServiceJwt({ iss, aud: meshlet.did, lxm: getCapacity.nsid, keypair: await Secp256k1Keypair.create() })
      const res = await call(getCapacity, token)
      expect(res.status).toBe(403)
      expect(res.body.error).toBe('Forbidden')
      expect(res.body.message).toBe(
        `${iss} is not in this meshlet's cluster: only its owner, members of its cluster and their meshlets may call ${getCapacity.nsid} (the token was not checked further)`,
      )
    }
    // A genuine token of the stranger, minted by its PDS, is refused the same way.
    const genuine = await call(getCapacity, await serviceToken(stranger, getCapacity.nsid))
    expect(genuine.status).toBe(403)
    expect(identityFetches).toBe(before)
  })

  test('an iss with a #service fragment is authorised as the account', async () => {
    const token = await createServiceJwt({
      iss: `${owner.did}#atproto`,
      aud: meshlet.did,
      lxm: 'farm.meshlet.pauseWorkload',
      keypair: await realKeypair(owner),
    })
    const res = await call(method('farm.meshlet.pauseWorkload'), token)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ uri: workloadUri, state: 'paused' })
  })
})

describe('authorisation', () => {
  test.each([
    ['farm.meshlet.getCapacity', 'member'],
    ['farm.meshlet.listWorkloads', 'member'],
    ['farm.meshlet.getWorkloadStatus', 'member'],
    ['farm.meshlet.getCapacity', 'owner'],
    ['farm.meshlet.getLogs', 'owner'],
    ['farm.meshlet.stopWorkload', 'owner'],
    ['farm.meshlet.deleteWorkload', 'owner'],
    ['farm.meshlet.shutdown', 'owner'],
  ])('%s is allowed to the %s', async (nsid, who) => {
    const caller = who === 'owner' ? owner : member
    const res = await call(method(nsid), await serviceToken(caller, nsid))
    expect(res.status).toBe(200)
  })

  test.each(['farm.meshlet.getCapacity', 'farm.meshlet.listWorkloads', 'farm.meshlet.getWorkloadStatus'])(
    '%s by a non-member: 403 Forbidden',
    async (nsid) => {
      const res = await call(method(nsid), await serviceToken(stranger, nsid))
      expect(res.status).toBe(403)
      expect(res.body.error).toBe('Forbidden')
      expect(res.body.message).toContain(`${stranger.did} is not in this meshlet's cluster`)
    },
  )

  test.each([
    ['farm.meshlet.deleteWorkload', 'delete'],
    ['farm.meshlet.pauseWorkload', 'pause'],
    ['farm.meshlet.resumeWorkload', 'resume'],
    ['farm.meshlet.stopWorkload', 'stop'],
    ['farm.meshlet.getLogs', 'read the logs of'],
  ])('%s on someone else’s workload, by a cluster member: 403 and nothing happens', async (nsid, verb) => {
    const before = [...acted]
    const res = await call(method(nsid), await serviceToken(member, nsid))
    expect(res.status).toBe(403)
    expect(res.body.error).toBe('Forbidden')
    expect(res.body.message).toBe(`only the workload's owner ${owner.did} may ${verb} it`)
    expect(acted).toEqual(before)
  })

  test('shutdown by anyone but the meshlet’s owner: 403, the peer keeps running', async () => {
    const shutdowns = () => acted.filter((a) => a.startsWith('shutdown')).length
    const before = shutdowns()
    for (const caller of [member, meshlet]) {
      const res = await call(method('farm.meshlet.shutdown'), await serviceToken(caller, 'farm.meshlet.shutdown'))
      expect(res.status).toBe(403)
      expect(res.body.error).toBe('Forbidden')
      expect(res.body.message).toBe(`only this meshlet's owner ${owner.did} may shut it down`)
    }
    const outsider = await call(method('farm.meshlet.shutdown'), await serviceToken(stranger, 'farm.meshlet.shutdown'))
    expect(outsider.status).toBe(403)
    expect(outsider.body.message).toContain(`${stranger.did} is not in this meshlet's cluster`)
    expect(shutdowns()).toBe(before)
  })

  test('evictWorkload: the meshlet’s owner only; a member, the workload’s owner elsewhere or the meshlet itself get 403 and nothing is evicted', async () => {
    const evict = method('farm.meshlet.evictWorkload')
    const evictions = () => acted.filter((a) => a.startsWith('evict'))
    const before = evictions().length
    for (const caller of [member, meshlet]) {
      const res = await call(evict, await serviceToken(caller, evict.nsid))
      expect(res.status).toBe(403)
      expect(res.body.error).toBe('Forbidden')
      expect(res.body.message).toBe(`only this meshlet's owner ${owner.did} may evict workloads from it`)
    }
    expect(evictions().length).toBe(before)
    const ok = await call(evict, await serviceToken(owner, evict.nsid))
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual({ uri: workloadUri, evicted: true, state: 'stopped' })
    const undo = await call({ ...evict, body: { uri: workloadUri, undo: true } }, await serviceToken(owner, evict.nsid))
    expect(undo.body).toEqual({ uri: workloadUri, evicted: false, state: 'allowed' })
    expect(evictions().slice(before)).toEqual([`evict ${workloadUri}`, `evict undo ${workloadUri}`])
  })

  test('an unknown workload: 404 WorkloadNotFound for its owner, 403 for anyone else (they learn nothing)', async () => {
    const stop = { nsid: 'farm.meshlet.stopWorkload', kind: 'procedure' as const, body: { uri: unknownUri } }
    const mine = await call(stop, await serviceToken(owner, stop.nsid))
    expect(mine.status).toBe(404)
    expect(mine.body.error).toBe('WorkloadNotFound')
    const theirs = await call(stop, await serviceToken(member, stop.nsid))
    expect(theirs.status).toBe(403)
    expect(theirs.body.error).toBe('Forbidden')

    const status = { nsid: 'farm.meshlet.getWorkloadStatus', kind: 'query' as const, params: { uri: unknownUri } }
    const outsider = await call(status, await serviceToken(stranger, status.nsid))
    expect(outsider.status).toBe(403)
    const insider = await call(status, await serviceToken(member, status.nsid))
    expect(insider.status).toBe(404)
    expect(insider.body.error).toBe('WorkloadNotFound')
  })
})

/** Signs `payload` as a JWT with `keypair` exactly as given: for claims createServiceJwt always sets (iat, jti). */
async function signRaw(payload: Record<string, unknown>, keypair: Keypair): Promise<string> {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const head = `${b64({ typ: 'JWT', alg: keypair.jwtAlg })}.${b64(payload)}`
  const sig = Buffer.from(await keypair.sign(Buffer.from(head, 'utf8'))).toString('base64url')
  return `${head}.${sig}`
}

const nowSec = () => Math.floor(Date.now() / 1000)

describe('token rules (issue 17)', () => {
  test('a long-lived token minted by the PDS (50 min) is refused: 401 naming the cap', async () => {
    const token = await serviceToken(owner, getCapacity.nsid, { exp: nowSec() + 3000 })
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
    expect(res.body.message).toMatch(/^token is valid for 300\d s \(iat .* to exp .*\); this meshlet accepts at most 300 s/)
  })

  test('the lifetime cap is inclusive: exp - iat = 300 s is accepted, 301 s refused', async () => {
    const keypair = await realKeypair(owner)
    const iat = nowSec()
    const ok = await createServiceJwt({ iss: owner.did, aud: meshlet.did, lxm: getCapacity.nsid, iat, exp: iat + 300, keypair })
    expect((await call(getCapacity, ok)).status).toBe(200)
    const tooLong = await createServiceJwt({ iss: owner.did, aud: meshlet.did, lxm: getCapacity.nsid, iat, exp: iat + 301, keypair })
    const res = await call(getCapacity, tooLong)
    expect(res.status).toBe(401)
    expect(res.body.message).toContain('valid for 301 s')
  })

  test('a token issued in the future is refused beyond 30 s of skew, accepted within it', async () => {
    const keypair = await realKeypair(owner)
    const ahead = await createServiceJwt({ iss: owner.did, aud: meshlet.did, lxm: getCapacity.nsid, iat: nowSec() + 120, exp: nowSec() + 180, keypair })
    const res = await call(getCapacity, ahead)
    expect(res.status).toBe(401)
    expect(res.body.message).toMatch(/^token was issued in the future \(iat .*, 1[12]\d s ahead of this meshlet's clock; 30 s of clock skew is tolerated\)$/)
    const skewed = await createServiceJwt({ iss: owner.did, aud: meshlet.did, lxm: getCapacity.nsid, iat: nowSec() + 20, exp: nowSec() + 80, keypair })
    expect((await call(getCapacity, skewed)).status).toBe(200)
  })

  test('a token without iat, signed with the issuer’s real key: 401', async () => {
    const token = await signRaw({ iss: owner.did, aud: meshlet.did, lxm: getCapacity.nsid, exp: nowSec() + 60, jti: 'a1' }, await realKeypair(owner))
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.message).toContain('token has no iat (issued-at) claim')
  })

  test('a procedure token is accepted once: the replay is refused and nothing is done twice', async () => {
    const stop = method('farm.meshlet.stopWorkload')
    const token = await serviceToken(owner, stop.nsid)
    const before = acted.length
    const first = await call(stop, token)
    expect(first.status).toBe(200)
    const replay = await call(stop, token)
    expect(replay.status).toBe(401)
    expect(replay.body.error).toBe('AuthRequired')
    expect(replay.body.message).toMatch(/^this token was already used \(jti [0-9a-f]+\); a token for farm.meshlet.stopWorkload works once/)
    expect(acted.length).toBe(before + 1)
    // Queries change nothing: their token may be reused until it expires (the client caches it).
    const read = await serviceToken(owner, getCapacity.nsid)
    expect((await call(getCapacity, read)).status).toBe(200)
    expect((await call(getCapacity, read)).status).toBe(200)
  })

  test('a procedure token without jti: 401 before anything is done', async () => {
    const stop = method('farm.meshlet.stopWorkload')
    const before = acted.length
    const token = await signRaw({ iss: owner.did, aud: meshlet.did, lxm: stop.nsid, iat: nowSec(), exp: nowSec() + 60 }, await realKeypair(owner))
    const res = await call(stop, token)
    expect(res.status).toBe(401)
    expect(res.body.message).toContain('token has no jti')
    expect(acted.length).toBe(before)
  })

  test('a did:key issuer is refused without a fetch', async () => {
    const keypair = await Secp256k1Keypair.create()
    const before = identityFetches
    const token = await createServiceJwt({ iss: keypair.did(), aud: meshlet.did, lxm: getCapacity.nsid, keypair })
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.message).toBe(`token issuer ${keypair.did()} is a did:key; only did:plc and did:web accounts can call a meshlet`)
    expect(identityFetches).toBe(before)
  })

  test('badly signed tokens of a member force at most one key refresh per minute', async () => {
    const good = await call(getCapacity, await serviceToken(member, getCapacity.nsid))
    expect(good.status).toBe(200)
    const before = identityFetches
    const wrongKey = await Secp256k1Keypair.create()
    for (let i = 0; i < 20; i++) {
      const token = await createServiceJwt({ iss: member.did, aud: meshlet.did, lxm: getCapacity.nsid, keypair: wrongKey })
      const res = await call(getCapacity, token)
      expect(res.status).toBe(401)
      expect(res.body.message).toBe(`token signature does not match the signing key in ${member.did}'s DID document`)
    }
    expect(identityFetches - before).toBeLessThanOrEqual(1)
    expect((await call(getCapacity, await serviceToken(member, getCapacity.nsid))).status).toBe(200)
  })
})

/** A syntactically fine token from a random did:plc issuer with a garbage signature. */
function forgedToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let id = ''
  for (let i = 0; i < 24; i++) id += alphabet[Math.floor(Math.random() * 32)]
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const iat = nowSec()
  const payload = { iss: `did:plc:${id}`, aud: meshlet.did, lxm: getCapacity.nsid, iat, exp: iat + 60, jti: id }
  return `${b64({ typ: 'JWT', alg: 'ES256K' })}.${b64(payload)}.${Buffer.from(id.repeat(3)).toString('base64url')}`
}

/** A full GC, so heap figures measure what is retained, not garbage not yet collected. */
function collect(): void {
  v8.setFlagsFromString('--expose-gc')
  ;(vm.runInNewContext('gc') as () => void)()
}

describe('a flood of forged tokens (issue 17)', () => {
  test('10,000 requests from random did:plc issuers: 0 identity fetches, bounded memory, still answering', async () => {
    const N = 10_000
    const fetchesBefore = identityFetches
    const cachedBefore = identity.cachedEntries
    collect()
    const mem0 = process.memoryUsage()
    const statuses = new Map<number, number>()
    let next = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < N) {
          next++
          const res = await call(getCapacity, forgedToken())
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        }
      }),
    )
    const ms = performance.now() - t0
    collect()
    const mem1 = process.memoryUsage()
    const figures = {
      requests: N,
      seconds: Math.round(ms / 100) / 10,
      identityFetches: identityFetches - fetchesBefore,
      cacheEntriesAdded: identity.cachedEntries - cachedBefore,
      heapGrowthMb: Math.round((mem1.heapUsed - mem0.heapUsed) / 1e5) / 10,
      rssGrowthMb: Math.round((mem1.rss - mem0.rss) / 1e5) / 10,
    }
    console.info('forged-token flood', figures)
    expect(Object.fromEntries(statuses)).toEqual({ 403: N })
    expect(figures.identityFetches).toBe(0)
    expect(figures.cacheEntriesAdded).toBe(0)
    // Before issue 17: +88 MB of heap for 5,000 such tokens. Now each costs a JSON parse.
    expect(mem1.heapUsed - mem0.heapUsed).toBeLessThan(16 * 1024 * 1024)
    // RSS keeps the high-water mark of garbage (both ends of 10,000 HTTP requests run in this process).
    expect(mem1.rss - mem0.rss).toBeLessThan(192 * 1024 * 1024)
    // The peer still answers its members.
    const res = await call(getCapacity, await serviceToken(owner, getCapacity.nsid))
    expect(res.status).toBe(200)
    expect(res.body.meshlet).toBe(meshlet.did)
  }, 180_000)
})

describe('rate limits (issue 17)', () => {
  test('per remote address: the call over the limit gets 429 RateLimitExceeded with Retry-After, before the token is read', async () => {
    const limited = await createXrpcServer({ control: testControlPlane(), idResolver: identity.idResolver, limits: { perAddress: { points: 5, windowSec: 60 } } }).listen(0, '127.0.0.1')
    try {
      for (let i = 0; i < 5; i++) expect((await call(getCapacity, 'not-a-token', limited.url)).status).toBe(401)
      const over = await call(getCapacity, await serviceToken(owner, getCapacity.nsid), limited.url)
      expect(over.status).toBe(429)
      expect(over.body.error).toBe('RateLimitExceeded')
      expect(over.body.message).toMatch(/^too many requests from \S+; try again in \d+ s$/)
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    } finally {
      await limited.close()
    }
  })

  test('per issuer: a member over its limit gets 429 naming its DID; another member is still served', async () => {
    const limited = await createXrpcServer({ control: testControlPlane(), idResolver: identity.idResolver, limits: { perIssuer: { points: 3, windowSec: 60 } } }).listen(0, '127.0.0.1')
    try {
      const token = await serviceToken(member, getCapacity.nsid)
      for (let i = 0; i < 3; i++) expect((await call(getCapacity, token, limited.url)).status).toBe(200)
      const over = await call(getCapacity, token, limited.url)
      expect(over.status).toBe(429)
      expect(over.body.message).toMatch(new RegExp(`^too many requests by ${member.did}; try again in \\d+ s$`))
      expect((await call(getCapacity, await serviceToken(owner, getCapacity.nsid), limited.url)).status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})
