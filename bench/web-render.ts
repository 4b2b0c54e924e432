// The web view's first paint on a large commune (issue 15): 20 meshlets (10 owners), 500 workloads
// each with 3 bids and a running claim, served by the real routes; measures GET / (snapshot + HTML)
// and GET /api/commune as a browser's first request would see them. `npx tsx bench/web-render.ts`
import express from 'express'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CommuneView } from '../src/core/view.js'
import { buildClusterGraph } from '../src/core/cluster.js'
import { NSID, type Did, type RecordEvent, type SchedulerRecord } from '../src/core/types.js'
import { CommuneSnapshots } from '../src/services/commune-snapshot.js'
import { RecordFeed } from '../src/services/record-feed.js'
import { mountWebView } from '../src/web/web-routes.js'

const NOW = Date.now()
const ISO = new Date(NOW - 3000).toISOString()
const put = (did: Did, rkey: string, record: SchedulerRecord): RecordEvent => ({ op: 'put', did, collection: record.collection, rkey, uri: `at://${did}/${record.collection}/${rkey}`, cid: `c-${did}-${rkey}`, record })

const view = new CommuneView()
const owners = Array.from({ length: 10 }, (_, i) => `did:plc:owner${i}`)
const meshlets = Array.from({ length: 20 }, (_, i) => ({ did: `did:plc:meshlet${i}`, owner: owners[i % 10]! }))
for (const m of meshlets) {
  for (const e of [
    put(m.owner, m.did, { collection: NSID.meshlet, value: { owner: m.owner, meshlet: m.did } }),
    put(m.did, 'self', { collection: NSID.meshletOwner, value: { meshlet: m.did, owner: m.owner } }),
    put(m.did, 'self', { collection: NSID.membership, value: { meshlet: m.did, members: owners.filter((o) => o !== m.owner) } }),
    put(m.did, 'self', { collection: NSID.profile, value: { meshlet: m.did, endpoint: 'http://127.0.0.1:1', roles: ['worker'], labels: [], capabilities: [], cpuMillis: 16000, memoryMb: 65536, leaseMs: 15000, updatedAt: ISO } }),
  ])
    view.apply(e, NOW)
}
for (let i = 0; i < 500; i++) {
  const owner = owners[i % 10]!
  const rkey = `3kw${String(i).padStart(10, '0')}`
  const uri = `at://${owner}/${NSID.workload}/${rkey}`
  const cid = `w-${i}`
  view.apply(put(owner, rkey, { collection: NSID.workload, value: { uri, cid, owner, rkey, name: `job-${i}`, image: 'meshlet/busybox:test', replicas: 1, resources: { cpuMillis: 100, memoryMb: 64 }, env: [], kind: 'service', restart: { policy: 'always' }, constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' }, bidWindowMs: 5000, delivery: 'at-most-once', createdAt: ISO } }), NOW)
  for (let b = 0; b < 3; b++) {
    const m = meshlets[(i + b) % 20]!
    view.apply(put(m.did, `b${i}`, { collection: NSID.bid, value: { uri: `at://${m.did}/${NSID.bid}/b${i}`, meshlet: m.did, workload: { uri, cid }, priority: 500 - b, createdAt: ISO } as never }), NOW)
  }
  const holder = meshlets[i % 20]!
  view.apply(put(holder.did, `s${i}`, { collection: NSID.workloadStatus, value: { uri: `at://${holder.did}/${NSID.workloadStatus}/s${i}`, meshlet: holder.did, workload: { uri, cid }, state: 'running', replica: 0, startedAt: ISO, updatedAt: ISO } }), NOW)
}
const snapshots = new CommuneSnapshots({ view, graph: () => buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() }), owners: () => owners, now: () => Date.now(), servedBy: { kind: 'appview' } })
const app = express()
mountWebView(app, { snapshots, feed: new RecordFeed(Date.now) })
const server = http.createServer(app)
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

async function time(path: string, accept: string) {
  const ms: number[] = []
  let bytes = 0
  for (let i = 0; i < 7; i++) {
    const t = performance.now()
    const body = await (await fetch(base + path, { headers: { Accept: accept } })).text()
    ms.push(performance.now() - t)
    bytes = body.length
  }
  ms.sort((a, b) => a - b)
  return { path, medianMs: Math.round(ms[3]!), maxMs: Math.round(ms[6]!), kB: Math.round(bytes / 1024) }
}
console.log(JSON.stringify({ meshlets: 20, ...view.size() }))
// Once to warm up (JIT), then measured.
await time('/', 'text/html')
console.log(JSON.stringify(await time('/', 'text/html')))
console.log(JSON.stringify(await time('/?part=main', 'text/html')))
console.log(JSON.stringify(await time('/api/commune', 'application/json')))
server.closeAllConnections()
server.close()
{
  const { communeMain } = await import('../src/web/render.js')
  const { page } = await import('../src/web/render.js')
  const runs: number[][] = []
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now()
    const s = snapshots.snapshot()
    const t1 = performance.now()
    const main = communeMain(s, [])
    const t2 = performance.now()
    page('x', main, { servedBy: s.servedBy, view: 'commune' })
    const t3 = performance.now()
    runs.push([t1 - t0, t2 - t1, t3 - t2])
  }
  const med = (k: number) => Math.round(runs.map((r) => r[k]!).sort((a, b) => a - b)[3]!)
  console.log(JSON.stringify({ snapshotMs: med(0), mainMs: med(1), pageMs: med(2) }))
}
