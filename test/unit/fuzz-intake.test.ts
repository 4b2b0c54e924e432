// Issue 6 part B, hostile input at the intake edge (pure). More than 10,000 generated records of
// every commune.scheduler.* collection go through the real decode edge (lexicon validation), the
// CommuneView and the scheduling core (eligibility, decideWorkload, selectWinners):
// - nothing throws; every invalid record is `rejected` with a one-line, bounded reason that names
//   what is wrong, and that reason fits the owner's failed status record;
// - lexicon-valid but hostile records (forged bids and claims, duplicates, non-members, spoofed
//   meshlets, strongRefs to nothing) change no placement decision of the honest meshlets;
// - the view's memory is bounded: rejections cost a fixed amount however many arrive, and
//   churn (put/reject/delete) returns the heap to where it started.
import { createHash } from 'node:crypto'
import v8 from 'node:v8'
import vm from 'node:vm'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { MAX_REASON_BYTES, decodeRecord, type RecordInput } from '../../src/adapters/atproto/decode.js'
import { encodeBid, encodeMembership, encodeMeshletLink, encodeMeshletOwner, encodeProfile, encodeStatus, encodeWorkload } from '../../src/core/encode.js'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { eligibility } from '../../src/core/eligibility.js'
import { decideWorkload, type Decision, type Offer } from '../../src/core/decide.js'
import { checkFeasibility } from '../../src/core/feasibility.js'
import { selectWinners } from '../../src/core/selection.js'
import { statusRkey } from '../../src/core/hash.js'
import { CommuneView } from '../../src/core/view.js'
import { NSID, type Did, type HostSnapshot, type Profile, type RecordEvent, type Workload } from '../../src/core/types.js'

// ---- the commune ------------------------------------------------------------------------------

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'
const plc = (seed: string) => `did:plc:${seed.padEnd(24, 'x').slice(0, 24)}`
const ANN = plc('annowner')
const ANN_M = plc('annmeshlet')
const BEN = plc('benowner')
const BEN_M = plc('benmeshlet')
/** Not a member: linked both ways, lists ann, but ann does not list it back. */
const STRANGER = plc('strangerowner')
const STRANGER_M = plc('strangermeshlet')
/** Says ann owns it; ann never linked it. */
const SPOOF_M = plc('spoofmeshlet')
const HONEST: readonly Did[] = [ANN_M, BEN_M]
const HOSTILE_REPOS: readonly Did[] = [ANN, BEN, STRANGER, STRANGER_M, SPOOF_M, plc('randomrepoone'), 'did:web:evil.example.com']

const NOW = Date.parse('2026-03-01T12:00:00.000Z')
const ISO = new Date(NOW).toISOString()
const LEASE_MS = 15_000
/** A real CIDv1 (dag-cbor, sha-256) in base32, derived from n: the lexicon checks CID syntax. */
const CID = (n: number) => {
  const bytes = Buffer.concat([Buffer.from([0x01, 0x71, 0x12, 0x20]), createHash('sha256').update(String(n)).digest()])
  let bits = 0
  let acc = 0
  let out = 'b'
  for (const byte of bytes) {
    acc = (acc << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out
}
/** Honest records use the smallest TIDs, so a hostile later duplicate never becomes "the earliest". */
const HONEST_TID = (n: number) => `222222222222${B32[26 + n]}`

const W1 = { uri: `at://${ANN}/${NSID.workload}/3kaaaaaaaaaa2`, cid: CID(1) }
const W2 = { uri: `at://${BEN}/${NSID.workload}/3kaaaaaaaaaa3`, cid: CID(2) }
const CURRENT = [W1, W2]

const workloadValue = (over: Partial<Workload> = {}) =>
  encodeWorkload({
    name: 'web',
    image: '127.0.0.1:5000/meshlet/busybox:test',
    replicas: 1,
    resources: { cpuMillis: 250, memoryMb: 64 },
    env: [],
    kind: 'service',
    restart: { policy: 'always' },
    constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
    bidWindowMs: 1000,
    delivery: 'at-most-once',
    createdAt: ISO,
    ...over,
  })
const profileValue = (updatedAt = ISO) =>
  encodeProfile({ endpoint: 'https://meshlet.example.com', roles: ['worker'], labels: [], capabilities: [], cpuMillis: 4000, memoryMb: 8192, leaseMs: LEASE_MS, updatedAt })
const bidValue = (ref: { uri: string; cid: string }, priority: number, decline?: string) => encodeBid({ workload: ref, priority, createdAt: ISO, ...(decline ? { decline } : {}) })
const statusValue = (ref: { uri: string; cid: string }, state: 'running' | 'pending', priority = 1_000_000) =>
  encodeStatus({ workload: ref, state, priority, replica: 0, updatedAt: ISO })

const rec = (did: Did, collection: string, rkey: string, value: unknown, cid = CID(did.length + rkey.length)): RecordInput => ({ did, collection, rkey, cid, value })

/** The honest commune: ann and ben mutual, a stranger and a spoof nearby, two workloads with honest bids and one claim. */
function honestRecords(): RecordInput[] {
  const out: RecordInput[] = []
  const meshlet = (owner: Did, m: Did, members: Did[], linked: boolean) => {
    if (linked) out.push(rec(owner, NSID.meshlet, m, encodeMeshletLink({ meshlet: m }, ISO)))
    out.push(rec(m, NSID.meshletOwner, 'self', encodeMeshletOwner({ owner }, ISO)))
    out.push(rec(m, NSID.membership, 'self', encodeMembership({ members }, ISO)))
    out.push(rec(m, NSID.profile, 'self', profileValue()))
  }
  meshlet(ANN, ANN_M, [BEN], true)
  meshlet(BEN, BEN_M, [ANN], true)
  meshlet(STRANGER, STRANGER_M, [ANN, BEN], true)
  meshlet(ANN, SPOOF_M, [BEN], false)
  out.push({ ...rec(ANN, NSID.workload, W1.uri.split('/').pop()!, workloadValue({ name: 'w1' })), cid: W1.cid })
  out.push({ ...rec(BEN, NSID.workload, W2.uri.split('/').pop()!, workloadValue({ name: 'w2', replicas: 2 })), cid: W2.cid })
  out.push(rec(ANN_M, NSID.bid, HONEST_TID(0), bidValue(W1, 400)))
  out.push(rec(BEN_M, NSID.bid, HONEST_TID(0), bidValue(W1, 300)))
  out.push(rec(ANN_M, NSID.bid, HONEST_TID(1), bidValue(W2, 200)))
  out.push(rec(BEN_M, NSID.bid, HONEST_TID(1), bidValue(W2, 100)))
  out.push(rec(BEN_M, NSID.workloadStatus, statusRkey(W2.uri), statusValue(W2, 'running', 100)))
  return out
}

function applyAll(view: CommuneView, inputs: Iterable<RecordInput>): RecordEvent[] {
  const events: RecordEvent[] = []
  for (const input of inputs) {
    const ev = decodeRecord(input)
    if (!ev) throw new Error(`not one of our collections: ${input.collection}`)
    view.apply(ev, NOW - 60_000)
    events.push(ev)
  }
  return events
}

function honestView(): CommuneView {
  const view = new CommuneView()
  for (const ev of applyAll(view, honestRecords())) if (ev.op !== 'put') throw new Error(`honest record rejected: ${ev.op === 'rejected' ? ev.reason : ''}`)
  return view
}

// ---- generators -------------------------------------------------------------------------------

const TID_FIRST = '34567abcdefghij'
const tid = fc.tuple(fc.constantFrom(...TID_FIRST), fc.string({ unit: fc.constantFrom(...B32), minLength: 12, maxLength: 12 })).map(([a, b]) => a + b)
const randomDid = fc.string({ unit: fc.constantFrom(...B32), minLength: 24, maxLength: 24 }).map((s) => `did:plc:${s}`)
const validCid = fc.integer({ min: 0, max: 1023 }).map(CID)
const nonexistentWorkload = fc.record({ uri: fc.tuple(randomDid, tid).map(([d, t]) => `at://${d}/${NSID.workload}/${t}`), cid: validCid })

/** Strings whose UTF-8 length is at least `minBytes` (up to ~70 KB): the "huge strings" of the issue. */
const hugeString = (minBytes: number) =>
  fc
    .tuple(fc.constantFrom('x', 'é', '💥', '\u0000', '\n', 'a"b\\', '\u202e', '\ud800'), fc.integer({ min: minBytes, max: 70_000 }))
    .map(([unit, n]) => unit.repeat(Math.ceil(n / Buffer.byteLength(unit, 'utf8'))))
const hugeArray = (minItems: number) => fc.tuple(fc.constantFrom<unknown>('x', 1, null, {}, []), fc.integer({ min: minItems, max: 20_000 })).map(([v, n]) => Array<unknown>(n).fill(v))
const notString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.double(), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }), fc.bigInt())
const notInteger = fc.oneof(
  fc.double().filter((d) => !Number.isInteger(d)),
  fc.constantFrom(NaN, Infinity, -Infinity, '5', '', true, null, [], {}),
  fc.bigInt(),
  fc.string(),
)
const notObject = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }))
const notArray = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }))
const intOutside = (min: number, max?: number) =>
  fc.oneof(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: min - 1 }), ...(max === undefined ? [] : [fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }), fc.constant(max + 1)]))
