// Issue 12: the edge checks of workload `health` / `update` and status `health`, as every peer applies them.
import { describe, expect, test } from 'vitest'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { encodeStatus, encodeWorkload, statusRkey } from '../../src/core/encode.js'
import { NSID, type RecordEvent, type Workload, type WorkloadStatus } from '../../src/core/types.js'

const OWNER = 'did:plc:ownerownerownerownerowne'
const MESHLET = 'did:plc:meshletmeshletmeshletmes'
const TID = '3jzfcijpj2z2a'
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const AT = '2026-01-02T03:04:05.000Z'
const WORKLOAD_URI = `at://${OWNER}/${NSID.workload}/${TID}`

const workloadValue = (over: Record<string, unknown> = {}) => ({ $type: NSID.workload, name: 'web', image: 'meshlet/busybox:test', replicas: 2, resources: { cpuMillis: 250, memoryMb: 64 }, createdAt: AT, ...over })
const statusValue = (over: Record<string, unknown> = {}) => ({ $type: NSID.workloadStatus, workload: { uri: WORKLOAD_URI, cid: CID }, state: 'running', updatedAt: AT, ...over })

function decodeWorkload(value: unknown): RecordEvent | undefined {
  return decodeRecord({ did: OWNER, collection: NSID.workload, rkey: TID, cid: CID, value })
}
function decodeStatus(value: unknown): RecordEvent | undefined {
  return decodeRecord({ did: MESHLET, collection: NSID.workloadStatus, rkey: statusRkey(WORKLOAD_URI), cid: CID, value })
}
const reason = (e: RecordEvent | undefined) => (e?.op === 'rejected' ? e.reason : undefined)
const value = <T>(e: RecordEvent | undefined) => (e?.op === "put" ? (e.record.value as T) : undefined)

describe('workload health at the edge', () => {
  test('a valid check decodes with its defaults, and encodes back', () => {
    const w = value<Workload>(decodeWorkload(workloadValue({ health: { type: 'http', port: 8080 } })))!
    expect(w.health).toEqual({ type: 'http', port: 8080, path: '/', intervalMs: 10_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 0 })
    const again = value<Workload>(decodeWorkload(encodeWorkload(w)))!
    expect(again.health).toEqual(w.health)
  })

  test.each([
    [{ type: 'http' }, 'health.port is required for a http check'],
    [{ type: 'exec', command: ['true'], port: 1 }, 'health.port does not apply to a exec check'],
    [{ type: 'tcp', port: 1, intervalMs: 1000, timeoutMs: 2000 }, 'health.timeoutMs 2000 is longer than health.intervalMs 1000'],
    [{ type: 'grpc', port: 1 }, 'health.type "grpc" is not one of http, tcp, exec'],
  ])('%j is rejected: %s', (health, why) => {
    expect(reason(decodeWorkload(workloadValue({ health })))).toContain(why)
  })

  test('lexicon bounds: an interval under 500 ms is rejected', () => {
    expect(reason(decodeWorkload(workloadValue({ health: { type: 'tcp', port: 1, intervalMs: 499 } })))).toMatch(/intervalMs/)
  })
})

describe('workload update at the edge', () => {
  test('defaults: maxParallel 1, minHealthyMs 0, autoRevert false', () => {
    expect(value<Workload>(decodeWorkload(workloadValue({ update: {} })))!.update).toEqual({ maxParallel: 1, minHealthyMs: 0, autoRevert: false })
  })
  test('bounds and kind', () => {
    expect(reason(decodeWorkload(workloadValue({ update: { maxParallel: 0 } })))).toMatch(/maxParallel/)
    expect(reason(decodeWorkload(workloadValue({ update: { maxParallel: 65 } })))).toMatch(/maxParallel/)
    expect(reason(decodeWorkload(workloadValue({ update: { minHealthyMs: 3_600_001 } })))).toMatch(/minHealthyMs/)
    expect(reason(decodeWorkload(workloadValue({ kind: 'batch', update: {} })))).toContain('update applies to services only')
  })
})

describe('status health at the edge', () => {
  test('decodes, and round-trips through the encoder', () => {
    const health = { state: 'unhealthy', failures: 3, restarts: 1, lastFailure: 'http :8080/ answered 500, expected 200..399', lastFailureAt: AT }
    const s = value<WorkloadStatus>(decodeStatus(statusValue({ health })))!
    expect(s.health).toEqual(health)
    const { uri: _u, cid: _c, meshlet: _m, ...rest } = s
    expect(value<WorkloadStatus>(decodeStatus(encodeStatus(rest)))!.health).toEqual(health)
  })
  test.each([
    [{ state: 'sick', failures: 0, restarts: 0 }, 'health.state'],
    [{ state: 'healthy', failures: -1, restarts: 0 }, 'failures'],
    [{ state: 'healthy', failures: 0 }, 'restarts'],
    [{ state: 'healthy', failures: 0, restarts: 0, lastFailure: 'x'.repeat(513) }, 'lastFailure'],
  ])('%j is rejected', (health, field) => {
    expect(reason(decodeStatus(statusValue({ health })))).toContain(field)
  })
})
