import { encodeStatus } from '../src/adapters/atproto/encode.js'
const W = 'at://did:plc:ownerownerownerownerowne/commune.scheduler.workload/3jzfcijpj2z2a'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
try { encodeStatus({ workload: { uri: W, cid: CID }, state: 'failed', message: 'exec: "' + 'é'.repeat(1500) + '" not found', updatedAt: new Date().toISOString() }); console.log('ok') } catch (e) { console.log('THROWS', (e as Error).message) }