const badDatetime = fc.oneof(notString, fc.constantFrom('', 'yesterday', '2026-13-01T00:00:00Z', '2026-01-01', '1e9', 'NaN', '2026-01-01T25:00:00Z'), hugeString(200))
const badDid = fc.oneof(notString, fc.constantFrom('', 'did:', 'did:plc:', 'plc:abc', 'did:PLC:abc', 'not a did', 'did:plc:a b'), hugeString(2100))
const badAtUri = fc.oneof(
  notString,
  fc.constantFrom(
    '',
    'at://',
    'http://example.com/x',
    `at://ann.test/${NSID.workload}/3kaaaaaaaaaa2`,
    `at://${ANN}/${NSID.bid}/3kaaaaaaaaaa2`,
    `at://${ANN}/${NSID.workload}`,
    `at://${ANN}/${NSID.workload}/3kaaaaaaaaaa2?x=1#f`,
    `at://${ANN}/not a collection/3kaaaaaaaaaa2`,
  ),
  hugeString(9000).map((s) => `at://${ANN}/${NSID.workload}/${s}`),
)
const badCid = fc.oneof(notString, fc.constantFrom('', 'not-a-cid', 'bafy', 'Qm', 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3h!!', 'z'.repeat(60)), hugeString(600))
const badImage = fc.oneof(notString, fc.constantFrom('', 'Meshlet/BusyBox:test', 'has space', ':tag', 'a@b', 'x:y:z', '-lead', 'busybox:', '../../etc/passwd'), hugeString(513))
const unknownEnum = fc.oneof(notString, fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !['service', 'batch', 'always', 'on-failure', 'never', 'shared', 'owner-only', 'pending', 'pulling', 'starting', 'running', 'exited', 'failed', 'stopped'].includes(s)))
const badUrl = fc.oneof(notString, fc.constantFrom('', 'javascript:alert(1)', 'ftp://example.com', 'not a url', 'file:///etc/passwd', 'http://'), hugeString(2100))

type Mutation = { path: string; value: fc.Arbitrary<unknown> }
type Spec = { collection: string; repo: fc.Arbitrary<Did>; rkey: fc.Arbitrary<string>; base: () => Record<string, unknown>; mutations: Mutation[] }

const KEY_B64 = Buffer.alloc(32, 7).toString('base64')
const BOX_B64 = Buffer.alloc(60, 9).toString('base64')
function secretValue(): Record<string, unknown> {
  return { $type: NSID.secret, version: 1, copies: [{ meshlet: plc('linkedmeshlet'), sealingKey: KEY_B64, ciphertext: BOX_B64 }], createdAt: ISO }
}

const anyRepo = fc.constantFrom(...HOSTILE_REPOS, ...HONEST)
const SPECS: Spec[] = [
  {
    collection: NSID.workload,
    repo: anyRepo,
    rkey: tid,
    base: () => workloadValue(),
    mutations: [
      { path: 'name', value: fc.oneof(notString, hugeString(129), fc.constant('')) },
      { path: 'image', value: badImage },
      { path: 'replicas', value: fc.oneof(notInteger, intOutside(1, 64), fc.constant(10_000)) },
      { path: 'resources', value: notObject },
      { path: 'resources.cpuMillis', value: fc.oneof(notInteger, intOutside(1, 1_048_576)) },
      { path: 'resources.memoryMb', value: fc.oneof(notInteger, intOutside(6, 16_777_216)) },
      { path: 'resources.storageMb', value: fc.oneof(notInteger, intOutside(0, 1_073_741_824)) },
      { path: 'command', value: fc.oneof(notArray, hugeArray(65), fc.constant([1, 2])) },
      { path: 'env', value: fc.oneof(notArray, fc.constant([{ name: 'A=B', value: 'x' }]), fc.constant([{ name: 'A' }]), hugeArray(129)) },
      { path: 'kind', value: unknownEnum },
      { path: 'restart.policy', value: unknownEnum },
      { path: 'constraints.members', value: fc.oneof(notArray, badDid.map((d) => [d])) },
      { path: 'constraints.privacy', value: unknownEnum },
      { path: 'bidWindowMs', value: fc.oneof(notInteger, intOutside(100, 600_000)) },
      { path: 'createdAt', value: badDatetime },
    ],
  },
  {
    collection: NSID.bid,
    repo: anyRepo,
    rkey: tid,
    base: () => bidValue(W1, 10),
    mutations: [
      { path: 'workload', value: notObject },
      { path: 'workload.uri', value: badAtUri },
      { path: 'workload.cid', value: badCid },
      { path: 'priority', value: fc.oneof(notInteger, intOutside(0, 1_000_000)) },
      { path: 'decline', value: fc.oneof(notString, hugeString(513)) },
      { path: 'capacity', value: notObject },
      { path: 'capacity.cpuMillisFree', value: fc.oneof(notInteger, intOutside(0)) },
      { path: 'createdAt', value: badDatetime },
    ],
  },
  {
    collection: NSID.workloadStatus,
    repo: anyRepo,
    rkey: fc.constant(statusRkey(W1.uri)),
    base: () => statusValue(W1, 'running'),
    mutations: [
      { path: 'workload', value: notObject },
      { path: 'workload.uri', value: badAtUri },
      { path: 'workload.cid', value: badCid },
      { path: 'state', value: unknownEnum },
      { path: 'priority', value: fc.oneof(notInteger, intOutside(0, 1_000_000)) },
      { path: 'replica', value: fc.oneof(notInteger, intOutside(0)) },
      { path: 'message', value: fc.oneof(notString, hugeString(2049)) },
      { path: 'containerId', value: fc.oneof(notString, hugeString(129)) },
      { path: 'bid', value: fc.oneof(notString, fc.constantFrom('', 'at://', `at://${ANN}/${NSID.workload}/3kaaaaaaaaaa2`, `at://ann.test/${NSID.bid}/3kaaaaaaaaaa2`)).map((uri) => ({ uri, cid: CID(3) })) },
      { path: 'updatedAt', value: badDatetime },
    ],
  },
  {
    collection: NSID.profile,
    repo: fc.constantFrom(...HOSTILE_REPOS),
    rkey: fc.constant('self'),
    base: () => profileValue(),
    mutations: [
      { path: 'endpoint', value: badUrl },
      { path: 'roles', value: fc.oneof(notArray, hugeArray(33)) },
      { path: 'cpuMillis', value: fc.oneof(notInteger, intOutside(0)) },
      { path: 'memoryMb', value: fc.oneof(notInteger, intOutside(0)) },
      { path: 'leaseMs', value: fc.oneof(notInteger, intOutside(1000, 3_600_000)) },
      { path: 'updatedAt', value: badDatetime },
    ],
  },
  {
    collection: NSID.membership,
    repo: fc.constantFrom(...HOSTILE_REPOS),
    rkey: fc.constant('self'),
    base: () => encodeMembership({ members: [ANN] }, ISO),
    mutations: [
      { path: 'members', value: fc.oneof(notArray, badDid.map((d) => [ANN, d])) },
      { path: 'createdAt', value: badDatetime },
    ],
  },
  {
    collection: NSID.meshletOwner,
    repo: fc.constantFrom(...HOSTILE_REPOS),
    rkey: fc.constant('self'),
    base: () => encodeMeshletOwner({ owner: ANN }, ISO),
    mutations: [
      { path: 'ownerDid', value: badDid },
      { path: 'createdAt', value: badDatetime },
    ],
  },
  {
    collection: NSID.meshlet,
    repo: fc.constantFrom(...HOSTILE_REPOS),
    rkey: fc.constant(plc('linkedmeshlet')),
    base: () => encodeMeshletLink({ meshlet: plc('linkedmeshlet') }, ISO),
    mutations: [
      // Any other value than the rkey is wrong: an invalid DID, or a valid one that is not the key.
      { path: 'meshletDid', value: fc.oneof(badDid, randomDid) },
      { path: 'createdAt', value: badDatetime },
    ],
  },
  {
    // Secrets (issue 13)
    collection: NSID.secret,
    repo: anyRepo,
    rkey: fc.constantFrom('db-password', 'TOKEN_1', 'a.b'),
    base: () => secretValue(),
    mutations: [
      { path: 'version', value: fc.oneof(notInteger, intOutside(1)) },
      { path: 'copies', value: fc.oneof(notArray, hugeArray(65), fc.constant([{ meshlet: 'nope', sealingKey: KEY_B64, ciphertext: BOX_B64 }])) },
      { path: 'createdAt', value: badDatetime },
    ],
  },
  {
    // liveness (issue 16 part 3): one suspicion per (prober, subject), at rkey = the subject's DID
    collection: NSID.suspicion,
    repo: anyRepo,
    rkey: fc.constant(plc('suspect')),
    base: () => ({ $type: NSID.suspicion, subject: plc('suspect'), createdAt: ISO }),
    mutations: [
      { path: 'subject', value: fc.oneof(badDid, randomDid) },
      { path: 'createdAt', value: badDatetime },
    ],
  },
]


function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let cur = obj
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {}
    cur = cur[k] as Record<string, unknown>
  }
  cur[keys[keys.length - 1]!] = value
}

