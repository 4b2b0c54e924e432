// The one XRPC client (src/adapters/atproto/xrpc-client.ts) that the PDS session, the repo reader
// and the CLI's meshlet client share: what goes on the wire, and each way a call can fail, against
// a small stand-in server on loopback.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { XrpcCallError, xrpcCall, xrpcUrl } from '../../src/adapters/atproto/xrpc-client.js'

let server: http.Server
let base = ''
const seen: { method?: string; url?: string; auth?: string; type?: string; body: string }[] = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body })
      const nsid = (req.url ?? '').split('?')[0]!.replace('/xrpc/', '')
      const json = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v))
      switch (nsid) {
        case 'x.echo':
          return json(200, { ok: true })
        case 'x.refused':
          return json(400, { error: 'RecordNotFound', message: 'Could not locate record' })
        case 'x.htmlError':
          return res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>')
        case 'x.notJson':
          return res.writeHead(200, { 'content-type': 'text/plain' }).end('hello')
        case 'x.empty':
          return res.writeHead(200).end()
        case 'x.big':
          return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pad: 'x'.repeat(5000) }))
        case 'x.slow':
          return setTimeout(() => json(200, {}), 2000).unref()
        default:
          return json(404, { error: 'MethodNotImplemented', message: 'no such method' })
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as XrpcCallError)

describe('xrpcCall', () => {
  test('a query is a GET with its parameters (undefined ones left out) and the bearer token', async () => {
    await expect(xrpcCall({ service: `${base}/`, nsid: 'x.echo', params: { a: 'b c', n: 3, off: false, none: undefined }, token: 't1' })).resolves.toEqual({ ok: true })
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/xrpc/x.echo?a=b+c&n=3&off=false', auth: 'Bearer t1', body: '' })
  })

  test('a body makes it a JSON POST', async () => {
    await xrpcCall({ service: base, nsid: 'x.echo', body: { uri: 'at://x' } })
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/xrpc/x.echo', type: 'application/json', body: '{"uri":"at://x"}', auth: undefined })
  })

  test('an XRPC error keeps its status, name and message', async () => {
    const err = await failure(xrpcCall({ service: base, nsid: 'x.refused' }))
    expect(err).toBeInstanceOf(XrpcCallError)
    expect(err).toMatchObject({ status: 400, error: 'RecordNotFound', message: 'Could not locate record', unanswered: false })
    expect(err.headers['content-type']).toBe('application/json')
  })

  test('an error that is not JSON shows the start of what came back', async () => {
    expect(await failure(xrpcCall({ service: base, nsid: 'x.htmlError' }))).toMatchObject({ status: 502, error: undefined, message: '<h1>Bad gateway</h1>' })
  })

  test('a success that is not JSON is refused; an empty one is undefined', async () => {
    expect(await failure(xrpcCall({ service: base, nsid: 'x.notJson' }))).toMatchObject({ status: 200, error: 'InvalidResponse', message: 'x.notJson returned invalid JSON (HTTP 200)' })
    await expect(xrpcCall({ service: base, nsid: 'x.empty' })).resolves.toBeUndefined()
  })

  test('an answer over the size limit is cut off, at the limit and not before', async () => {
    const size = JSON.stringify({ pad: 'x'.repeat(5000) }).length
    await expect(xrpcCall({ service: base, nsid: 'x.big', maxResponseBytes: size })).resolves.toMatchObject({ pad: expect.any(String) })
    const err = await failure(xrpcCall({ service: base, nsid: 'x.big', maxResponseBytes: size - 1 }))
    expect(err).toMatchObject({ error: 'ResponseTooLarge' })
    expect(err.message).toMatch(new RegExp(`more than ${size - 1} bytes \\(${size}\\)`))
  })

  test('no answer is status 1: Timeout when the time ran out, Unknown when refused, with the cause', async () => {
    const slow = await failure(xrpcCall({ service: base, nsid: 'x.slow', timeoutMs: 100 }))
    expect(slow).toMatchObject({ status: 1, error: 'Timeout', unanswered: true })
    const refused = await failure(xrpcCall({ service: 'http://127.0.0.1:1', nsid: 'x.echo' }))
    expect(refused).toMatchObject({ status: 1, error: 'Unknown', unanswered: true })
    expect(refused.cause).toBeInstanceOf(Error)
  })
})

test('xrpcUrl trims trailing slashes and adds no empty query', () => {
  expect(xrpcUrl('https://pds.example//', 'com.atproto.repo.getRecord')).toBe('https://pds.example/xrpc/com.atproto.repo.getRecord')
})
