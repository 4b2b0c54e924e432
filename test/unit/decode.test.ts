import { createHash } from 'node:crypto'
import { isValidRecordKey } from '@atproto/syntax'
import { describe, expect, test } from 'vitest'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import {
  encodeBid,
  encodeMembership,
  encodeMeshletLink,
  encodeMeshletOwner,
  encodeProfile,
  encodeStatus,
  encodeWorkload,
  fnv1a64Hex,
  statusRkey,
} from '../../src/core/encode.js'
import { RecordEncodeError } from '../../src/errors.js'
import { NSID, type Bid, type Profile, type RecordEvent, type Workload, type WorkloadStatus } from '../../src/core/types.js'

const OWNER = 'did:plc:ownerownerownerownerowne'
const MESHLET = 'did:plc:meshletmeshletmeshletmes'
const OTHER = 'did:web:example.com'
const TID = '3jzfcijpj2z2a'
const TID2 = '3jzfcijpj2z2b'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const CID2 = 'bafyreiauohws3twva5wytmftdfko7jlsdy572pxr7gubgyhrw3l4orje7y'
const AT = '2026-01-02T03:04:05.000Z'
const WORKLOAD_URI = `at://${OWNER}/${NSID.workload}/${TID}`
const BID_URI = `at://${MESHLET}/${NSID.bid}/${TID2}`

const workloadValue = (over: Record<string, unknown> = {}) => ({
  $type: NSID.workload,
  name: 'web',
  image: '127.0.0.1:5000/meshlet/busybox:test',
  replicas: 2,
  resources: { cpuMillis: 250, memoryMb: 64 },
  createdAt: AT,
  ...over,
})
const bidValue = (over: Record<string, unknown> = {}) => ({
  $type: NSID.bid,
  workload: { uri: WORKLOAD_URI, cid: CID },
  priority: 10,
  createdAt: AT,
  ...over,
})
const profileValue = (over: Record<string, unknown> = {}) => ({
  $type: NSID.profile,
  endpoint: 'https://meshlet.example.com',
  roles: ['compute'],
  cpuMillis: 4000,
  memoryMb: 8192,
  updatedAt: AT,
  ...over,
})
const historyEntry = (over: Record<string, unknown> = {}) => ({
  cid: CID2,
  bid: { uri: BID_URI, cid: CID },
  priority: 10,
  replica: 0,
  state: 'running',
  startedAt: AT,
  updatedAt: AT,
  ...over,
})
const statusValue = (over: Record<string, unknown> = {}) => ({
  $type: NSID.workloadStatus,
  workload: { uri: WORKLOAD_URI, cid: CID },
  state: 'running',
  updatedAt: AT,
  ...over,
})

function decode(collection: string, rkey: string, value: unknown, did = collection === NSID.workload || collection === NSID.meshlet ? OWNER : MESHLET) {
  return decodeRecord({ did, collection, rkey, cid: CID2, value })
}

function put(ev: RecordEvent | undefined) {
  if (ev?.op !== 'put') throw new Error(`expected a put, got ${JSON.stringify(ev)}`)
  return ev.record.value
}