function deletePath(obj: Record<string, unknown>, path: string): void {
  const keys = path.split('.')
  let cur: unknown = obj
  for (const k of keys.slice(0, -1)) cur = (cur as Record<string, unknown>)[k]
  if (cur && typeof cur === 'object') delete (cur as Record<string, unknown>)[keys[keys.length - 1]!]
}

const REQUIRED: Record<string, string[]> = {
  [NSID.workload]: ['name', 'image', 'replicas', 'resources', 'resources.cpuMillis', 'resources.memoryMb', 'createdAt'],
  [NSID.bid]: ['workload', 'workload.uri', 'workload.cid', 'priority', 'createdAt'],
  [NSID.workloadStatus]: ['workload', 'workload.uri', 'state', 'updatedAt'],
  [NSID.profile]: ['endpoint', 'roles', 'cpuMillis', 'memoryMb', 'updatedAt'],
  [NSID.membership]: ['members', 'createdAt'],
  [NSID.meshletOwner]: ['ownerDid', 'createdAt'],
  [NSID.meshlet]: ['meshletDid', 'createdAt'],
  [NSID.secret]: ['version', 'copies', 'createdAt'],
  [NSID.suspicion]: ['subject', 'createdAt'],
}

/** A generated record and what must come of it. */
interface Case {
  input: RecordInput
  /** invalid: must be rejected, the reason naming `mentions`; hostile: lexicon-valid but must not sway placement; noise: anything, must not throw. */
  expect: 'invalid' | 'hostile' | 'noise'
  mentions?: RegExp
}

