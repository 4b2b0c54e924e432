// The web view over an in-memory CommuneView served by the real express routes (issue 15): what a
// person reads on the page, that records cannot inject markup, and the JSON/SSE the page uses.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import express from 'express'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CommuneView } from '../../src/core/view.js'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { NSID, type Did, type RecordEvent, type SchedulerRecord } from '../../src/core/types.js'
import { CommuneSnapshots } from '../../src/services/commune-snapshot.js'
import { RecordFeed } from '../../src/services/record-feed.js'
import { mountWebView } from '../../src/web/web-routes.js'
import { esc, html } from '../../src/web/html.js'
import { workload as workloadFixture } from '../core/fixtures.js'

const NOW = Date.parse('2026-06-01T12:00:00.000Z')
const ISO = new Date(NOW - 5000).toISOString()
const ANN = 'did:plc:ann'
const BEN = 'did:plc:ben'
const ANN_M = 'did:plc:annmeshlet'
const BEN_M = 'did:plc:benmeshlet'
const EVIL = '<script>window.pwned=1</script><img src=x onerror="alert(1)">'

function put(did: Did, rkey: string, record: SchedulerRecord): RecordEvent {
  return { op: 'put', did, collection: record.collection, rkey, uri: `at://${did}/${record.collection}/${rkey}`, cid: `cid-${did}-${rkey}`, record }
}
function member(owner: Did, meshlet: Did, members: Did[], extra: { labels?: { key: string; value: string }[] } = {}): RecordEvent[] {
  return [
    put(owner, meshlet, { collection: NSID.meshlet, value: { owner, meshlet } }),
    put(meshlet, 'self', { collection: NSID.meshletOwner, value: { meshlet, owner } }),
    put(meshlet, 'self', { collection: NSID.membership, value: { meshlet, members } }),
    put(meshlet, 'self', { collection: NSID.profile, value: { meshlet, endpoint: 'http://127.0.0.1:1', roles: ['worker'], labels: extra.labels ?? [], capabilities: [], cpuMillis: 4000, memoryMb: 8192, leaseMs: 15_000, updatedAt: ISO } }),
  ]
}

const view = new CommuneView()
const feed = new RecordFeed(() => NOW)
const w = workloadFixture({ owner: ANN, name: EVIL, image: 'meshlet/busybox:test', uri: `at://${ANN}/${NSID.workload}/3kw0000000001`, createdAt: ISO })
for (const e of [
  ...member(ANN, ANN_M, [BEN], { labels: [{ key: 'zone', value: '"><b>x</b>' }] }),
  ...member(BEN, BEN_M, [ANN]),
  // A status by an outsider about ann's workload: not a holder anywhere on the page.
  put('did:plc:outsider', 's2', { collection: NSID.workloadStatus, value: { meshlet: 'did:plc:outsider', uri: `at://did:plc:outsider/${NSID.workloadStatus}/s2`, workload: { uri: w.uri, cid: w.cid }, state: 'running', replica: 0, updatedAt: ISO } }),
  // A meshlet ben's repo claims but whose own repo never points back: not verified, with why.
  put(BEN, 'did:plc:ghost', { collection: NSID.meshlet, value: { owner: BEN, meshlet: 'did:plc:ghost' } }),
  put(ANN, '3kw0000000001', { collection: NSID.workload, value: w }),
  put(BEN_M, 's1', { collection: NSID.workloadStatus, value: { meshlet: BEN_M, uri: `at://${BEN_M}/${NSID.workloadStatus}/s1`, workload: { uri: w.uri, cid: w.cid }, state: 'running', replica: 0, updatedAt: ISO } }),
]) {
  view.apply(e, NOW)
  feed.publish(e)
}
const snapshots = new CommuneSnapshots({
  view,
  graph: () => buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() }),
  owners: () => [ANN],
  now: () => NOW,
  servedBy: { kind: 'appview' },
})

