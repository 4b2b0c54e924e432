// `meshlet advise` on an in-memory commune (issue 15): the history public records give (waits past
// the bid window, declines), and the table a person reads, to the unit-second.
import { expect, test } from 'vitest'
import { CommuneView } from '../../src/core/view.js'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { NSID, type Did, type RecordEvent, type SchedulerRecord } from '../../src/core/types.js'
import { advise } from '../../src/core/advisor.js'
import { demandHistory } from '../../src/services/advisor-history.js'
import { formatAdvice, parseSizes } from '../../src/client/advise-command.js'
import { workload } from '../core/fixtures.js'

const NOW = Date.parse('2026-06-01T12:00:00.000Z')
const ago = (sec: number) => new Date(NOW - sec * 1000).toISOString()
const ANN = 'did:plc:ann'
const BEN = 'did:plc:ben'
const BEN_M = 'did:plc:benmeshlet'
const ANN_M = 'did:plc:annmeshlet'

function put(did: Did, rkey: string, record: SchedulerRecord): RecordEvent {
  return { op: 'put', did, collection: record.collection, rkey, uri: `at://${did}/${record.collection}/${rkey}`, cid: `cid-${rkey}`, record }
}
const link = (owner: Did, meshlet: Did, members: Did[]) => [
  put(owner, meshlet, { collection: NSID.meshlet, value: { owner, meshlet } }),
  put(meshlet, 'self', { collection: NSID.meshletOwner, value: { meshlet, owner } }),
  put(meshlet, 'self', { collection: NSID.membership, value: { meshlet, members } }),
]
const wl = (rkey: string, over: Parameters<typeof workload>[0]) => {
  const w = workload({ owner: ANN, rkey, uri: `at://${ANN}/${NSID.workload}/${rkey}`, cid: `w-${rkey}`, bidWindowMs: 5000, ...over })
  return { w, e: put(ANN, rkey, { collection: NSID.workload, value: w }) }
}

test('waits past the bid window, by reason, and what one more machine would have run', () => {
  const big = wl('big', { name: 'big', createdAt: ago(7200), resources: { cpuMillis: 1000, memoryMb: 16384 } })
  const quick = wl('quick', { name: 'quick', createdAt: ago(3600) })
  const slow = wl('slow', { name: 'slow', replicas: 2, createdAt: ago(3600), resources: { cpuMillis: 500, memoryMb: 512 } })
  const status = (rkey: string, w: typeof big.w, startedSec: number) =>
    put(BEN_M, rkey, { collection: NSID.workloadStatus, value: { uri: `at://${BEN_M}/${NSID.workloadStatus}/${rkey}`, meshlet: BEN_M, workload: { uri: w.uri, cid: w.cid }, state: 'running', replica: 0, startedAt: ago(startedSec), updatedAt: ago(1) } })
  const view = new CommuneView()
  for (const e of [
    ...link(ANN, ANN_M, [BEN]),
    ...link(BEN, BEN_M, [ANN]),
    big.e,
    quick.e,
    slow.e,
    put(BEN_M, 'd1', { collection: NSID.bid, value: { uri: `at://${BEN_M}/${NSID.bid}/d1`, meshlet: BEN_M, workload: { uri: big.w.uri, cid: big.w.cid }, decline: 'insufficient memory: needs 16384 MiB, 900 MiB free', createdAt: ago(7190) } as never }),
    status('s-quick', quick.w, 3590), // started 10 s after it was published: no wait
    status('s-slow', slow.w, 3000), // one replica after 10 min, the other never
  ])
    view.apply(e, NOW)
  const graph = buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() })
  const history = demandHistory(view, graph, [ANN, BEN], NOW)
  expect(history.map((d) => [d.workload, (d.to - d.from) / 1000, d.declines.length])).toEqual([
    ['big', 7195, 1],
    ['slow#0', 595, 0],
    ['slow#1', 3595, 0],
  ])
  const sizes = parseSizes('2c/8G,4c/16G')
  if (typeof sizes === 'string') throw new Error(sizes)
  const a = advise(history, sizes.map((s) => ({ ...s, roles: [], capabilities: [] })))
  expect(formatAdvice(a, { owners: 2, roles: [], capabilities: [], unreadable: 0 })).toBe(
    [
      '3 replica(s) of 2 owner(s) waited; 126505 unit-seconds of demand (1 unit = 1 core or 1 GiB)',
      '',
      'declined for',
      '  memory         1 replica(s)      122315 unit-s',
      '',
      'one more machine would have run',
      '  2c/8G        3 %  (2 replica(s), 4190 unit-s)',
      '  4c/16G      96 %  (1 replica(s), 122315 unit-s)',
      '',
    ].join('\n'),
  )
})

test('sizes are <cores>c/<GiB>G', () => {
  expect(parseSizes('4c/16G')).toEqual([{ name: '4c/16G', cpuMillis: 4000, memoryMb: 16384 }])
  expect(parseSizes('4 cores')).toMatch(/not <cores>c\/<GiB>G/)
})
