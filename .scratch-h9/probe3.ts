import { decodeRecord } from '../src/adapters/atproto/decode.js'
const OWNER = 'did:plc:ownerownerownerownerowne'
const TID = '3jzfcijpj2z2a'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const base = { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 1, resources: { cpuMillis: 5, memoryMb: 16 }, createdAt: '2026-01-01T00:00:00Z' }
const big = 'é'.repeat(20000)
const variants: Record<string, unknown> = {
  members: { ...base, constraints: { members: [big] } },
  createdAt: { ...base, createdAt: big },
  kind: { ...base, kind: big },
  privacy: { ...base, constraints: { privacy: big } },
  policy: { ...base, restart: { policy: big } },
  $type: { ...base, $type: big },
  typeofname: { ...base, name: { [big]: 1 } },
  arr: { ...base, command: Array(100000).fill('x') },
  key: { ...base, [big]: 1 },
  imgws: { ...base, image: 'é'.repeat(250) },
}
for (const [k, v] of Object.entries(variants)) {
  const ev = decodeRecord({ did: OWNER, collection: 'commune.scheduler.workload', rkey: TID, cid: CID, value: v })
  const r = ev?.op === 'rejected' ? ev.reason : '(put)'
  console.log(k, r.length, Buffer.byteLength(r), r.slice(0, 150))
}
const bidbase = { $type: 'commune.scheduler.bid', priority: 1, createdAt: '2026-01-01T00:00:00Z' }
for (const [k, w] of Object.entries({ uri: { uri: 'at://' + big, cid: CID }, cid: { uri: `at://${OWNER}/commune.scheduler.workload/${TID}`, cid: big } })) {
  const ev = decodeRecord({ did: OWNER, collection: 'commune.scheduler.bid', rkey: TID, cid: CID, value: { ...bidbase, workload: w } })
  const r = ev?.op === 'rejected' ? ev.reason : '(put)'
  console.log(k, r.length, Buffer.byteLength(r), r.slice(0, 150))
}
