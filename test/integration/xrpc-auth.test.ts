// Service auth and authorisation on a real XRPC server, with real accounts on a real PLC + PDS:
// every token here is minted by a PDS (getServiceAuth) or signed with a real or foreign key.
import { Secp256k1Keypair, type Keypair } from '@atproto/crypto'
import { IdResolver } from '@atproto/identity'
import { createServiceJwt } from '@atproto/xrpc-server'
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
  const xrpc = createXrpcServer({
    control: testControlPlane(),
    idResolver: new IdResolver({ plcUrl: net.plcUrl, fetch: globalThis.fetch }),
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

async function call(m: Method, token?: string): Promise<{ status: number; body: { error?: string; message?: string } & Record<string, unknown> }> {
  const qs = m.params ? `?${new URLSearchParams(m.params)}` : ''
  const res = await fetch(`${server!.url}/xrpc/${m.nsid}${qs}`, {
    method: m.kind === 'query' ? 'GET' : 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(m.kind === 'procedure' ? { 'content-type': 'application/json' } : {}),
    },
    body: m.kind === 'procedure' ? JSON.stringify(m.body ?? {}) : undefined,
  })
  return { status: res.status, body: (await res.json()) as { error?: string } }
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

  test('a token from a DID that does not exist: 401 saying it cannot be resolved', async () => {
    const token = await createServiceJwt({
      iss: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa',
      aud: meshlet.did,
      lxm: getCapacity.nsid,
      keypair: await Secp256k1Keypair.create(),
    })
    const res = await call(getCapacity, token)
    expect(res.status).toBe(401)
    expect(res.body.message).toContain('cannot be resolved')
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
      expect(res.body.message).toContain("only members of this meshlet's cluster may read")
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
    for (const caller of [member, stranger, meshlet]) {
      const res = await call(method('farm.meshlet.shutdown'), await serviceToken(caller, 'farm.meshlet.shutdown'))
      expect(res.status).toBe(403)
      expect(res.body.error).toBe('Forbidden')
      expect(res.body.message).toBe(`only this meshlet's owner ${owner.did} may shut it down`)
    }
    expect(shutdowns()).toBe(before)
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
