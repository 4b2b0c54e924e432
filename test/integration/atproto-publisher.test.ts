import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { encodeBid, encodeProfile, encodeStatus, statusRkey } from '../../src/core/encode.js'
import { PdsLoginError, PdsRequestError, PdsUnreachableError } from '../../src/adapters/atproto/errors.js'
import { AtprotoPublisher } from '../../src/adapters/atproto/publisher.js'
import { getLatestCommit, listAllRecords, recordExists } from '../../src/adapters/atproto/repo-reader.js'
import { NSID } from '../../src/core/types.js'
import { DevNetwork, type DevAccount } from '../../src/devnet/network.js'
import { PdsError } from '../../src/errors.js'

let net: DevNetwork
let alice: DevAccount
let pub: AtprotoPublisher
const AT = '2026-01-02T03:04:05.000Z'
const WORKLOAD = { uri: 'at://did:plc:ownerownerownerownerowne/commune.scheduler.workload/3jzfcijpj2z2a', cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' }
const bid = (priority: number) => encodeBid({ workload: WORKLOAD, priority, createdAt: AT })

beforeAll(async () => {
  net = await DevNetwork.create({ pdsCount: 1 })
  alice = await net.createAccount('alice')
  pub = await AtprotoPublisher.login({ service: alice.pds, identifier: alice.did, password: alice.password })
})

afterAll(async () => {
  await net?.close()
})

describe('AtprotoPublisher.login', () => {
  test('logs in by DID or handle', async () => {
    expect(pub.did).toBe(alice.did)
    const byHandle = await AtprotoPublisher.login({ service: alice.pds, identifier: alice.handle, password: alice.password })
    expect(byHandle.did).toBe(alice.did)
  })

  test('a wrong password says so', async () => {
    const err = await AtprotoPublisher.login({ service: alice.pds, identifier: alice.did, password: 'nope' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PdsLoginError)
    expect(err).toBeInstanceOf(PdsError)
    expect((err as Error).message).toBe(`login failed for ${alice.did}: wrong password or app password`)
  })

  test('an unreachable PDS says so, with the network reason', async () => {
    const port = await closedPort()
    const err = await AtprotoPublisher.login({ service: `http://127.0.0.1:${port}`, identifier: alice.did, password: 'x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PdsUnreachableError)
    expect((err as Error).message).toBe(`PDS http://127.0.0.1:${port} is not reachable: ECONNREFUSED`)
  })

  test('a service that is not a URL is refused before any request', async () => {
    await expect(AtprotoPublisher.login({ service: 'pds.example', identifier: alice.did, password: 'x' })).rejects.toThrow(/not a valid http\(s\) URL/)
  })
})

describe('AtprotoPublisher writes', () => {
  test('create, put (overwrite) and idempotent delete', async () => {
    const created = await pub.create(NSID.bid, bid(1))
    expect(created.uri).toMatch(new RegExp(`^at://${alice.did}/${NSID.bid}/[a-z2-7]{13}$`))
    const rkey = statusRkey(WORKLOAD.uri)
    const first = await pub.put(NSID.workloadStatus, rkey, encodeStatus({ workload: WORKLOAD, state: 'pending', updatedAt: AT }))
    const second = await pub.put(NSID.workloadStatus, rkey, encodeStatus({ workload: WORKLOAD, state: 'running', updatedAt: AT }))
    expect(second.uri).toBe(first.uri)
    expect(second.cid).not.toBe(first.cid)
    const statuses = await listAllRecords(alice.pds, alice.did, NSID.workloadStatus)
    expect(statuses.map((r) => [r.rkey, (r.value as { state: string }).state])).toEqual([[rkey, 'running']])

    await pub.delete(NSID.workloadStatus, rkey)
    await pub.delete(NSID.workloadStatus, rkey)
    expect(await listAllRecords(alice.pds, alice.did, NSID.workloadStatus)).toEqual([])
  })

  test('applyWrites: more than 200 writes are chunked; results align with writes', async () => {
    const writes = Array.from({ length: 205 }, (_, i) => ({ op: 'create' as const, collection: NSID.bid, value: bid(i) }))
    const before = await listAllRecords(alice.pds, alice.did, NSID.bid)
    const results = await pub.applyWrites(writes)
    expect(results).toHaveLength(205)
    expect(results.every((r) => r?.uri.startsWith(`at://${alice.did}/${NSID.bid}/`))).toBe(true)
    // listRecords pages (100 at a time) are followed to the end.
    const after = await listAllRecords(alice.pds, alice.did, NSID.bid, { pageSize: 100 })
    expect(after.length).toBe(before.length + 205)
    expect(new Set(after.map((r) => r.uri))).toEqual(new Set([...before.map((r) => r.uri), ...results.map((r) => r!.uri)]))
  })

  test('applyWrites: put creates or replaces, deleting a missing record is done', async () => {
    const profile = (cpuMillis: number) => encodeProfile({ endpoint: 'https://m.example', roles: [], labels: [], capabilities: [], cpuMillis, memoryMb: 1, updatedAt: AT })
    const existing = await pub.create(NSID.bid, bid(7))
    const existingRkey = existing.uri.split('/').pop()!
    const results = await pub.applyWrites([
      { op: 'put', collection: NSID.profile, rkey: 'self', value: profile(1000) }, // missing: becomes a create
      { op: 'delete', collection: NSID.bid, rkey: '3jzfcijpj2z2z' }, // missing: nothing to do
      { op: 'delete', collection: NSID.bid, rkey: existingRkey },
    ])
    expect(results[0]?.uri).toBe(`at://${alice.did}/${NSID.profile}/self`)
    expect(results.slice(1)).toEqual([undefined, undefined])
    const again = await pub.applyWrites([{ op: 'put', collection: NSID.profile, rkey: 'self', value: profile(2000) }])
    expect(again[0]?.cid).not.toBe(results[0]?.cid)
    const profiles = await listAllRecords(alice.pds, alice.did, NSID.profile)
    expect(profiles.map((p) => (p.value as { cpuMillis: number }).cpuMillis)).toEqual([2000])
    expect((await listAllRecords(alice.pds, alice.did, NSID.bid)).some((r) => r.uri === existing.uri)).toBe(false)
  })

  test('repo reader: recordExists tells a deleted record from a live one', async () => {
    const ref = await pub.create(NSID.bid, bid(3))
    expect(await recordExists(alice.pds, ref.uri)).toBe(true)
    await pub.delete(NSID.bid, ref.uri.split('/').pop()!)
    expect(await recordExists(alice.pds, ref.uri)).toBe(false)
    await expect(recordExists(alice.pds, 'https://example.com/x')).rejects.toThrow(/is not a record URI/)
  })

  test('repo reader: head rev and a readable error for an unknown repo', async () => {
    const head = await getLatestCommit(alice.pds, alice.did)
    expect(head.rev).toMatch(/^[a-z2-7]{13}$/)
    const err = await listAllRecords(alice.pds, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', NSID.bid).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PdsRequestError)
    expect((err as Error).message).toContain('Could not find repo: did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')
  })
})

describe('AtprotoPublisher retries', () => {
  // A stand-in PDS whose answers the test scripts: real ones do not fail on demand.
  let server: http.Server
  let url: string
  let script: ((res: http.ServerResponse) => void)[] = []
  let putCalls = 0

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c))
      req.on('end', () => {
        if (req.url?.startsWith('/xrpc/com.atproto.server.createSession')) {
          const jwt = fakeJwt()
          json(res, 200, { did: 'did:plc:fakefakefakefakefakefake', handle: 'fake.test', accessJwt: jwt, refreshJwt: jwt, active: true })
        } else if (req.url?.startsWith('/xrpc/com.atproto.repo.putRecord')) {
          putCalls++
          const next = script.shift()
          if (next) next(res)
          else json(res, 200, { uri: `at://did:plc:fakefakefakefakefakefake/${JSON.parse(body).collection}/x`, cid: WORKLOAD.cid })
        } else json(res, 404, { error: 'MethodNotImplemented', message: 'no' })
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise((r) => server?.close(r))
  })

  test('503 and 429 (honouring ratelimit-reset) are retried until the write lands', async () => {
    const p = await AtprotoPublisher.login({ service: url, identifier: 'fake.test', password: 'x', retry: { baseDelayMs: 10 } })
    putCalls = 0
    let resetAt = 0
    script = [
      (res) => json(res, 503, { error: 'NotEnoughResources', message: 'busy' }),
      (res) => {
        resetAt = Math.ceil(Date.now() / 1000) + 1
        json(res, 429, { error: 'RateLimitExceeded', message: 'slow down' }, { 'ratelimit-reset': String(resetAt) })
      },
    ]
    const ref = await p.put(NSID.bid, '3jzfcijpj2z2a', bid(1))
    expect(ref.cid).toBe(WORKLOAD.cid)
    expect(putCalls).toBe(3)
    expect(Date.now()).toBeGreaterThanOrEqual(resetAt * 1000)
  })

  test('a client error is not retried and keeps the PDS reason', async () => {
    const p = await AtprotoPublisher.login({ service: url, identifier: 'fake.test', password: 'x', retry: { baseDelayMs: 10 } })
    putCalls = 0
    script = [(res) => json(res, 400, { error: 'InvalidRequest', message: 'Record/replicas must be an integer' })]
    const err = await p.put(NSID.bid, '3jzfcijpj2z2a', bid(1)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PdsRequestError)
    expect((err as Error).message).toContain('Record/replicas must be an integer')
    expect(putCalls).toBe(1)
  })

  test('retries are bounded: a PDS that keeps failing gives up with its reason', async () => {
    const p = await AtprotoPublisher.login({ service: url, identifier: 'fake.test', password: 'x', retry: { baseDelayMs: 5, maxRetries: 2 } })
    putCalls = 0
    script = Array.from({ length: 5 }, () => (res: http.ServerResponse) => json(res, 502, { error: 'UpstreamFailure', message: 'db down' }))
    await expect(p.put(NSID.bid, '3jzfcijpj2z2a', bid(1))).rejects.toThrow(/db down/)
    expect(putCalls).toBe(3)
    script = []
  })
})

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

function fakeJwt(): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'ES256K', typ: 'at+jwt' })}.${b64({ scope: 'com.atproto.access', sub: 'did:plc:fakefakefakefakefakefake', exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`
}

async function closedPort(): Promise<number> {
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}
