// Builders for core records, so each test states only the fields it is about.
import { statusRkey } from '../../src/core/hash.js'
import type { EligibleMeshlet } from '../../src/core/selection.js'
import { NSID, type Bid, type Did, type HostSnapshot, type Workload, type WorkloadStatus } from '../../src/core/types.js'

export const OWNER = 'did:plc:owner'
export const W_URI = `at://${OWNER}/${NSID.workload}/3kw0000000001`
export const W_CID = 'bafycurrent'

export function workload(over: Partial<Workload> = {}): Workload {
  return {
    uri: W_URI,
    cid: W_CID,
    owner: OWNER,
    rkey: '3kw0000000001',
    name: 'web',
    image: 'meshlet/busybox:test',
    replicas: 1,
    resources: { cpuMillis: 500, memoryMb: 256 },
    env: [],
    kind: 'service',
    restart: { policy: 'always' },
    constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
    bidWindowMs: 5000,
    delivery: 'at-most-once',
    createdAt: '2025-01-01T00:00:00.000Z',
    ...over,
  }
}

export function bid(meshlet: Did, priority: number, over: Partial<Bid> = {}): Bid {
  const rkey = over.rkey ?? '3kb0000000001'
  return {
    uri: `at://${meshlet}/${NSID.bid}/${rkey}`,
    cid: `bafybid-${meshlet}-${rkey}`,
    meshlet,
    rkey,
    workload: { uri: W_URI, cid: W_CID },
    priority,
    createdAt: '2025-01-01T00:00:01.000Z',
    ...over,
  }
}

export function decline(meshlet: Did, reason: string, over: Partial<Bid> = {}): Bid {
  return bid(meshlet, 0, { decline: reason, ...over })
}

/**
 * A status at its canonical rkey, backed by the meshlet's default bid (`bid(meshlet, p)` with the
 * default rkey: give the same priority to both), replica 0 unless stated.
 */
export function status(meshlet: Did, state: WorkloadStatus['state'], over: Partial<WorkloadStatus> = {}): WorkloadStatus {
  const b = bid(meshlet, 0)
  return {
    uri: `at://${meshlet}/${NSID.workloadStatus}/${statusRkey(W_URI)}`,
    cid: `bafystatus-${meshlet}-${state}`,
    meshlet,
    workload: { uri: W_URI, cid: W_CID },
    state,
    bid: { uri: b.uri, cid: b.cid },
    replica: 0,
    updatedAt: '2025-01-01T00:00:10.000Z',
    ...over,
  }
}

export function eligibleOf(...meshlets: Did[]): Map<Did, EligibleMeshlet> {
  return new Map(meshlets.map((m) => [m, { meshlet: m, owner: `${m}-owner` }]))
}

export function host(over: Partial<HostSnapshot> = {}): HostSnapshot {
  return {
    cpuMillisTotal: 4000,
    memoryMbTotal: 8192,
    memoryMbAvailable: 6000,
    loadPermille: 300,
    onBattery: false,
    thermal: 'nominal',
    ...over,
  }
}