const lastKey = (path: string) => path.split('.').pop()!
const mention = (word: string) => new RegExp(`${word.replace(/[$.]/g, '\\$&')}|too large`)

/** One wrong field (wrong type, out of range, bad format, huge) in an otherwise valid record. */
const invalidField: fc.Arbitrary<Case> = fc.constantFrom(...SPECS).chain((spec) =>
  fc.tuple(spec.repo, spec.rkey, fc.constantFrom(...spec.mutations), validCid).chain(([repo, rkey, m, cid]) =>
    m.value.map((value): Case => {
      const v = spec.base()
      setPath(v, m.path, value)
      return { input: { did: repo, collection: spec.collection, rkey, cid, value: v }, expect: 'invalid', mentions: mention(lastKey(m.path)) }
    }),
  ),
)

/** A required field left out. */
const missingField: fc.Arbitrary<Case> = fc.constantFrom(...SPECS).chain((spec) =>
  fc.tuple(spec.repo, spec.rkey, fc.constantFrom(...REQUIRED[spec.collection]!), validCid).map(([repo, rkey, path, cid]): Case => {
    const v = spec.base()
    deletePath(v, path)
    return { input: { did: repo, collection: spec.collection, rkey, cid, value: v }, expect: 'invalid', mentions: mention(lastKey(path)) }
  }),
)

/** Syntactically fine record keys that this collection does not allow (statuses take any key). */
function wrongKeys(collection: string): string[] {
  if (collection === NSID.workloadStatus) return ['..']
  if (collection === NSID.workload || collection === NSID.bid) return ['self', '2222222222222x', 'did:plc:x']
  if (collection === NSID.meshlet) return ['self', '2222222222222', 'did:plc:x']
  if (collection === NSID.secret) return ['did:plc:x', '_x', 'a~b']
  if (collection === NSID.suspicion) return ['self', '2222222222222', 'did:plc:x']
  return ['2222222222222', 'did:plc:x', 'SELF']
}

/** Wrong at the record level: not an object, wrong or missing $type, bad record key, bad repo DID, too large. */
const invalidEnvelope: fc.Arbitrary<Case> = fc.constantFrom(...SPECS).chain((spec) =>
  fc.oneof(
    fc.tuple(spec.repo, spec.rkey, fc.oneof(notObject, fc.constant([]))).map(([did, rkey, value]): Case => ({ input: rec(did, spec.collection, rkey, value), expect: 'invalid', mentions: /not a JSON object|\$type/ })),
    fc.tuple(spec.repo, spec.rkey, fc.oneof(notString, fc.constantFrom(undefined, 'commune.scheduler.other', 'app.bsky.feed.post', ''), fc.constantFrom(...SPECS).map((s) => s.collection).filter((c) => c !== spec.collection))).map(([did, rkey, t]): Case => {
      const v = spec.base()
      if (t === undefined) delete v.$type
      else v.$type = t
      return { input: rec(did, spec.collection, rkey, v), expect: 'invalid', mentions: /\$type/ }
    }),
    fc.tuple(spec.repo, fc.oneof(fc.constantFrom('', '.', '..', 'a/b', 'has space', 'a#b'), hugeString(600), fc.constantFrom(...wrongKeys(spec.collection)))).map(([did, rkey]): Case => ({
      input: rec(did, spec.collection, rkey, spec.base()),
      expect: 'invalid',
      mentions: /record key/,
    })),
    fc.tuple(badDid.filter((d) => typeof d === 'string'), spec.rkey).map(([did, rkey]): Case => ({ input: rec(did as string, spec.collection, rkey, spec.base()), expect: 'invalid', mentions: /repo DID/ })),
    fc.tuple(spec.repo, spec.rkey, hugeString(66_000)).map(([did, rkey, pad]): Case => ({ input: rec(did, spec.collection, rkey, { ...spec.base(), padding: pad }), expect: 'invalid', mentions: /too large/ })),
  ),
)

