import { decodeRecord } from '../src/adapters/atproto/decode.js'
const OWNER = 'did:plc:ownerownerownerownerowne'
const TID = '3jzfcijpj2z2a'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const base: any = { $type: 'commune.scheduler.workload', name: 'x', image: 'busybox', replicas: 1, resources: { cpuMillis: 5, memoryMb: 16 }, createdAt: '2026-01-01T00:00:00Z' }
const t = (name: string, v: any, col = 'commune.scheduler.workload', rkey = TID) => { const ev = decodeRecord({ did: OWNER, collection: col, rkey, cid: CID, value: v }); console.log(name, '=>', ev?.op === 'rejected' ? ev.reason : ev?.op) }
const { name, ...noName } = base
t('missing name', noName)
const { resources, ...noRes } = base
t('missing res', noRes)
t('res cpu missing', { ...base, resources: { memoryMb: 16 } })
t('res string', { ...base, resources: 'x' })
t('res null', { ...base, resources: null })
t('env bad', { ...base, env: [{ name: 'a' }] })
t('env obj', { ...base, env: { name: 'a' } })
t('cmd num', { ...base, command: [1] })
t('labels', { ...base, constraints: { labels: [{ key: '' , value: 'x'}] } })
t('bidWindow', { ...base, bidWindowMs: 1 })
t('undefined field', { ...base, kind: undefined })
t('null field', { ...base, kind: null })
t('float cpu', { ...base, resources: { cpuMillis: 1.5, memoryMb: 16 } })
t('nan', { ...base, replicas: NaN })
t('inf', { ...base, replicas: Infinity })
t('negzero', { ...base, replicas: -0 })
t('status', { $type: 'commune.scheduler.workloadStatus', workload: { uri: 'at://did:plc:x/commune.scheduler.workload/3jzfcijpj2z2a', cid: CID }, state: 'running', updatedAt: '2026-01-01T00:00:00Z', replica: -1 }, 'commune.scheduler.workloadStatus', 'wabc')
t('status rkey', { $type: 'commune.scheduler.workloadStatus', workload: { uri: 'at://did:plc:x/commune.scheduler.workload/3jzfcijpj2z2a', cid: CID }, state: 'running', updatedAt: '2026-01-01T00:00:00Z' }, 'commune.scheduler.workloadStatus', '..')
t('bid ref to bid', { $type: 'commune.scheduler.bid', workload: { uri: 'at://did:plc:x/commune.scheduler.bid/3jzfcijpj2z2a', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }, 'commune.scheduler.bid')
t('bid ref no rkey', { $type: 'commune.scheduler.bid', workload: { uri: 'at://did:plc:x/commune.scheduler.workload', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }, 'commune.scheduler.bid')
t('bid ref query', { $type: 'commune.scheduler.bid', workload: { uri: 'at://did:plc:x/commune.scheduler.workload/3jzfcijpj2z2a?x=1#frag', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }, 'commune.scheduler.bid')
t('bid ref at uri huge', { $type: 'commune.scheduler.bid', workload: { uri: 'at://did:plc:x/commune.scheduler.workload/' + 'a'.repeat(600), cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z' }, 'commune.scheduler.bid')
t('link', { $type: 'commune.scheduler.meshlet', meshletDid: 'did:plc:abc', createdAt: '2026-01-01T00:00:00Z' }, 'commune.scheduler.meshlet', 'did:plc:xyz')
t('cap', { $type: 'commune.scheduler.bid', workload: { uri: 'at://did:plc:x/commune.scheduler.workload/3jzfcijpj2z2a', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z', capacity: { cpuMillisFree: -1, memoryMbFree: 0 } }, 'commune.scheduler.bid')
t('decline huge', { $type: 'commune.scheduler.bid', workload: { uri: 'at://did:plc:x/commune.scheduler.workload/3jzfcijpj2z2a', cid: CID }, priority: 1, createdAt: '2026-01-01T00:00:00Z', decline: 'x'.repeat(600) }, 'commune.scheduler.bid')
t('date 0000', { ...base, createdAt: '0000-01-01T00:00:00Z' })
t('date far', { ...base, createdAt: '9999-12-31T23:59:59Z' })
