import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Secp256k1Keypair } from '@atproto/crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AtprotoIdentityResolver, getIdResolver } from '../../src/adapters/atproto/identity.js'
import { DevNetwork, type DevAccount } from '../../src/devnet/network.js'
import { DidResolutionError } from '../../src/errors.js'

let net: DevNetwork
let alice: DevAccount
// A did:web host on loopback whose document each test sets.
let webServer: http.Server
let webDid: string
let webDoc: unknown
let signingMultibase: string

beforeAll(async () => {
  net = await DevNetwork.create({ pdsCount: 1 })
  alice = await net.createAccount('alice')
  webServer = http.createServer((req, res) => {
    if (req.url === '/.well-known/did.json' && webDoc !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(webDoc))
    } else res.writeHead(404).end()
  })
  await new Promise<void>((r) => webServer.listen(0, '127.0.0.1', r))
  webDid = `did:web:localhost%3A${(webServer.address() as AddressInfo).port}`
  signingMultibase = (await Secp256k1Keypair.create()).did().slice('did:key:'.length)
})

afterAll(async () => {
  await new Promise((r) => webServer?.close(r))
  await net?.close()
})

function webDocument(parts: { key?: boolean; pds?: boolean }) {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: webDid,
    alsoKnownAs: ['at://web.test'],
    verificationMethod: parts.key ? [{ id: `${webDid}#atproto`, type: 'Multikey', controller: webDid, publicKeyMultibase: signingMultibase }] : [],
    service: parts.pds ? [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'http://localhost:2583' }] : [],
  }
}

async function reason(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DidResolutionError)
  return (err as Error).message
}

describe('AtprotoIdentityResolver', () => {
  test('resolves a did:plc account to its PDS, signing key and handle', async () => {
    const id = new AtprotoIdentityResolver({ plcUrl: net.plcUrl, allowInsecureHttp: true })
    const got = await id.resolve(alice.did)
    expect(got.did).toBe(alice.did)
    expect(got.pds).toBe(alice.pds)
    expect(got.handle).toBe(alice.handle)
    expect(got.signingKey).toMatch(/^did:key:z/)
    // The firehose and XRPC auth verify with the same resolver and cache.
    expect(await getIdResolver(id).did.resolveAtprotoKey(alice.did)).toBe(got.signingKey)
  })

  test('without allowInsecureHttp a loopback http directory is refused (SSRF guard stays on by default)', async () => {
    const id = new AtprotoIdentityResolver({ plcUrl: net.plcUrl })
    expect(await reason(id.resolve(alice.did))).toContain(`cannot resolve ${alice.did}: PLC directory ${net.plcUrl} uses plain http`)
  })

  test.each([
    ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'DID not found'],
    ['not-a-did', 'malformed DID'],
    ['did:plc:', 'malformed DID'],
    ['did:example:123', 'unsupported DID method "did:example"'],
  ])('%s -> DidResolutionError "%s"', async (did, expected) => {
    const id = new AtprotoIdentityResolver({ plcUrl: net.plcUrl, allowInsecureHttp: true })
    expect(await reason(id.resolve(did))).toContain(expected)
  })

  test('an unreachable PLC directory is named in the error', async () => {
    const port = await closedPort()
    const id = new AtprotoIdentityResolver({ plcUrl: `http://127.0.0.1:${port}`, allowInsecureHttp: true })
    expect(await reason(id.resolve(alice.did))).toContain(`PLC directory http://127.0.0.1:${port} is not reachable: ECONNREFUSED`)
  })

  test('did:web documents: missing PDS endpoint or signing key are reported', async () => {
    const id = new AtprotoIdentityResolver({ allowInsecureHttp: true, cacheTtlMs: 0 })
    webDoc = webDocument({ key: true, pds: true })
    expect(await id.resolve(webDid, { force: true })).toMatchObject({ did: webDid, pds: 'http://localhost:2583', handle: 'web.test' })
    webDoc = webDocument({ key: true, pds: false })
    expect(await reason(id.resolve(webDid, { force: true }))).toContain('no PDS endpoint in DID document')
    webDoc = webDocument({ key: false, pds: true })
    expect(await reason(id.resolve(webDid, { force: true }))).toContain('no atproto signing key')
    webDoc = undefined
    expect(await reason(id.resolve(webDid, { force: true }))).toContain('DID not found')
  })

  test('answers from cache until the TTL passes; force refreshes', async () => {
    let calls = 0
    let now = 1_000_000
    const id = new AtprotoIdentityResolver({
      plcUrl: net.plcUrl,
      fetch: (input, init) => {
        calls++
        return globalThis.fetch(input, init)
      },
      cacheTtlMs: 60_000,
      now: () => now,
    })
    await id.resolve(alice.did)
    await id.resolve(alice.did)
    expect(calls).toBe(1)
    now += 61_000
    await id.resolve(alice.did)
    expect(calls).toBe(2)
    await id.resolve(alice.did, { force: true })
    expect(calls).toBe(3)
  })
})

async function closedPort(): Promise<number> {
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}
