// What one scheduling pass pays for the replayed ledger (docs/protocol.md, "The ledger"):
// build it from every record, take every owner's balance, verify every bid. A synthetic commune:
// P peers (one owner each), W workloads created over the last 48 epochs, every peer bids on every
// workload (honest priorities), 1-3 replicas held per workload plus one yielded claim each.
// Then the same passes through the LedgerCache: a renewal between passes (reused) and a change to a
// past interval (rebuilt).
//   npx tsx bench/ledger-cost.ts [workloads] [peers] [runs]
import { performance } from 'node:perf_hooks'
import { statusRkey } from '../src/core/hash.js'
import { EPOCH_MS, Ledger, STATUS_LEASE_MS, epochOf, type LedgerRecords } from '../src/core/ledger.js'
import { LedgerCache } from '../src/core/ledger-cache.js'
import { bidPriority } from '../src/core/priority.js'
import { NSID, type Bid, type Profile, type Workload, type WorkloadStatus } from '../src/core/types.js'

const W = Number(process.argv[2] ?? 1000)
const P = Number(process.argv[3] ?? 10)
const RUNS = Number(process.argv[4] ?? 20)
const NOW = Date.parse('2026-11-30T05:00:00.000Z')
const K = epochOf(NOW)
const TOTALS = { cpuMillis: 8000, memoryMb: 16384 }

const owner = (i: number) => `did:plc:owner${i}`
const meshlet = (i: number) => `did:plc:meshlet${i}`
const ownerOf = (m: string) => (m.startsWith('did:plc:meshlet') ? owner(Number(m.slice('did:plc:meshlet'.length))) : undefined)
const profiles: Profile[] = Array.from({ length: P }, (_, i) => ({ meshlet: meshlet(i), endpoint: 'http://127.0.0.1:1', roles: [], labels: [], capabilities: [], ...TOTALS, updatedAt: new Date(NOW).toISOString() }))

let rng = 42
const rand = (n: number) => ((rng = (rng * 1103515245 + 12345) >>> 0) % n)

const workloads: Workload[] = []
const bids: Bid[] = []
const statuses: WorkloadStatus[] = []
const base = (): Omit<LedgerRecords, 'now'> => ({ workloads, bids, statuses, profiles, ownerOf })
// Workloads epoch by epoch, so each epoch's honest priorities see the usage of the ones before.
for (let e = K - 48, n = 0; e <= K; e++) {
  const ledger = new Ledger({ ...base(), now: e * EPOCH_MS + 1 })
  const perEpoch = Math.ceil(W / 49)
  for (let x = 0; x < perEpoch && n < W; x++, n++) {
    const o = rand(P)
    const uri = `at://${owner(o)}/${NSID.workload}/w${n}`
    const createdAt = e * EPOCH_MS + rand(EPOCH_MS)
    const w: Workload = {
      uri, cid: `bafyw${n}`, owner: owner(o), rkey: `w${n}`, name: `w${n}`, image: 'busybox', replicas: 1 + rand(3),
      resources: { cpuMillis: 100 * (1 + rand(10)), memoryMb: 64 * (1 + rand(16)) }, env: [], kind: 'service', restart: { policy: 'always' },
      constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' }, bidWindowMs: 2000, delivery: 'at-most-once', createdAt: new Date(createdAt).toISOString(),
    }
    workloads.push(w)
    const mine: Bid[] = []
    for (let p = 0; p < P; p++) {
      const capacity = { cpuMillisFree: rand(TOTALS.cpuMillis + 1), memoryMbFree: rand(TOTALS.memoryMb + 1), loadPermille: rand(1500), onBattery: false, thermal: 'nominal' as const }
      const balance = ledger.balanceAt(owner(p), e).balance
      const { priority } = bidPriority({ balance, capacity, totals: TOTALS, need: w.resources })
      const rkey = `3kb${n}x${p}`
      mine.push({ uri: `at://${meshlet(p)}/${NSID.bid}/${rkey}`, cid: `bafyb${n}x${p}`, meshlet: meshlet(p), rkey, workload: { uri, cid: w.cid }, priority, capacity, epoch: e, resources: w.resources, createdAt: w.createdAt })
    }
    bids.push(...mine)
    const ranked = [...mine].sort((a, b) => b.priority - a.priority)
    const claim = (b: Bid, replica: number, state: WorkloadStatus['state'], message?: string): WorkloadStatus => ({
      uri: `at://${b.meshlet}/${NSID.workloadStatus}/${statusRkey(uri)}`, cid: `bafys${b.rkey}`, meshlet: b.meshlet, workload: b.workload, state, bid: { uri: b.uri, cid: b.cid },
      priority: b.priority, replica, startedAt: new Date(createdAt + 3000).toISOString(), updatedAt: new Date(Math.min(NOW, createdAt + 3000 + rand(3 * EPOCH_MS))).toISOString(), ...(message ? { message } : {}),
    })
    for (let r = 0; r < w.replicas; r++) statuses.push(claim(ranked[r], r, 'running'))
    statuses.push(claim(ranked[w.replicas], 0, 'stopped', 'lost claim conflict'))
  }
}

