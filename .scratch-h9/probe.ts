import { decodeRecord } from '../src/adapters/atproto/decode.js'
const OWNER = 'did:plc:ownerownerownerownerowne'
const M = 'did:plc:meshletmeshletmeshletmes'
const TID = '3jzfcijpj2z2a'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const W = `at://${OWNER}/commune.scheduler.workload/${TID}`
const cases: [string, string, string, unknown][] = [
  ['bid cid bad', 'commune.scheduler.bid', M, { $type: 'commune.scheduler.bid', workload: { uri: W, cid: 'not-a-cid' }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }],
  ['bid uri bad', 'commune.scheduler.bid', M, { $type: 'commune.scheduler.bid', workload: { uri: 'at://x/y', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }],
  ['bid uri handle', 'commune.scheduler.bid', M, { $type: 'commune.scheduler.bid', workload: { uri: 'at://alice.test/commune.scheduler.workload/3jzfcijpj2z2a', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }],
  ['bid prio neg', 'commune.scheduler.bid', M, { $type: 'commune.scheduler.bid', workload: { uri: W, cid: CID }, priority: -1, createdAt: '2026-01-01T00:00:00Z' }],
  ['bid prio float', 'commune.scheduler.bid', M, { $type: 'commune.scheduler.bid', workload: { uri: W, cid: CID }, priority: 1.5, createdAt: '2026-01-01T00:00:00Z' }],
  ['bid date bad', 'commune.scheduler.bid', M, { $type: 'commune.scheduler.bid', workload: { uri: W, cid: CID }, priority: 1, createdAt: 'yesterday' }],
  ['wl neg cpu', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 1, resources: { cpuMillis: -5, memoryMb: 1 }, createdAt: '2026-01-01T00:00:00Z' }],
  ['wl huge mem', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 1, resources: { cpuMillis: 5, memoryMb: 1e15 }, createdAt: '2026-01-01T00:00:00Z' }],
  ['wl rep 10000', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 10000, resources: { cpuMillis: 5, memoryMb: 1 }, createdAt: '2026-01-01T00:00:00Z' }],
  ['wl image 10k', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'x', image: 'a'.repeat(10240), replicas: 1, resources: { cpuMillis: 5, memoryMb: 1 }, createdAt: '2026-01-01T00:00:00Z' }],
  ['wl name unicode', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'é'.repeat(100), image: 'busybox', replicas: 1, resources: { cpuMillis: 5, memoryMb: 1 }, createdAt: '2026-01-01T00:00:00Z' }],
  ['wl extra', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 1, resources: { cpuMillis: 5, memoryMb: 1 }, createdAt: '2026-01-01T00:00:00Z', privileged: true, capAdd: ['SYS_ADMIN'] }],
  ['wl bigint', 'commune.scheduler.workload', OWNER, { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 1n, resources: { cpuMillis: 5, memoryMb: 1 }, createdAt: '2026-01-01T00:00:00Z' }],
  ['wl proto', 'commune.scheduler.workload', OWNER, JSON.parse('{"$type":"commune.scheduler.workload","name":"x","image":"busybox","replicas":1,"resources":{"cpuMillis":5,"memoryMb":1},"createdAt":"2026-01-01T00:00:00Z","__proto__":{"x":1}}')],
  ['status bad state', 'commune.scheduler.workloadStatus', M, { $type: 'commune.scheduler.workloadStatus', workload: { uri: W, cid: CID }, state: 'zombie', updatedAt: '2026-01-01T00:00:00Z' }],
  ['profile', 'commune.scheduler.profile', M, { $type: 'commune.scheduler.profile', endpoint: 'javascript:alert(1)', roles: [], cpuMillis: 1, memoryMb: 1, updatedAt: '2026-01-01T00:00:00Z' }],
  ['profile neg', 'commune.scheduler.profile', M, { $type: 'commune.scheduler.profile', endpoint: 'http://x', roles: [], cpuMillis: -1, memoryMb: 1, updatedAt: '2026-01-01T00:00:00Z' }],
  ['membership', 'commune.scheduler.membership', M, { $type: 'commune.scheduler.membership', members: ['not a did'], createdAt: '2026-01-01T00:00:00Z' }],
]
for (const [name, col, did, value] of cases) {
  const rkey = col.endsWith('bid') || col.endsWith('workload') ? TID : col.endsWith('Status') ? 'abc' : 'self'
  const ev = decodeRecord({ did, collection: col, rkey, cid: CID, value })
  console.log(name, '=>', ev?.op, ev?.op === 'rejected' ? ev.reason : JSON.stringify((ev as any)?.record?.value).slice(0, 200))
}
// circular
const circ: any = { $type: 'commune.scheduler.bid' }; circ.self = circ
console.log('circ', decodeRecord({ did: M, collection: 'commune.scheduler.bid', rkey: TID, cid: CID, value: circ }))
// deep nesting
let deep: any = {}; for (let i = 0; i < 100000; i++) deep = { a: deep }
console.log('deep', decodeRecord({ did: M, collection: 'commune.scheduler.bid', rkey: TID, cid: CID, value: { $type: 'commune.scheduler.bid', x: deep } }))
// getter that throws
const evil = { $type: 'commune.scheduler.bid', get priority() { throw new Error('boom') } }
console.log('getter', decodeRecord({ did: M, collection: 'commune.scheduler.bid', rkey: TID, cid: CID, value: evil }))
// non-string did / rkey
console.log('numdid', decodeRecord({ did: 42 as any, collection: 'commune.scheduler.bid', rkey: TID, cid: CID, value: {} }))
console.log('numrkey', decodeRecord({ did: M, collection: 'commune.scheduler.bid', rkey: 5 as any, cid: CID, value: {} }))
console.log('undef cid', decodeRecord({ did: M, collection: 'commune.scheduler.bid', rkey: TID, cid: undefined as any, value: {$type:'commune.scheduler.bid', workload: { uri: W, cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z'} }))
