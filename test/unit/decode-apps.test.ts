// Services fields (issue 12) through the edge: what a peer accepts, what it refuses and why, and
// that the encoder writes what the decoder reads.
import { describe, expect, test } from 'vitest'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { encodeProfile, encodeStatus, encodeWorkload, statusRkey } from '../../src/core/encode.js'
import { NSID, type RecordEvent } from '../../src/core/types.js'

const OWNER = 'did:plc:ownerownerownerownerowne'
const MESHLET = 'did:plc:meshletmeshletmeshletmes'
const TID = '3jzfcijpj2z2a'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const AT = '2026-01-02T03:04:05.000Z'
const W_URI = `at://${OWNER}/${NSID.workload}/${TID}`

function workload(over: Record<string, unknown>) {
  return { $type: NSID.workload, name: 'web', image: 'meshlet/busybox:test', replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, createdAt: AT, ...over }
}

function value(ev: RecordEvent | undefined): Record<string, unknown> {
  if (ev?.op !== 'put') throw new Error(`expected put, got ${JSON.stringify(ev)}`)
  return ev.record.value as unknown as Record<string, unknown>
}

function reason(ev: RecordEvent | undefined): string {
  if (ev?.op !== 'rejected') throw new Error(`expected rejected, got ${JSON.stringify(ev)}`)
  return ev.reason
}

const decodeWorkload = (over: Record<string, unknown>) => decodeRecord({ did: OWNER, collection: NSID.workload, rkey: TID, cid: CID, value: workload(over) })

describe('workload ports and volumes', () => {
  test('decoded with protocol tcp by default; readOnly only when set; absent stays absent', () => {
    const w = value(decodeWorkload({ ports: [{ name: 'http', containerPort: 80 }, { name: 'dns', containerPort: 53, protocol: 'udp' }], volumes: [{ name: 'data', target: '/data' }, { name: 'conf', target: '/etc/app', readOnly: true }] }))
    expect(w.ports).toEqual([
      { name: 'http', containerPort: 80, protocol: 'tcp' },
      { name: 'dns', containerPort: 53, protocol: 'udp' },
    ])
    expect(w.volumes).toEqual([{ name: 'data', target: '/data' }, { name: 'conf', target: '/etc/app', readOnly: true }])
    const plain = value(decodeWorkload({}))
    expect('ports' in plain).toBe(false)
    expect('volumes' in plain).toBe(false)
  })

  test('refused with the reason a person can act on', () => {
    expect(reason(decodeWorkload({ ports: [{ name: 'http', containerPort: 80 }, { name: 'http', containerPort: 81 }] }))).toContain('ports[1].name "http" is used twice')
    expect(reason(decodeWorkload({ ports: [{ name: 'http', containerPort: 80, protocol: 'sctp' }] }))).toContain('ports[0].protocol')
    expect(reason(decodeWorkload({ ports: [{ name: 'http', containerPort: 0 }] }))).toMatch(/containerPort/)
    expect(reason(decodeWorkload({ volumes: [{ name: 'data', target: '/data/../../etc' }] }))).toContain('volumes[0].target')
    expect(reason(decodeWorkload({ volumes: [{ name: 'data', target: '/a' }, { name: 'data', target: '/b' }] }))).toContain('is used twice')
    // a Docker-style host bind in `volumes` is no volume: the record is refused, nothing is mounted
    expect(reason(decodeWorkload({ volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }))).toMatch(/volumes/)
  })

  test('encode then decode gives the same fields', () => {
    const ports = [{ name: 'http', containerPort: 8080, protocol: 'tcp' as const }]
    const volumes = [{ name: 'data', target: '/data', readOnly: true }]
    const rec = encodeWorkload({ name: 'w', image: 'meshlet/busybox:test', replicas: 1, resources: { cpuMillis: 1, memoryMb: 6 }, env: [], kind: 'service', restart: { policy: 'always' }, constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' }, bidWindowMs: 1000, delivery: 'at-most-once', createdAt: AT, ports, volumes })
    const w = value(decodeRecord({ did: OWNER, collection: NSID.workload, rkey: TID, cid: CID, value: rec }))
    expect(w.ports).toEqual(ports)
    expect(w.volumes).toEqual(volumes)
  })
})

describe('status endpoints and profile volumes', () => {
  const status = (endpoints: unknown) => decodeRecord({ did: MESHLET, collection: NSID.workloadStatus, rkey: statusRkey(W_URI), cid: CID, value: { $type: NSID.workloadStatus, workload: { uri: W_URI, cid: CID }, state: 'running', updatedAt: AT, endpoints } })

  test('endpoints round-trip; non-URLs and other schemes are refused', () => {
    const rec = encodeStatus({ workload: { uri: W_URI, cid: CID }, state: 'running', updatedAt: AT, endpoints: [{ name: 'http', url: 'http://desk.example:24001' }] })
    const s = value(decodeRecord({ did: MESHLET, collection: NSID.workloadStatus, rkey: statusRkey(W_URI), cid: CID, value: rec }))
    expect(s.endpoints).toEqual([{ name: 'http', url: 'http://desk.example:24001' }])
    expect(value(status([{ name: 'dns', url: 'udp://10.9.0.2:24002' }])).endpoints).toEqual([{ name: 'dns', url: 'udp://10.9.0.2:24002' }])
    expect(reason(status([{ name: 'x', url: 'javascript:alert(1)' }]))).toMatch(/endpoints\[0\]\.url/)
  })

  test('profile volumes name workload records', () => {
    const base = { endpoint: 'https://m.example', roles: [], labels: [], capabilities: [], cpuMillis: 1000, memoryMb: 1024, updatedAt: AT }
    const rec = encodeProfile({ ...base, volumes: [{ workload: W_URI, name: 'data' }] })
    const p = value(decodeRecord({ did: MESHLET, collection: NSID.profile, rkey: 'self', cid: CID, value: rec }))
    expect(p.volumes).toEqual([{ workload: W_URI, name: 'data' }])
    const bad = decodeRecord({ did: MESHLET, collection: NSID.profile, rkey: 'self', cid: CID, value: { ...rec, volumes: [{ workload: `at://${OWNER}/${NSID.bid}/${TID}`, name: 'data' }] } })
    expect(reason(bad)).toMatch(/volumes\[0\]\.workload/)
  })
})