const times: number[] = []
const buildTimes: number[] = []
let counted = 0
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now()
  const ledger = new Ledger({ ...base(), now: NOW })
  for (let p = 0; p < P; p++) ledger.currentBalance(owner(p))
  buildTimes.push(performance.now() - t0)
  let ok = 0
  for (const b of bids) if (ledger.verifyBid(b) === undefined) ok++
  times.push(performance.now() - t0)
  counted = ok
}

// With the cache (src/core/ledger-cache.ts), as the scheduler runs it: every pass hands it the
// view's records. Between passes one status is renewed (its lease already ran past the epoch
// start: nothing a replay reads), or, for the miss case, one status gains a past interval.
const graph = {}
const renewable = statuses.findIndex((s) => s.state === 'running' && Date.parse(s.updatedAt) + STATUS_LEASE_MS > NOW)
const hitTimes: number[] = []
const missTimes: number[] = []
const cache = new LedgerCache()
cache.get({ ...base(), graph, now: NOW })
for (let i = 0; i < RUNS; i++) {
  const passNow = NOW + 60_000 * (i + 1)
  // A renewal: a new status object, same claim, updatedAt = the pass time.
  statuses[renewable] = { ...statuses[renewable], cid: `bafyrenew${i}`, updatedAt: new Date(passNow).toISOString() }
  let t0 = performance.now()
  let ledger = cache.get({ ...base(), graph, now: passNow })
  for (let p = 0; p < P; p++) ledger.currentBalance(owner(p))
  hitTimes.push(performance.now() - t0)
  // A relevant change: a status ends one hour earlier (a past interval changes): rebuilt.
  const j = (renewable + 1 + i) % statuses.length
  statuses[j] = { ...statuses[j], state: 'stopped', updatedAt: new Date(Date.parse(statuses[j].updatedAt) - EPOCH_MS).toISOString() }
  t0 = performance.now()
  ledger = cache.get({ ...base(), graph, now: passNow })
  for (let p = 0; p < P; p++) ledger.currentBalance(owner(p))
  missTimes.push(performance.now() - t0)
}
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1))].toFixed(1)
const line = (what: string, xs: number[]) => console.log(`${what}, ${RUNS} runs: p50 ${pct(xs, 0.5)} ms, p95 ${pct(xs, 0.95)} ms, min ${pct(xs, 0)} ms`)
console.log(`${W} workloads, ${P} peers: ${bids.length} bids, ${statuses.length} statuses, ${counted}/${bids.length} bids verify`)
line("no cache: replay + every owner's balance (a pass with one dirty workload)", buildTimes)
line('no cache: ... + verify every bid (a full sweep)', times)
line(`cached, a status renewed since the last pass (reused: ${cache.reuses})`, hitTimes)
line(`cached, a past interval changed since the last pass (rebuilt: ${cache.builds - 1})`, missTimes)
