// Owner actions on the web view (owner-oauth.ts) without a PDS: the publish form's checks, and the
// guards every action passes before any OAuth call (same origin, signed in, own workloads only).
// The full sign-in against the dev PDS is in test/integration/web-oauth.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import express from 'express'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { NSID } from '../../src/core/types.js'
import { createLogger } from '../../src/logger.js'
import { mountOwnerOAuth, OwnerOAuth, OwnerOAuthError, workloadFromForm } from '../../src/web/owner-oauth.js'

describe('the publish form', () => {
  test('becomes a workload record: command split on spaces, defaults for replicas and resources', () => {
    const r = workloadFromForm({ name: 'web', image: 'nginx:1.27', command: ' sleep   3600 ', replicas: '', cpuMillis: '250', memoryMb: '' })
    expect(r).toMatchObject({ $type: NSID.workload, name: 'web', image: 'nginx:1.27', command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 250, memoryMb: 64 } })
    expect(typeof r.createdAt).toBe('string')
    expect(workloadFromForm({ name: 'web', image: 'nginx:1.27' })).not.toHaveProperty('command')
  })

  test.each([
    [{ name: 'web', image: 'nginx', replicas: 'two' }, /replicas must be a whole number, got "two"/],
    [{ name: 'web', image: 'nginx', memoryMb: '-5' }, /memoryMb must be a whole number/],
    [{ name: 'web', image: '' }, /image/],
    [{ name: '', image: 'nginx' }, /name/],
  ])('refuses %j, saying which field', (form, why) => {
    expect(() => workloadFromForm(form)).toThrow(OwnerOAuthError)
    expect(() => workloadFromForm(form)).toThrow(why)
  })
})

describe('the guards', () => {
  let server: http.Server
  let base: string
  beforeAll(async () => {
    const app = express()
    server = http.createServer(app)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const oauth = new OwnerOAuth({ baseUrl: () => base.replace('127.0.0.1', 'localhost'), plcUrl: 'http://127.0.0.1:9', allowHttp: true, log: createLogger('test', {}) })
    mountOwnerOAuth(app, oauth)
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  const post = (path: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: 'uri=at%3A%2F%2Fdid%3Aplc%3Aann%2Fcommune.scheduler.workload%2Fx' })

  test('a form sent from another site, or with no origin at all, is refused before anything else', async () => {
    for (const headers of <Record<string, string>[]>[{}, { Origin: 'http://evil.example' }, { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' }, { Origin: base, 'Sec-Fetch-Site': 'same-site' }]) {
      const res = await post('/oauth/delete', headers)
      expect(res.status, JSON.stringify(headers)).toBe(403)
      expect(await res.text()).toMatch(/refused: this form must be sent from a page of http:\/\/127\.0\.0\.1:/)
    }
  })

  test('from the page itself but not signed in: told to sign in; a made-up session cookie is no session', async () => {
    for (const headers of <Record<string, string>[]>[{ Origin: base }, { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }, { Origin: base, Cookie: 'meshlet_owner=guessed' }]) {
      const res = await post('/oauth/publish', headers)
      expect(res.status, JSON.stringify(headers)).toBe(401)
      expect(await res.text()).toMatch(/sign in first/)
    }
  })

  test('a handle that is not one is refused with a message, without a network call', async () => {
    const res = await fetch(`${base}/oauth/login?handle=${encodeURIComponent('<b>x</b>')}`)
    expect(res.status).toBe(400)
    expect(await res.text()).toMatch(/enter your handle/)
  })
})
