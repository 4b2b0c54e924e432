// A small commune for ledger tests: owners, their meshlets with profiles, workloads, and honest
// bids and statuses built the way the peer builds them (so they must verify).
import { statusRkey } from '../../src/core/hash.js'
import { EPOCH_MS, Ledger, type LedgerRecords } from '../../src/core/ledger.js'
import { bidPriority } from '../../src/core/priority.js'
import { NSID, type Bid, type CapacitySnapshot, type Did, type Profile, type Resources, type Workload, type WorkloadStatus } from '../../src/core/types.js'

/** Epoch 480000 (2024-10-04): far from 0, so the 1536-epoch window is never cut by time 0. */
export const E0 = 480_000
export const at = (epoch: number, plusMs = 0): number => epoch * EPOCH_MS + plusMs
export const iso = (t: number): string => new Date(t).toISOString()
export const HOUR = 3_600_000

export const OWNERS = { alice: 'did:plc:alice', bob: 'did:plc:bob', carol: 'did:plc:carol', mallory: 'did:plc:mallory' } as const
export const meshletOf = (owner: Did): Did => `${owner}-m`
export const ownerOf = (m: Did): Did | undefined => (Object.values(OWNERS) as Did[]).find((o) => meshletOf(o) === m)

export const TOTALS = { cpuMillis: 4000, memoryMb: 8192 }
export const CAPACITY: CapacitySnapshot = { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' }
/** 1 core + 1 GiB: 2000 milli-units, 7200 unit-seconds per hour. */
export const RES: Resources = { cpuMillis: 1000, memoryMb: 1024 }

export function profiles(): Profile[] {
  return (Object.values(OWNERS) as Did[]).map((o) => ({ meshlet: meshletOf(o), endpoint: 'http://127.0.0.1:1', roles: [], labels: [], capabilities: [], ...TOTALS, updatedAt: iso(at(E0)) }))
}

export function wl(owner: Did, name: string, createdEpoch = E0, over: Partial<Workload> = {}): Workload {
  const uri = `at://${owner}/${NSID.workload}/${name}`
  return {
    uri,
    cid: `bafy-${name}`,
    owner,
    rkey: name,
    name,
    image: 'meshlet/busybox:test',
    replicas: 1,
    resources: RES,
    env: [],
    kind: 'service',
    restart: { policy: 'always' },
    constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
    bidWindowMs: 5000,
    delivery: 'at-most-once',
    createdAt: iso(at(createdEpoch, 60_000)),
    ...over,
  }
}

let seq = 0
/** A bid by `meshlet` on `w` with an explicit priority (honest ones come from {@link honestBid}). */
export function rawBid(meshlet: Did, w: Workload, priority: number, over: Partial<Bid> = {}): Bid {
  const rkey = over.rkey ?? `3kb${String(++seq).padStart(10, '0')}`
  return {
    uri: `at://${meshlet}/${NSID.bid}/${rkey}`,
    cid: `bafybid-${rkey}`,
    meshlet,
    rkey,
    workload: { uri: w.uri, cid: w.cid },
    priority,
    capacity: CAPACITY,
    epoch: Math.floor(Date.parse(w.createdAt) / EPOCH_MS),
    resources: w.resources,
    createdAt: w.createdAt,
    ...over,
  }
}

/** The bid an honest peer publishes, its priority recomputed from `records` (what it has seen). */
export function honestBid(records: Omit<LedgerRecords, 'now'>, meshlet: Did, w: Workload, over: Partial<Bid> = {}): Bid {
  const b = rawBid(meshlet, w, 0, over)
  const ledger = new Ledger({ ...records, now: at(b.epoch! + 1) })
  const balance = ledger.balanceAt(ownerOf(meshlet)!, b.epoch!).balance
  b.priority = bidPriority({ balance, capacity: b.capacity!, totals: TOTALS, need: b.resources! }).priority
  return b
}

/** A status at the canonical rkey, claiming with `bid`. */
export function claim(bid: Bid, state: WorkloadStatus['state'], startedAt: number, updatedAt: number, over: Partial<WorkloadStatus> = {}): WorkloadStatus {
  return {
    uri: `at://${bid.meshlet}/${NSID.workloadStatus}/${statusRkey(bid.workload.uri)}`,
    cid: `bafys-${bid.rkey}-${state}-${updatedAt}`,
    meshlet: bid.meshlet,
    workload: bid.workload,
    state,
    bid: { uri: bid.uri, cid: bid.cid },
    priority: bid.priority,
    replica: 0,
    startedAt: iso(startedAt),
    updatedAt: iso(updatedAt),
    ...over,
  }
}

export function records(workloads: Workload[], bids: Bid[], statuses: WorkloadStatus[]): Omit<LedgerRecords, 'now'> {
  return { workloads, bids, statuses, profiles: profiles(), ownerOf }
}