describe('decodeRecord: valid records of every collection', () => {
  test('meshlet link (owner repo, rkey = meshlet DID)', () => {
    const ev = decode(NSID.meshlet, MESHLET, { $type: NSID.meshlet, meshletDid: MESHLET, createdAt: AT })
    expect(ev).toMatchObject({ op: 'put', did: OWNER, rkey: MESHLET, cid: CID2, uri: `at://${OWNER}/${NSID.meshlet}/${MESHLET}` })
    expect(put(ev)).toEqual({ owner: OWNER, meshlet: MESHLET })
  })

  test('meshletOwner claim', () => {
    expect(put(decode(NSID.meshletOwner, 'self', { $type: NSID.meshletOwner, ownerDid: OWNER, createdAt: AT }))).toEqual({ meshlet: MESHLET, owner: OWNER })
  })

  test('membership drops duplicate members, keeping order', () => {
    const v = { $type: NSID.membership, members: [OWNER, OTHER, OWNER], createdAt: AT }
    expect(put(decode(NSID.membership, 'self', v))).toEqual({ meshlet: MESHLET, members: [OWNER, OTHER] })
  })

  test('profile gets empty labels/capabilities by default', () => {
    expect(put(decode(NSID.profile, 'self', profileValue()))).toEqual({
      meshlet: MESHLET,
      endpoint: 'https://meshlet.example.com',
      roles: ['compute'],
      labels: [],
      capabilities: [],
      cpuMillis: 4000,
      memoryMb: 8192,
      updatedAt: AT,
    })
  })

  test('minimal workload gets the documented defaults', () => {
    const w = put(decode(NSID.workload, TID, workloadValue())) as Workload
    expect(w).toEqual({
      uri: WORKLOAD_URI,
      cid: CID2,
      owner: OWNER,
      rkey: TID,
      name: 'web',
      image: '127.0.0.1:5000/meshlet/busybox:test',
      replicas: 2,
      resources: { cpuMillis: 250, memoryMb: 64 },
      env: [],
      kind: 'service',
      restart: { policy: 'always' },
      constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
      bidWindowMs: 5000,
      delivery: 'at-most-once',
      createdAt: AT,
    })
  })

  test('a batch workload defaults to restart never; defaultBidWindowMs is an option', () => {
    const ev = decodeRecord({ did: OWNER, collection: NSID.workload, rkey: TID, cid: CID, value: workloadValue({ kind: 'batch' }) }, { defaultBidWindowMs: 7000 })
    const w = put(ev) as Workload
    expect(w.restart).toEqual({ policy: 'never' })
    expect(w.bidWindowMs).toBe(7000)
  })

  test('full workload keeps every field; constraint members are deduplicated', () => {
    const w = put(
      decode(
        NSID.workload,
        TID,
        workloadValue({
          command: ['sh', '-c', 'echo hi'],
          env: [{ name: 'A', value: '1' }],
          kind: 'service',
          restart: { policy: 'on-failure', maxRetries: 3 },
          constraints: { roles: ['gpu'], labels: [{ key: 'zone', value: 'home' }], capabilities: ['x86_64'], members: [OWNER, OWNER], privacy: 'owner-only' },
          bidWindowMs: 1000,
          delivery: 'at-most-once',
          resources: { cpuMillis: 1000, memoryMb: 128, storageMb: 10 },
        }),
      ),
    ) as Workload
    expect(w).toMatchObject({
      command: ['sh', '-c', 'echo hi'],
      env: [{ name: 'A', value: '1' }],
      restart: { policy: 'on-failure', maxRetries: 3 },
      constraints: { roles: ['gpu'], labels: [{ key: 'zone', value: 'home' }], capabilities: ['x86_64'], members: [OWNER], privacy: 'owner-only' },
      bidWindowMs: 1000,
      resources: { cpuMillis: 1000, memoryMb: 128, storageMb: 10 },
    })
  })

  test('bid with capacity; an unknown thermal value reads as unknown', () => {
    const b = put(decode(NSID.bid, TID2, bidValue({ capacity: { cpuMillisFree: 500, memoryMbFree: 100, thermal: 'molten' } }))) as Bid
    expect(b).toEqual({
      uri: BID_URI,
      cid: CID2,
      meshlet: MESHLET,
      rkey: TID2,
      workload: { uri: WORKLOAD_URI, cid: CID },
      priority: 10,
      capacity: { cpuMillisFree: 500, memoryMbFree: 100, thermal: 'unknown' },
      createdAt: AT,
    })
  })

  test('workload status at its SHA-256 rkey', () => {
    const s = put(decode(NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ exitCode: -1, bid: { uri: BID_URI, cid: CID } }))) as WorkloadStatus
    expect(s).toMatchObject({ meshlet: MESHLET, state: 'running', exitCode: -1, workload: { uri: WORKLOAD_URI, cid: CID }, bid: { uri: BID_URI, cid: CID } })
  })

  test('a history entry may name the current version (a fresh claim on the same version after yielding)', () => {
    const s = put(decode(NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: [historyEntry({ cid: CID })] }))) as WorkloadStatus
    expect(s.history?.[0]?.cid).toBe(CID)
  })

  test('a status with the claims of earlier versions (history) and a bid naming its totals', () => {
    const s = put(decode(NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: Array.from({ length: 32 }, () => historyEntry()) }))) as WorkloadStatus
    expect(s.history).toHaveLength(32)
    expect(s.history![31]).toEqual({ cid: CID2, bid: { uri: BID_URI, cid: CID }, priority: 10, replica: 0, state: 'running', startedAt: AT, updatedAt: AT })
    const b = put(decode(NSID.bid, TID, bidValue({ capacity: { cpuMillisFree: 1, memoryMbFree: 2, cpuMillisTotal: 4000, memoryMbTotal: 8192 } }))) as Bid
    expect(b.capacity).toEqual({ cpuMillisFree: 1, memoryMbFree: 2, cpuMillisTotal: 4000, memoryMbTotal: 8192 })
  })

  test('a status at any other rkey is rejected, saying which key it should have used', () => {
    const other = `at://${OWNER}/${NSID.workload}/${TID2}`
    for (const rkey of [statusRkey(other), 'w0123456789abcdef', TID]) {
      const ev = decode(NSID.workloadStatus, rkey, statusValue())
      expect(ev).toMatchObject({ op: 'rejected', rkey })
      if (ev?.op === 'rejected') expect(ev.reason).toContain(`invalid: status at rkey ${rkey}, expected ${statusRkey(WORKLOAD_URI)}`)
    }
  })

  test('records of other collections are not ours', () => {
    expect(decodeRecord({ did: OWNER, collection: 'app.bsky.feed.post', rkey: TID, cid: CID, value: { $type: 'app.bsky.feed.post', text: 'hi' } })).toBeUndefined()
  })
})