/** A key that validators echo verbatim: "Expected string value type (got {...60 KB...})". */
const echoBomb: fc.Arbitrary<Case> = fc.tuple(fc.constantFrom(...SPECS), hugeString(30_000)).chain(([spec, key]) =>
  fc.tuple(randomDid, spec.rkey).map(([did, rkey]): Case => {
    const v = spec.base()
    const field = spec.mutations[0]!.path
    setPath(v, field, { [key.slice(0, 20_000)]: 1 })
    return { input: rec(did, spec.collection, rkey, v), expect: 'invalid', mentions: mention(lastKey(field)) }
  }),
)

/** Lexicon-valid records that try to sway placement: forged, duplicate, non-member, spoofed, dangling. */
const hostileValid: fc.Arbitrary<Case> = fc.oneof(
  // Bids and claims for ann's/ben's workloads from repos that are not eligible meshlets
  // (owners' repos naming a meshlet in an extra field, the stranger, the spoof, random repos).
  fc.tuple(fc.constantFrom(...HOSTILE_REPOS), tid, fc.constantFrom(...CURRENT), fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(...HONEST)).map(([did, rkey, w, p, named]): Case => ({
    input: rec(did, NSID.bid, rkey, { ...bidValue(w, p), meshlet: named, meshletDid: named }),
    expect: 'hostile',
  })),
  // (At the one rkey a status may have: at any other it is rejected before it gets this far.)
  fc.tuple(fc.constantFrom(...HOSTILE_REPOS), fc.constantFrom(...CURRENT), fc.constantFrom<'running' | 'pending'>('running', 'pending')).map(([did, w, state]): Case => ({
    input: rec(did, NSID.workloadStatus, statusRkey(w.uri), statusValue(w, state)),
    expect: 'hostile',
  })),
  fc.tuple(fc.constantFrom(...HOSTILE_REPOS), tid, fc.constantFrom(...CURRENT), fc.string({ maxLength: 100 })).map(([did, rkey, w, why]): Case => ({
    input: rec(did, NSID.bid, rkey, bidValue(w, 0, why || 'no')),
    expect: 'hostile',
  })),
  // Duplicate bids from honest meshlets (later rkeys: only the earliest counts), and bids for an old version.
  fc.tuple(fc.constantFrom(...HONEST), tid, fc.constantFrom(...CURRENT), fc.integer({ min: 0, max: 1_000_000 })).map(([did, rkey, w, p]): Case => ({
    input: rec(did, NSID.bid, rkey, bidValue(w, p)),
    expect: 'hostile',
  })),
  fc.tuple(fc.constantFrom(...HOSTILE_REPOS), tid, fc.constantFrom(...CURRENT), validCid).map(([did, rkey, w, cid]): Case => ({
    input: rec(did, NSID.bid, rkey, bidValue({ uri: w.uri, cid: cid === w.cid ? CID(999) : cid }, 1_000_000)),
    expect: 'hostile',
  })),
  // strongRefs to records that do not exist, from anyone.
  fc.tuple(anyRepo, tid, nonexistentWorkload, fc.boolean()).map(([did, rkey, ref, asStatus]): Case => ({
    input: asStatus ? rec(did, NSID.workloadStatus, statusRkey(ref.uri), statusValue(ref, 'running')) : rec(did, NSID.bid, rkey, bidValue(ref, 1_000_000)),
    expect: 'hostile',
  })),
  // Workloads from non-members, and absurd-but-valid ones from members: they never touch W1/W2.
  fc.tuple(fc.constantFrom(STRANGER, STRANGER_M, SPOOF_M, ANN, BEN), tid, fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 1_048_576 }), fc.integer({ min: 6, max: 16_777_216 })).map(([did, rkey, replicas, cpuMillis, memoryMb]): Case => ({
    input: rec(did, NSID.workload, rkey, { ...workloadValue({ replicas, resources: { cpuMillis, memoryMb } }), privileged: true, capAdd: ['SYS_ADMIN'], binds: ['/:/host'], networkMode: 'host' }),
    expect: 'hostile',
  })),
  // Linkage from strangers: profiles dated far in the future, memberships listing everyone, owner claims naming ann.
  fc.tuple(randomDid, fc.constantFrom('2099-01-01T00:00:00.000Z', ISO)).map(([did, at]): Case => ({ input: rec(did, NSID.profile, 'self', profileValue(at)), expect: 'hostile' })),
  fc.tuple(randomDid).map(([did]): Case => ({ input: rec(did, NSID.meshletOwner, 'self', encodeMeshletOwner({ owner: ANN }, ISO)), expect: 'hostile' })),
  fc.tuple(randomDid).map(([did]): Case => ({ input: rec(did, NSID.membership, 'self', encodeMembership({ members: [ANN, BEN] }, ISO)), expect: 'hostile' })),
)

/** Arbitrary JSON-ish values, any collection: only "never throws" and "a reason when rejected" apply. */
const noise: fc.Arbitrary<Case> = fc.tuple(fc.constantFrom(...SPECS), fc.constantFrom(...HOSTILE_REPOS), tid, fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, withSparseArray: true, maxDepth: 4 })).map(
  ([spec, did, rkey, value]): Case => ({ input: rec(did, spec.collection, rkey, value), expect: 'noise' }),
)

const hostileCase: fc.Arbitrary<Case> = fc.oneof(
  { weight: 5, arbitrary: invalidField },
  { weight: 2, arbitrary: missingField },
  { weight: 2, arbitrary: invalidEnvelope },
  { weight: 1, arbitrary: echoBomb },
  { weight: 4, arbitrary: hostileValid },
  { weight: 2, arbitrary: noise },
)

/** Generated in batches, so a run never holds all ~12,000 cases (some are 70 KB) at once. */
function* corpus(total: number, seed: number, arb: fc.Arbitrary<Case> = hostileCase): Generator<Case> {
  const batch = 500
  for (let i = 0; i * batch < total; i++) yield* fc.sample(arb, { numRuns: Math.min(batch, total - i * batch), seed: seed + i })
}

