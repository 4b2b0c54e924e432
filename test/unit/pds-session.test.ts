// The peer's PDS session client: login, the DID document's PDS, and refresh when the access token
// expires. A tiny stand-in PDS on loopback plays the server (real-PDS writes are covered by
// test/integration/atproto-publisher.test.ts).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PdsSession, XrpcCallError } from '../../src/adapters/atproto/pds-session.js'

let server: http.Server
let base = ''
let access = 'access-1'
const seen: { path: string; auth?: string }[] = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!
    seen.push({ path, auth: req.headers.authorization })
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (path === '/xrpc/com.atproto.server.createSession') {
        const { password } = JSON.parse(body) as { password: string }
        if (password !== 'right') return send(401, { error: 'AuthenticationRequired', message: 'Invalid identifier or password' })
        return send(200, { did: 'did:plc:me', handle: 'me.test', accessJwt: access, refreshJwt: 'refresh-1', didDoc: { service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: base }] } })
      }
      if (path === '/xrpc/com.atproto.server.refreshSession') {
        if (req.headers.authorization !== 'Bearer refresh-1') return send(400, { error: 'InvalidToken', message: 'bad refresh token' })
        access = 'access-2'
        return send(200, { did: 'did:plc:me', accessJwt: access, refreshJwt: 'refresh-1' })
      }
      if (path === '/xrpc/com.atproto.repo.putRecord') {
        if (req.headers.authorization !== `Bearer ${access}` || access === 'access-1') return send(400, { error: 'ExpiredToken', message: 'Token has expired' })
        return send(200, { uri: 'at://did:plc:me/x.y.z/1', cid: 'bafy' })
      }
      send(404, { error: 'MethodNotImplemented', message: 'no such method' })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('PdsSession', () => {
  test('logs in, and refreshes once when the access token has expired', async () => {
    const s = await PdsSession.login(base, 'me.test', 'right')
    expect(s.did).toBe('did:plc:me')
    expect(s.serviceUrl).toBe(base)
    const res = await s.procedure<{ uri: string }>('com.atproto.repo.putRecord', { repo: 'did:plc:me', collection: 'x.y.z', rkey: '1', record: {} })
    expect(res.uri).toBe('at://did:plc:me/x.y.z/1')
    const calls = seen.map((x) => x.path)
    expect(calls.filter((p) => p.endsWith('refreshSession'))).toHaveLength(1)
    expect(seen.at(-1)).toEqual({ path: '/xrpc/com.atproto.repo.putRecord', auth: 'Bearer access-2' })
  })

  test('a wrong password is a 401 XrpcCallError with the server message', async () => {
    const err = await PdsSession.login(base, 'me.test', 'wrong').catch((e) => e)
    expect(err).toBeInstanceOf(XrpcCallError)
    expect(err).toMatchObject({ status: 401, error: 'AuthenticationRequired', message: 'Invalid identifier or password' })
  })

  test('an unreachable PDS is status 1 with the network cause', async () => {
    const err = await PdsSession.login('http://127.0.0.1:1', 'me.test', 'right').catch((e) => e)
    expect(err).toBeInstanceOf(XrpcCallError)
    expect(err.status).toBe(1)
    expect(String(err.cause?.cause?.code ?? err.cause?.code ?? err.message)).toMatch(/ECONNREFUSED|fetch failed/)
  })
})