describe('decodeRecord: bad records are rejected with a readable reason', () => {
  const huge = 'x'.repeat(70 * 1024)
  test.each([
    ['float replicas', NSID.workload, TID, workloadValue({ replicas: 1.5 }), 'Expected integer value type (got 1.5) at $.replicas'],
    ['string replicas', NSID.workload, TID, workloadValue({ replicas: '2' }), 'at $.replicas'],
    ['zero replicas', NSID.workload, TID, workloadValue({ replicas: 0 }), 'at $.replicas'],
    ['missing image', NSID.workload, TID, workloadValue({ image: undefined }), 'at $.image'],
    ['missing resources', NSID.workload, TID, workloadValue({ resources: undefined }), 'at $.resources'],
    ['negative cpu', NSID.workload, TID, workloadValue({ resources: { cpuMillis: -1, memoryMb: 64 } }), 'integer too small (minimum 1, got -1) at $.resources.cpuMillis'],
    ['absurd memory', NSID.workload, TID, workloadValue({ resources: { cpuMillis: 100, memoryMb: 1e12 } }), 'at $.resources.memoryMb'],
    ['name too long', NSID.workload, TID, workloadValue({ name: 'n'.repeat(200) }), 'at $.name'],
    ['bad createdAt', NSID.workload, TID, workloadValue({ createdAt: 'yesterday' }), 'Invalid datetime'],
    ['tiny bid window', NSID.workload, TID, workloadValue({ bidWindowMs: 5 }), 'at $.bidWindowMs'],
    ['unknown kind', NSID.workload, TID, workloadValue({ kind: 'cron' }), 'unknown kind "cron"'],
    ['unknown restart policy', NSID.workload, TID, workloadValue({ restart: { policy: 'sometimes' } }), 'unknown restart.policy "sometimes"'],
    ['unknown privacy', NSID.workload, TID, workloadValue({ constraints: { privacy: 'secret' } }), 'unknown constraints.privacy "secret"'],
    ['constraint member not a DID', NSID.workload, TID, workloadValue({ constraints: { members: ['alice'] } }), 'Invalid DID'],
    ['env name with =', NSID.workload, TID, workloadValue({ env: [{ name: 'A=B', value: '1' }] }), 'env[0].name "A=B" cannot contain "="'],
    ['image with whitespace', NSID.workload, TID, workloadValue({ image: 'busy box' }), 'contains whitespace'],
    ['image with uppercase repo', NSID.workload, TID, workloadValue({ image: 'Library/BusyBox:latest' }), 'image "Library/BusyBox:latest": invalid image reference: repository name must be lowercase'],
    ['image garbage', NSID.workload, TID, workloadValue({ image: 'busybox::1' }), 'invalid image reference: bad path component "busybox:"'],
    ['image too long', NSID.workload, TID, workloadValue({ image: 'a'.repeat(600) }), 'at $.image'],
    ['wrong $type', NSID.workload, TID, { ...workloadValue(), $type: NSID.bid }, '$type is "commune.scheduler.bid" but the record is in collection "commune.scheduler.workload"'],
    ['missing $type', NSID.workload, TID, { ...workloadValue(), $type: undefined }, 'no $type'],
    ['workload rkey not a TID', NSID.workload, 'my-workload', workloadValue(), 'record key must be a TID (got "my-workload")'],
    ['bid rkey not a TID', NSID.bid, 'self', bidValue(), 'record key must be a TID'],
    ['profile rkey not self', NSID.profile, 'main', profileValue(), 'record key must be "self" (got "main")'],
    ['membership rkey not self', NSID.membership, TID, { $type: NSID.membership, members: [], createdAt: AT }, 'record key must be "self"'],
    ['meshlet rkey differs from meshletDid', NSID.meshlet, OTHER, { $type: NSID.meshlet, meshletDid: MESHLET, createdAt: AT }, "record key must be the meshlet's DID"],
    ['member not a DID', NSID.membership, 'self', { $type: NSID.membership, members: ['bob.test'], createdAt: AT }, 'Invalid DID'],
    ['profile ftp endpoint', NSID.profile, 'self', profileValue({ endpoint: 'ftp://meshlet.example.com' }), 'endpoint must be an http(s) URL'],
    ['profile endpoint not a URI', NSID.profile, 'self', profileValue({ endpoint: 'meshlet.example.com' }), 'endpoint'],
    ['profile negative cpu', NSID.profile, 'self', profileValue({ cpuMillis: -5 }), 'at $.cpuMillis'],
    ['profile lease too short', NSID.profile, 'self', profileValue({ leaseMs: 10 }), 'at $.leaseMs'],
    ['bid ref not an at-uri', NSID.bid, TID, bidValue({ workload: { uri: 'https://example.com/w', cid: CID } }), 'Invalid at-uri'],
    ['bid ref to a bid', NSID.bid, TID, bidValue({ workload: { uri: BID_URI, cid: CID } }), 'workload.uri must point to a commune.scheduler.workload record'],
    ['bid ref by handle', NSID.bid, TID, bidValue({ workload: { uri: `at://alice.test/${NSID.workload}/${TID}`, cid: CID } }), 'must name its repo by DID'],
    ['bid ref bad cid', NSID.bid, TID, bidValue({ workload: { uri: WORKLOAD_URI, cid: 'not-a-cid' } }), '$.workload.cid'],
    ['bid float priority', NSID.bid, TID, bidValue({ priority: 0.5 }), 'at $.priority'],
    ['status unknown state', NSID.workloadStatus, 'w1', statusValue({ state: 'dancing' }), 'unknown state "dancing"'],
    ['status bid ref to a workload', NSID.workloadStatus, 'w1', statusValue({ bid: { uri: WORKLOAD_URI, cid: CID } }), 'bid.uri must point to a commune.scheduler.bid record'],
    ['status history too long', NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: Array.from({ length: 33 }, () => historyEntry()) }), 'at $.history'],
    ['status history entry without its bid', NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: [historyEntry({ bid: undefined })] }), 'at $.history[0].bid'],
    ['status history entry with a float replica', NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: [historyEntry({ replica: 0.5 })] }), 'at $.history[0].replica'],
    ['status history entry with an unknown state', NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: [historyEntry({ state: 'dancing' })] }), 'unknown history[0].state "dancing"'],
    ['status history on another meshlet\'s bid', NSID.workloadStatus, statusRkey(WORKLOAD_URI), statusValue({ history: [historyEntry({ bid: { uri: `at://${OTHER}/${NSID.bid}/${TID}`, cid: CID } })] }), "history[0].bid must be this meshlet's own bid"],
    ['bid capacity total beyond the cap', NSID.bid, TID, bidValue({ capacity: { cpuMillisFree: 1, memoryMbFree: 1, memoryMbTotal: 2 ** 25 } }), 'at $.capacity.memoryMbTotal'],
    ['huge record', NSID.workload, TID, workloadValue({ env: [{ name: 'BIG', value: huge }] }), 'record is too large'],
    ['null value', NSID.workload, TID, null, 'not a JSON object'],
    ['array value', NSID.workload, TID, [1, 2], 'not a JSON object'],
  ])('%s', (_label, collection, rkey, value, reason) => {
    const ev = decode(collection, rkey, value)
    expect(ev?.op).toBe('rejected')
    if (ev?.op !== 'rejected') return
    expect(ev.reason).toContain(reason)
    expect(ev).toMatchObject({ collection, rkey, cid: CID2 })
  })

  test('a value that cannot be serialised is rejected, not thrown', () => {
    const cyclic: Record<string, unknown> = { ...workloadValue() }
    cyclic.self = cyclic
    const ev = decode(NSID.workload, TID, cyclic)
    expect(ev?.op).toBe('rejected')
  })

  // The edge applies core/image-ref.ts (its own table: test/core/image-ref.test.ts): what it accepts
  // is a workload, what it refuses is a rejection that quotes the image and the grammar's reason.
  test.each([
    ['busybox', undefined],
    ['busybox:1.36', undefined],
    ['library/busybox@sha256:' + 'a'.repeat(64), undefined],
    ['127.0.0.1:5000/meshlet/busybox:test', undefined],
    ['localhost/app_name:v1.0-rc', undefined],
    ['ghcr.io/Owner-Case/app', 'repository name must be lowercase'],
    ['app:', 'empty tag after ":"'],
    ['-app', 'bad path component "-app"'],
    ['busybox@sha256:abc', 'bad digest "sha256:abc"'],
    ['registry:port/app', 'bad registry host "registry:port"'],
  ])('workload image %j at the record edge', (image, problem) => {
    const ev = decode(NSID.workload, TID, workloadValue({ image }))
    if (problem === undefined) {
      expect(ev).toMatchObject({ op: 'put', record: { value: { image } } })
      return
    }
    expect(ev?.op).toBe('rejected')
    const reason = ev?.op === 'rejected' ? ev.reason : ''
    expect(reason.startsWith(`image ${JSON.stringify(image)}: invalid image reference: ${problem}`), reason).toBe(true)
  })
})