// ---- the honest meshlets' decisions -----------------------------------------------------------

const HOST: HostSnapshot = { cpuMillisTotal: 4000, memoryMbTotal: 8192, memoryMbAvailable: 6000, loadPermille: 100, onBattery: false, thermal: 'nominal' }

function offerFor(w: Workload): Offer {
  const f = checkFeasibility(w, HOST, { cpuMillis: 0, memoryMb: 0 })
  return f.ok ? { kind: 'bid', priority: 500, capacity: f.free } : { kind: 'decline', reason: f.reason }
}

function decide(view: CommuneView, uri: string, meshlet: Did): Decision & { eligible: Did[] } {
  const w = view.workload(uri)
  if (!w) throw new Error(`no workload ${uri}`)
  const graph = buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() })
  const profiles = new Map<Did, Profile>(view.profiles().map((p) => [p.meshlet, p]))
  // Liveness is by receipt (not under test here): every repo was heard from just now.
  const { eligible } = eligibility({ workload: w, graph, profiles, monoNow: NOW, lastReceived: () => NOW - 1, defaultLeaseMs: LEASE_MS, leaseMsOf: (p) => p.leaseMs })
  const owner = graph.ownerOf(meshlet) ?? ''
  const d = decideWorkload({
    workload: w,
    bids: view.bidsFor(uri),
    statuses: view.statusesFor(uri),
    eligible,
    firstSeenAt: view.firstSeen(uri, w.cid) ?? NOW,
    now: NOW,
    self: { meshlet, owner, draining: false, recovering: false },
    offer: offerFor(w),
  })
  return { ...d, eligible: [...eligible.keys()] }
}

/** What a placement decision amounts to, without the explanations. */
const gist = (d: Decision & { eligible: Did[] }) => ({ phase: d.phase, actions: d.actions, holders: d.holders, eligible: d.eligible, self: d.self?.outcome })