let server: http.Server
let base: string
beforeAll(async () => {
  const app = express()
  mountWebView(app, { snapshots, feed })
  app.get('/', (_req, res) => res.json({ name: 'meshlet' }))
  server = http.createServer(app)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

const page = async (path: string) => {
  const res = await fetch(base + path, { headers: { Accept: 'text/html' } })
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
  return res.text()
}

describe('the commune page', () => {
  test('meshlets with verification, capacity, heartbeat, labels and what each runs', async () => {
    const text = await page('/')
    const s = snapshots.snapshot()
    expect(s.owners.map((o) => o.did)).toEqual([ANN, BEN])
    const ben = s.meshlets.find((m) => m.did === BEN_M)!
    expect(ben).toMatchObject({ owner: BEN, verified: true, state: 'live', heartbeatAgeSec: 5, cpuMillis: 4000, cpuMillisUsed: w.resources.cpuMillis, memoryMbUsed: w.resources.memoryMb })
    expect(ben.runs).toEqual([{ uri: w.uri, name: EVIL, owner: ANN, state: 'running', replica: 0 }])
    const ghost = s.meshlets.find((m) => m.did === 'did:plc:ghost')!
    expect(ghost).toMatchObject({ verified: false, state: 'no profile' })
    expect(ghost.problem).toBeTruthy()
    expect(text).toContain(`data-meshlet="${BEN_M}" data-state="live" data-verified="true"`)
    expect(text).toContain(`not verified</span>: <span class="why">${esc(ghost.problem)}</span>`)
    expect(text).toContain('5 s ago')
    // Published 5 s ago and running: nothing waited, and the advisor says so.
    expect(s.advice).toMatchObject({ demands: 0, lacks: [] })
    expect(text).toContain('Nothing waited more than a minute past its bid window')
    expect(s.workloads.map((x) => ({ uri: x.uri, summary: x.summary, holders: x.holders.map((h) => h.meshlet) }))).toEqual([{ uri: w.uri, summary: 'running', holders: [BEN_M] }])
    expect(s.balances.map((b) => b.owner)).toEqual([ANN, BEN])
    expect(s.balances[0]!.history).toHaveLength(24)
  })

  test('a workload name or label with markup is shown as text, never as markup', async () => {
    for (const path of ['/', `/workload?uri=${encodeURIComponent(w.uri)}`, '/?part=main']) {
      const text = await page(path)
      expect(text).not.toContain('<script>window')
      expect(text).not.toContain('<img src=x')
      expect(text).not.toContain('<b>x</b>')
      expect(text).toContain(esc(EVIL))
    }
    // The only script on the page is our own file.
    expect((await page('/')).match(/<script/g)).toEqual(['<script'])
  })

  test('html`` escapes every interpolation, arrays included', () => {
    expect(html`<p title="${'"'}">${['<a>', 1]}</p>`.value).toBe('<p title="&quot;">&lt;a&gt;1</p>')
  })

  test('the workload page explains the placement from the same records', async () => {
    const text = await page(`/workload?uri=${encodeURIComponent(w.uri)}`)
    expect(text).toContain(`data-holder="${BEN_M}"`)
    expect(text).toContain('Why each meshlet won or lost')
    const res = await fetch(`${base}/api/workload?uri=${encodeURIComponent(w.uri)}`)
    // The status stands on no bid: the page lists it as a claim on record, the explanation says it does not hold.
    const d = (await res.json()) as { explanation: { holders: unknown[]; outcomes: { meshlet: string; outcome: string; reason: string }[] } }
    expect(d.explanation.holders).toEqual([])
    expect(d.explanation.outcomes.filter((o) => o.meshlet === BEN_M).map((o) => o.outcome)).toEqual(['invalid'])
    expect(text).toContain(`data-outcome="invalid" data-meshlet="${BEN_M}"`)
    expect((await fetch(`${base}/workload?uri=nope`)).status).toBe(400)
  })

  test('a client that does not ask for HTML still gets the JSON about at /', async () => {
    const res = await fetch(`${base}/`)
    expect(await res.json()).toEqual({ name: 'meshlet' })
  })

  test('the JSON API and the assets', async () => {
    const s = (await (await fetch(`${base}/api/commune`)).json()) as { meshlets: unknown[]; feed: unknown[] }
    expect(s.meshlets).toHaveLength(3)
    expect(s.feed.length).toBeGreaterThan(0)
    // Heartbeats wake listeners but stay out of the shown history.
    expect((s.feed as { collection: string }[]).map((f) => f.collection)).not.toContain(NSID.profile)
    expect((s.feed as { collection: string }[]).map((f) => f.collection)).toContain(NSID.workload)
    const js = await fetch(`${base}/assets/app.js`)
    expect(js.headers.get('content-type')).toMatch(/javascript/)
    expect(await js.text()).toContain("new EventSource('/events')")
    expect((await fetch(`${base}/assets/app.css`)).status).toBe(200)
    expect((await fetch(`${base}/assets/..%2Fpackage.json`)).status).toBe(404)
  })

  test('server-sent events carry each record as it arrives', async () => {
    const ctl = new AbortController()
    const res = await fetch(`${base}/events`, { signal: ctl.signal })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = res.body!.getReader()
    let got = ''
    const e = put(BEN, '3kw0000000002', { collection: NSID.workload, value: workloadFixture({ owner: BEN, uri: `at://${BEN}/${NSID.workload}/3kw0000000002` }) })
    setTimeout(() => feed.publish(e), 50)
    while (!got.includes(e.uri)) got += new TextDecoder().decode((await reader.read()).value)
    expect(got).toMatch(/event: record\ndata: \{.*"op":"put".*\}\n\n/)
    ctl.abort()
  })
})

describe('energy cost on the ledger (issue 15, --watts-per-core / --kwh-price)', () => {
  test('a column per direction when a draw is configured, none otherwise', async () => {
    const { communeMain } = await import('../../src/web/render.js')
    const priced = new CommuneSnapshots({ ...snapshotDeps(), energy: { wattsPerCore: { units: 12n, scale: 0 }, kwhPrice: { units: 32n, scale: 2 }, currency: 'EUR' } })
    const s = priced.snapshot()
    // Statuses here carry no bids, so the ledger counts nothing: zero, printed exactly.
    expect(s.balances[0]!.energy).toEqual({ consumed: { kwh: '0.000', cost: '0.0000 EUR' }, contributed: { kwh: '0.000', cost: '0.0000 EUR' } })
    const text = communeMain(s, []).value
    expect(text).toContain('<th>energy contributed</th><th>energy consumed</th>')
    expect(text).toContain(`<td class="num energy-consumed">0.000 kWh (0.0000 EUR)</td>`)
    expect(await page('/')).not.toContain('energy consumed')
  })
})

function snapshotDeps() {
  return { view, graph: () => buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() }), owners: () => [ANN], now: () => NOW, servedBy: { kind: 'appview' as const } }
}