describe('encode', () => {
  const workload: Workload = {
    uri: WORKLOAD_URI,
    cid: CID,
    owner: OWNER,
    rkey: TID,
    name: 'job',
    image: 'busybox:latest',
    replicas: 3,
    resources: { cpuMillis: 500, memoryMb: 32, storageMb: 5 },
    command: ['echo', 'hi'],
    env: [{ name: 'X', value: 'y' }],
    kind: 'batch',
    restart: { policy: 'on-failure', maxRetries: 2 },
    constraints: { roles: ['r'], labels: [{ key: 'k', value: 'v' }], capabilities: ['c'], members: [OTHER], privacy: 'owner-only' },
    bidWindowMs: 2000,
    delivery: 'at-least-once',
    createdAt: AT,
  }
  const bid: Bid = {
    uri: BID_URI,
    cid: CID2,
    meshlet: MESHLET,
    rkey: TID2,
    workload: { uri: WORKLOAD_URI, cid: CID },
    priority: 42,
    capacity: { cpuMillisFree: 1000, memoryMbFree: 512, loadPermille: 300, onBattery: false, batteryPermille: 900, thermal: 'warm' },
    decline: 'busy',
    createdAt: AT,
  }
  const profile: Profile = {
    meshlet: MESHLET,
    endpoint: 'http://localhost:2583',
    roles: ['compute'],
    labels: [{ key: 'zone', value: 'attic' }],
    capabilities: ['amd64'],
    cpuMillis: 2000,
    memoryMb: 4096,
    storageMb: 10000,
    version: '0.1.0',
    leaseMs: 90_000,
    updatedAt: AT,
  }
  const srk = statusRkey(WORKLOAD_URI)
  const status: WorkloadStatus = {
    uri: `at://${MESHLET}/${NSID.workloadStatus}/${srk}`,
    cid: CID2,
    meshlet: MESHLET,
    workload: { uri: WORKLOAD_URI, cid: CID },
    state: 'exited',
    bid: { uri: BID_URI, cid: CID2 },
    priority: 42,
    replica: 0,
    containerId: 'abc123',
    exitCode: 137,
    oomKilled: true,
    message: 'killed',
    leaseMs: 30000,
    startedAt: AT,
    updatedAt: AT,
  }

  const statusWithHistory: WorkloadStatus = { ...status, history: [{ cid: CID2, bid: { uri: BID_URI, cid: CID }, priority: 7, replica: 1, state: 'stopped', startedAt: AT, updatedAt: AT }] }

  test.each([
    ['workload', OWNER, NSID.workload, TID, CID, () => encodeWorkload(workload), workload],
    ['bid', MESHLET, NSID.bid, TID2, CID2, () => encodeBid(bid), bid],
    ['profile', MESHLET, NSID.profile, 'self', CID2, () => encodeProfile(profile), profile],
    ['status', MESHLET, NSID.workloadStatus, srk, CID2, () => encodeStatus(status), status],
    ['status with history', MESHLET, NSID.workloadStatus, srk, CID2, () => encodeStatus(statusWithHistory), statusWithHistory],
    ['meshlet link', OWNER, NSID.meshlet, MESHLET, CID, () => encodeMeshletLink({ meshlet: MESHLET }, AT), { owner: OWNER, meshlet: MESHLET }],
    ['meshletOwner', MESHLET, NSID.meshletOwner, 'self', CID, () => encodeMeshletOwner({ owner: OWNER }, AT), { meshlet: MESHLET, owner: OWNER }],
    ['membership', MESHLET, NSID.membership, 'self', CID, () => encodeMembership({ members: [OWNER, OTHER, OWNER] }, AT), { meshlet: MESHLET, members: [OWNER, OTHER] }],
  ])('%s: encode then decode gives the same core value', (_label, did, collection, rkey, cid, encode, expected) => {
    const value = encode()
    expect(value.$type).toBe(collection)
    expect(JSON.stringify(value)).not.toContain('undefined')
    const ev = decodeRecord({ did, collection, rkey, cid, value: JSON.parse(JSON.stringify(value)) })
    expect(ev?.op).toBe('put')
    expect(put(ev)).toEqual(expected)
  })

  test('optional fields that are undefined are left out of the record', () => {
    const rec = encodeStatus({ workload: { uri: WORKLOAD_URI, cid: CID }, state: 'pending', updatedAt: AT, message: undefined })
    expect(Object.keys(rec).sort()).toEqual(['$type', 'state', 'updatedAt', 'workload'])
  })

  test('numbers are rounded to integers; non-finite numbers are refused', () => {
    const rec = encodeBid({ workload: { uri: WORKLOAD_URI, cid: CID }, priority: 2.6, createdAt: AT, capacity: { cpuMillisFree: 99.4, memoryMbFree: 10.5 } })
    expect(rec.priority).toBe(3)
    expect(rec.capacity).toEqual({ cpuMillisFree: 99, memoryMbFree: 11 })
    expect(() => encodeBid({ workload: { uri: WORKLOAD_URI, cid: CID }, priority: Number.NaN, createdAt: AT })).toThrow(/priority must be a finite number/)
  })

  test('an invalid value throws RecordEncodeError naming the field', () => {
    const bad = { ...workload, replicas: 0 }
    expect(() => encodeWorkload(bad)).toThrow(RecordEncodeError)
    expect(() => encodeWorkload(bad)).toThrow(/\$\.replicas/)
    expect(() => encodeProfile({ ...profile, labels: [{ key: '', value: 'x' }] })).toThrow(/labels\[0\]\.key/)
  })

  test.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('fnv1a64Hex(%j) = %s', (input, hex) => {
    expect(fnv1a64Hex(input)).toBe(hex)
  })

  test('statusRkey is a stable, valid record key, distinct per workload', () => {
    const a = statusRkey(WORKLOAD_URI)
    // "s" + SHA-256 hex of the uri (docs/protocol.md): a 64-bit FNV key could be collided by search.
    expect(a).toMatch(/^s[0-9a-f]{64}$/)
    expect(a).toBe('s' + createHash('sha256').update(WORKLOAD_URI, 'utf8').digest('hex'))
    expect(isValidRecordKey(a)).toBe(true)
    expect(statusRkey(WORKLOAD_URI)).toBe(a)
    expect(statusRkey(`at://${OWNER}/${NSID.workload}/${TID2}`)).not.toBe(a)
  })
})