function heapUsed(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const MB = 1024 * 1024
const kb = (bytes: number) => Math.round(bytes / 1024)

// ---- tests ------------------------------------------------------------------------------------

describe('intake fuzz: 12,000 generated hostile records through decode, view and the scheduling core', () => {
  test('no crash; every invalid record is rejected with a bounded one-line reason naming the problem; hostile records change no decision', () => {
    const baseline = honestView()
    const before = new Map(CURRENT.flatMap((w) => HONEST.map((m) => [`${w.uri} ${m}`, gist(decide(baseline, w.uri, m))] as const)))
    const winnersBefore = CURRENT.map((w) => selectWinners(baseline.workload(w.uri)!, baseline.bidsFor(w.uri), new Map(HONEST.map((m) => [m, { meshlet: m, owner: '' }]))).winners.map((b) => b.uri))

    const view = honestView()
    const counts = { total: 0, invalid: 0, hostile: 0, noise: 0, rejected: 0, byCollection: new Map<string, number>() }
    const failures: string[] = []
    for (const c of corpus(12_000, 20_260_301)) {
      counts.total++
      counts[c.expect]++
      counts.byCollection.set(c.input.collection, (counts.byCollection.get(c.input.collection) ?? 0) + 1)
      let ev: RecordEvent | undefined
      try {
        ev = decodeRecord(c.input)
      } catch (err) {
        failures.push(`threw: ${(err as Error).message}`)
        continue
      }
      if (!ev) {
        failures.push(`undefined for ${c.input.collection}`)
        continue
      }
      view.apply(ev, NOW - 60_000)
      if (ev.op === 'rejected') {
        counts.rejected++
        const bytes = Buffer.byteLength(ev.reason, 'utf8')
        if (!ev.reason.trim() || bytes > MAX_REASON_BYTES || /[\u0000-\u001f]/.test(ev.reason)) failures.push(`bad reason (${bytes} bytes): ${JSON.stringify(ev.reason.slice(0, 200))}`)
        if (c.expect === 'invalid' && c.mentions && !c.mentions.test(ev.reason)) failures.push(`reason does not say ${c.mentions}: ${ev.reason.slice(0, 200)}`)
        // The owner's meshlet publishes the reason as the failed status of the workload: it must fit the lexicon.
        if (ev.collection === NSID.workload && ev.cid) encodeStatus({ workload: { uri: W1.uri, cid: W1.cid }, state: 'failed', message: `invalid workload: ${ev.reason}`, updatedAt: ISO })
      } else if (c.expect === 'invalid') {
        failures.push(`accepted an invalid ${c.input.collection}: ${JSON.stringify(c.input.value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 300)}`)
      } else if (c.expect === 'hostile' && ev.op !== 'put') {
        failures.push(`hostile-but-valid ${c.input.collection} was not accepted`)
      }
    }
    expect(failures.slice(0, 10)).toEqual([])
    expect(counts.total).toBeGreaterThanOrEqual(10_000)
    expect(counts.invalid).toBeGreaterThan(5_000)
    expect(counts.hostile).toBeGreaterThan(2_000)
    for (const collection of Object.values(NSID)) expect(counts.byCollection.get(collection) ?? 0, collection).toBeGreaterThan(300)
    expect(counts.rejected).toBeGreaterThanOrEqual(counts.invalid)

    // The honest meshlets reach the same decisions as without the hostile records.
    for (const w of CURRENT) {
      for (const m of HONEST) expect(gist(decide(view, w.uri, m)), `${w.uri} as seen by ${m}`).toEqual(before.get(`${w.uri} ${m}`))
    }
    const eligible = new Map(HONEST.map((m) => [m, { meshlet: m, owner: '' }]))
    expect(CURRENT.map((w) => selectWinners(view.workload(w.uri)!, view.bidsFor(w.uri), eligible).winners.map((b) => b.uri))).toEqual(winnersBefore)
    // ...and every record they ignored is explained.
    const d = decide(view, W1.uri, ANN_M)
    const ignored = d.outcomes.filter((o) => o.outcome === 'invalid')
    expect(ignored.length).toBeGreaterThan(100)
    for (const o of ignored) expect(o.reason).toMatch(/^invalid: (not eligible|duplicate bid|bid references an older version|status at rkey|claim without a counting bid|claim priority|replica .* is not a replica number|completion of replica)/)
    expect(d.outcomes.filter((o) => o.outcome === 'won').every((o) => HONEST.includes(o.meshlet))).toBe(true)

    // Workloads from non-members never get an honest bid; absurd ones from members get declines, never claims.
    let foreign = 0
    let absurd = 0
    for (const w of view.workloads()) {
      if (CURRENT.some((c) => c.uri === w.uri)) continue
      for (const m of HONEST) {
        const dm = decide(view, w.uri, m)
        if (w.owner !== ANN && w.owner !== BEN) {
          foreign++
          expect(dm.phase).toBe('ineligible')
          expect(dm.actions).toEqual([])
        } else if (!checkFeasibility(w, HOST, { cpuMillis: 0, memoryMb: 0 }).ok) {
          absurd++
          expect(dm.actions.every((a) => a.type === 'decline')).toBe(true)
        }
      }
    }
    expect(foreign).toBeGreaterThan(50)
    expect(absurd).toBeGreaterThan(50)
    console.info(`fuzz: ${counts.total} records (${counts.invalid} invalid, ${counts.hostile} hostile-valid, ${counts.noise} noise), ${counts.rejected} rejected, ${ignored.length} ignored bids/claims explained on W1`)
  })

  test('any status message, in any script and of any length, still makes a valid status record', () => {
    // The owner learns why its workload failed only if this record can be written at all.
    fc.assert(
      fc.property(fc.oneof(...(['binary', 'grapheme', 'grapheme-ascii'] as const).map((unit) => fc.string({ unit, maxLength: 3000, size: 'max' }))), (message) => {
        const value = encodeStatus({ workload: W1, state: 'failed', message, updatedAt: ISO })
        const ev = decodeRecord(rec(ANN_M, NSID.workloadStatus, statusRkey(W1.uri), value))
        expect(ev?.op).toBe('put')
      }),
      { numRuns: 300, seed: 42, endOnFailure: true },
    )
  })

  test('the workloads of the issue: replicas 10000, a 10 KB image, more memory than any machine, privileged extras', () => {
    const ann = (value: Record<string, unknown>, rkey = '3kbbbbbbbbbb2') => decodeRecord(rec(ANN, NSID.workload, rkey, { ...workloadValue(), ...value }))!
    const many = ann({ replicas: 10_000 })
    expect(many).toMatchObject({ op: 'rejected', reason: expect.stringMatching(/replicas/) })
    const bigImage = ann({ image: `127.0.0.1:5000/${'a'.repeat(10 * 1024)}:test` })
    expect(bigImage).toMatchObject({ op: 'rejected', reason: expect.stringMatching(/image/) })
    if (bigImage.op === 'rejected') expect(bigImage.reason.length).toBeLessThan(300)

    // Valid, but more than any machine has: every eligible meshlet declines with numbers, nobody claims, it stays queued.
    const view = honestView()
    const huge = decodeRecord({ ...rec(ANN, NSID.workload, '3kbbbbbbbbbb3', workloadValue({ name: 'huge', resources: { cpuMillis: 1000, memoryMb: 16_777_216 } })), cid: CID(77) })!
    view.apply(huge, NOW - 60_000)
    const uri = huge.uri
    const first = HONEST.map((m) => decide(view, uri, m))
    for (const d of first) {
      expect(d.actions).toHaveLength(1)
      expect(d.actions[0]).toMatchObject({ type: 'decline', reason: expect.stringMatching(/insufficient memory: needs 16777216 MiB/) })
    }
    HONEST.forEach((m, i) => view.apply(decodeRecord(rec(m, NSID.bid, HONEST_TID(5), bidValue({ uri, cid: CID(77) }, 0, (first[i]!.actions[0] as { reason: string }).reason)))!, NOW))
    for (const m of HONEST) {
      const d = decide(view, uri, m)
      expect(d.phase).toBe('queued')
      expect(d.actions).toEqual([])
      expect(d.holders).toEqual([])
      expect(d.outcomes.map((o) => [o.meshlet, o.outcome])).toEqual(expect.arrayContaining(HONEST.map((h) => [h, 'declined'])))
      for (const o of d.outcomes) expect(o.reason).toMatch(/insufficient memory/)
    }

    // Extra fields asking for privileges are not part of the decoded workload: nothing downstream can see them.
    const sneaky = ann({ privileged: true, capAdd: ['SYS_ADMIN'], binds: ['/:/host'], networkMode: 'host', securityOpt: ['seccomp=unconfined'], user: 'root' }, '3kbbbbbbbbbb4')
    expect(sneaky.op).toBe('put')
    if (sneaky.op === 'put') {
      expect(Object.keys(sneaky.record.value).sort()).toEqual(['bidWindowMs', 'cid', 'constraints', 'createdAt', 'delivery', 'env', 'image', 'kind', 'name', 'owner', 'replicas', 'resources', 'restart', 'rkey', 'uri'])
    }
    // `network` is a workload field (owner or none): asking for the host's network is refused, with the reason.
    expect(ann({ network: 'host' }, '3kbbbbbbbbbb5')).toMatchObject({ op: 'rejected', reason: expect.stringMatching(/unknown network "host" \(expected "owner", "none"\)/) })
  })
})

describe('intake fuzz: bounded memory', () => {
  test('rejections cost a fixed amount however many arrive, and echo bombs keep no copy of their payload', () => {
    const view = new CommuneView({ maxRejections: 1000 })
    const invalidOnly = fc.oneof(invalidField, missingField, invalidEnvelope, echoBomb)
    const h0 = heapUsed()
    let n = 0
    for (const c of corpus(3_000, 7, invalidOnly)) {
      view.apply(decodeRecord(c.input)!, NOW)
      n++
    }
    expect(view.rejections()).toHaveLength(1000)
    const h1 = heapUsed()
    for (const c of corpus(9_000, 8, invalidOnly)) {
      view.apply(decodeRecord(c.input)!, NOW)
      n++
    }
    const h2 = heapUsed()
    expect(n).toBe(12_000)
    expect(view.rejections()).toHaveLength(1000)
    expect(view.size().records).toBe(0)
    for (const r of view.rejections()) expect(Buffer.byteLength(r.reason, 'utf8') + r.uri.length).toBeLessThan(MAX_REASON_BYTES + 1200)
    // 1000 kept rejections, each well under 4 KB however big its record was...
    expect(h1 - h0).toBeLessThan(4 * MB)
    // ...and 10,000 more change nothing but which 1000 are kept.
    expect(h2 - h1).toBeLessThan(2 * MB)

    // The worst case on purpose: 1000 records whose validator message would echo a 40 KB value.
    const bombs = new CommuneView()
    const hb0 = heapUsed()
    for (const c of corpus(1_000, 9, echoBomb)) bombs.apply(decodeRecord(c.input)!, NOW)
    expect(bombs.rejections()).toHaveLength(1000)
    const hb1 = heapUsed()
    expect(hb1 - hb0).toBeLessThan(4 * MB)
    console.info(`fuzz heap: first 3000 rejections +${kb(h1 - h0)} KB, next 9000 +${kb(h2 - h1)} KB, 1000 echo bombs +${kb(hb1 - hb0)} KB`)
  })

  test('a repo that floods the view past its record cap only loses its own records', () => {
    const view = new CommuneView({ maxRecords: 3_000 })
    for (const ev of applyAll(view, honestRecords())) expect(ev.op).toBe('put')
    const honestUris = honestRecords().map((r) => decodeRecord(r)!.uri)
    const before = new Map(CURRENT.flatMap((w) => HONEST.map((m) => [`${w.uri} ${m}`, gist(decide(view, w.uri, m))] as const)))
    // A non-member meshlet (followed because ann listed its owner) writes 12,000 valid records: bids, claims, workloads.
    const flood = fc.tuple(fc.constantFrom(STRANGER_M, STRANGER), tid, fc.constantFrom(...CURRENT), fc.constantFrom(NSID.bid, NSID.workloadStatus, NSID.workload))
    let n = 0
    let h1 = 0
    for (const [did, rkey, w, collection] of fc.sample(flood, { numRuns: 12_000, seed: 5 })) {
      const value = collection === NSID.bid ? bidValue(w, 1_000_000) : collection === NSID.workloadStatus ? statusValue(w, 'running') : workloadValue()
      view.apply(decodeRecord(rec(did, collection, rkey, value))!, NOW)
      if (++n === 4_000) h1 = heapUsed() // full by now: from here on, records only take turns
    }
    expect(n).toBe(12_000)
    expect(view.size().records).toBe(3_000)
    for (const uri of honestUris) expect(view.rejection(uri), uri).toBeUndefined()
    expect(view.workload(W1.uri)).toBeDefined()
    expect(view.bidsFor(W1.uri).filter((b) => HONEST.includes(b.meshlet))).toHaveLength(2)
    for (const w of CURRENT) for (const m of HONEST) expect(gist(decide(view, w.uri, m))).toEqual(before.get(`${w.uri} ${m}`))
    expect(view.rejections().at(-1)?.reason).toMatch(/limit of 3000 records/)
    const h2 = heapUsed()
    expect(h2 - h1).toBeLessThan(2 * MB)
    console.info(`fuzz heap: flood into a view capped at 3000 records: records 4001-12000 changed the heap by ${kb(h2 - h1)} KB`)
  })

  test('churn returns the heap to where it started: 12,000 hostile records put, re-delivered, rejected, deleted', () => {
    const view = honestView()
    const base = view.size()
    const h0 = heapUsed()
    const uris = new Set<string>()
    let n = 0
    for (const c of corpus(12_000, 11, hostileValid)) {
      const ev = decodeRecord(c.input)!
      view.apply(ev, NOW)
      view.apply(ev, NOW + 1) // a re-delivery (reconnect, backfill) is not a new record
      if (ev.op === 'put') uris.add(ev.uri)
      n++
    }
    expect(n).toBe(12_000)
    const grown = view.size()
    expect(grown.records - base.records).toBe(uris.size)
    const held = uris.size
    const h1 = heapUsed()
    // What the view holds is what the repos hold: a few hundred bytes per record, never per event.
    expect((h1 - h0) / uris.size).toBeLessThan(4096)

    // Half become invalid (a newer, broken version), the other half are deleted; then the broken ones go too.
    const list = [...uris]
    list.forEach((uri, i) => {
      const [, , did, collection, rkey] = uri.split('/') as [string, string, string, string, string]
      const cid = view.workload(uri)?.cid
      view.apply(i % 2 ? { op: 'rejected', uri, did, collection, rkey, reason: 'broken' } : { op: 'delete', uri, did, collection, rkey }, NOW + 2)
      // A workload that turned invalid is not scheduled: nothing about its old version is kept.
      if (cid) expect(view.firstSeen(uri, cid)).toBeUndefined()
    })
    for (const uri of list) {
      const [, , did, collection, rkey] = uri.split('/') as [string, string, string, string, string]
      view.apply({ op: 'delete', uri, did, collection, rkey }, NOW + 3)
    }
    expect(view.size()).toEqual(base)
    expect(view.rejections()).toHaveLength(0)
    const fresh = honestView()
    for (const w of CURRENT) expect(view.bidsFor(w.uri)).toEqual(fresh.bidsFor(w.uri))
    // Drop the test's own bookkeeping before weighing what the view still holds.
    uris.clear()
    list.length = 0
    const h2 = heapUsed()
    expect(h2 - h0).toBeLessThan(1 * MB)
    console.info(`fuzz heap: ${n} hostile-valid records (${held} distinct) put twice +${kb(h1 - h0)} KB (${Math.round((h1 - h0) / held)} B per record held); after reject+delete ${kb(h2 - h0)} KB`)
  })
})
