// Owner actions beyond publish/delete (owner-actions.ts) without a PDS: the change form applied to
// a record, and the guards every new route passes before any OAuth or XRPC call. The browser run
// against the dev PDS and real meshlets is test/integration/web-oauth.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import express from 'express'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { NSID } from '../../src/core/types.js'
import { createLogger } from '../../src/logger.js'
import { OwnerOAuth, OwnerOAuthError } from '../../src/web/owner-oauth.js'
import { changedWorkload, mountOwnerActions, ownWorkload } from '../../src/web/owner-actions.js'
import { createIdResolver } from '../../src/client/context.js'

const NOW = new Date('2026-11-30T12:00:00Z')
const current = {
  $type: NSID.workload,
  name: 'web',
  image: 'nginx:1.27',
  command: ['nginx', '-g', 'daemon off;'],
  replicas: 1,
  resources: { cpuMillis: 100, memoryMb: 64, storageMb: 10 },
  constraints: { roles: ['worker'] },
  createdAt: '2026-11-01T00:00:00.000Z',
}
const form = { uri: 'at://x', image: 'nginx:1.28', command: 'sleep 60', replicas: '3', cpuMillis: '250', memoryMb: '128' }

describe('the change form', () => {
  test('replaces the fields it shows and keeps every other one (constraints, storage, name, createdAt)', () => {
    expect(changedWorkload(current, form, NOW)).toEqual({
      ...current,
      image: 'nginx:1.28',
      command: ['sleep', '60'],
      replicas: 3,
      resources: { cpuMillis: 250, memoryMb: 128, storageMb: 10 },
    })
  })

  test('an empty command removes it (the image runs its own)', () => {
    expect(changedWorkload(current, { ...form, command: '  ' }, NOW)).not.toHaveProperty('command')
  })

  test.each([
    [{ replicas: '' }, /replicas must be a whole number, got ""/],
    [{ cpuMillis: '1.5' }, /cpuMillis must be a whole number/],
    [{ image: '' }, /image/],
    [{ replicas: '0' }, /replicas/],
  ])('refuses %j, saying which field', (patch, why) => {
    expect(() => changedWorkload(current, { ...form, ...patch }, NOW)).toThrow(OwnerOAuthError)
    expect(() => changedWorkload(current, { ...form, ...patch }, NOW)).toThrow(why)
  })

  test("only the owner's own workload: anyone else's is a 403 that names its owner", () => {
    const ann = { did: 'did:plc:ann', handle: 'ann.test' }
    expect(ownWorkload(ann, `at://did:plc:ann/${NSID.workload}/k1`, 'stop')).toEqual({ uri: `at://did:plc:ann/${NSID.workload}/k1`, repo: 'did:plc:ann', rkey: 'k1' })
    const err = (() => {
      try {
        ownWorkload(ann, `at://did:plc:ben/${NSID.workload}/k1`, 'stop')
      } catch (e) {
        return e as OwnerOAuthError
      }
    })()
    expect(err?.status).toBe(403)
    expect(err?.message).toBe('that workload is not yours: only its owner did:plc:ben may stop it')
    expect(() => ownWorkload(ann, `at://did:plc:ann/${NSID.bid}/k1`, 'stop')).toThrow(/at:\/\/ URI of a workload/)
  })
})

describe('the guards of the new routes', () => {
  let server: http.Server
  let base: string
  beforeAll(async () => {
    const app = express()
    server = http.createServer(app)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const oauth = new OwnerOAuth({ baseUrl: () => base, plcUrl: 'http://127.0.0.1:9', allowHttp: true, log: createLogger('test', {}) })
    mountOwnerActions(app, oauth, { ownerOf: () => undefined, replicas: () => [], idResolver: createIdResolver({ plcUrl: 'http://127.0.0.1:9' }), allowHttp: true })
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  const post = (path: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: 'uri=at%3A%2F%2Fdid%3Aplc%3Aann%2Fcommune.scheduler.workload%2Fx&meshlet=did%3Aplc%3Am' })

  test.each(['change', 'stop', 'pause', 'resume', 'evict'])('/oauth/%s: another site is refused (403), the page itself unsigned is told to sign in (401)', async (verb) => {
    const cross = await post(`/oauth/${verb}`, { Origin: 'http://evil.example' })
    expect(cross.status).toBe(403)
    expect(await cross.text()).toMatch(/refused: this form must be sent from a page of/)
    const unsigned = await post(`/oauth/${verb}`, { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' })
    expect(unsigned.status).toBe(401)
    expect(await unsigned.text()).toMatch(/sign in first/)
  })
})
