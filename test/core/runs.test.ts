import { describe, expect, test } from 'vitest'
import { dueRuns, overlapRefusal, resolveRun, runWorkload } from '../../src/core/runs.js'
import { runUri } from '../../src/core/schedule.js'
import type { Workload, WorkloadStatus } from '../../src/core/types.js'

const at = (iso: string): number => Date.parse(iso)
const base: Workload = {
  uri: 'at://did:plc:ann/commune.scheduler.workload/3kabc',
  cid: 'bafy-1',
  owner: 'did:plc:ann',
  rkey: '3kabc',
  name: 'nightly',
  image: 'meshlet/busybox:test',
  replicas: 1,
  resources: { cpuMillis: 100, memoryMb: 32 },
  env: [],
  kind: 'batch',
  restart: { policy: 'never' },
  constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
  bidWindowMs: 1000,
  delivery: 'at-most-once',
  schedule: { cron: '0 3 * * *' },
  createdAt: '2026-01-01T04:00:00.000Z',
}
const status = (run: Workload, state: WorkloadStatus['state'], startedAt: string, updatedAt: string, cid = run.cid): WorkloadStatus => ({
  uri: `at://did:plc:m/commune.scheduler.workloadStatus/x`,
  meshlet: 'did:plc:m',
  workload: { uri: run.uri, cid },
  state,
  startedAt,
  updatedAt,
})

describe('runs of a schedule', () => {
  test('a run is the workload at a run URI, without the schedule, with its instant', () => {
    const r = runWorkload(base, at('2026-01-02T03:00:00Z'))
    expect(r.uri).toBe(runUri(base.uri, at('2026-01-02T03:00:00Z')))
    expect(r.cid).toBe(base.cid)
    expect(r.schedule).toBeUndefined()
    expect(r.runOf).toEqual({ uri: base.uri, instant: at('2026-01-02T03:00:00Z') })
    expect(r.name).toBe('nightly@2026-01-02T03:00:00.000Z')
  })
  test('resolveRun: only instants of the schedule after createdAt, of a workload on record with a schedule', () => {
    const lookup = (u: string) => (u === base.uri ? base : undefined)
    expect(resolveRun(lookup, runUri(base.uri, at('2026-01-02T03:00:00Z')))?.runOf?.instant).toBe(at('2026-01-02T03:00:00Z'))
    expect(resolveRun(lookup, runUri(base.uri, at('2026-01-02T03:30:00Z')))).toBeUndefined() // not an instant
    expect(resolveRun(lookup, runUri(base.uri, at('2026-01-01T03:00:00Z')))).toBeUndefined() // before createdAt
    expect(resolveRun(() => ({ ...base, schedule: undefined }), runUri(base.uri, at('2026-01-02T03:00:00Z')))).toBeUndefined()
    expect(resolveRun(lookup, base.uri)).toBeUndefined()
  })
  test('dueRuns: the last three instants that passed on the observer clock', () => {
    expect(dueRuns(base, at('2026-01-01T05:00:00Z'))).toEqual([])
    expect(dueRuns(base, at('2026-01-09T03:00:00Z')).map((r) => r.runOf!.instant)).toEqual([at('2026-01-07T03:00:00Z'), at('2026-01-08T03:00:00Z'), at('2026-01-09T03:00:00Z')])
    expect(dueRuns({ ...base, kind: 'service' }, at('2026-01-09T03:00:00Z'))).toEqual([])
  })
  describe('overlap', () => {
    const r1 = runWorkload(base, at('2026-01-02T03:00:00Z'))
    const r2 = runWorkload(base, at('2026-01-03T03:00:00Z'))
    const T2 = '2026-01-03T03:00:00.000Z'
    test('skip: an earlier run that had claimed by T and was live at T skips T for good', () => {
      expect(overlapRefusal(r2, new Map([[r1.runOf!.instant, [status(r1, 'running', '2026-01-02T03:00:01Z', '2026-01-02T03:00:02Z')]]]))).toBe(
        `skipped: the run of 2026-01-02T03:00:00.000Z was still running at ${T2} (overlap: skip)`,
      )
      // ended after T: still skipped (the rule reads records, so it never flips back)
      expect(overlapRefusal(r2, new Map([[r1.runOf!.instant, [status(r1, 'exited', '2026-01-02T03:00:01Z', '2026-01-03T03:00:01Z')]]]))).toMatch(/^skipped/)
      // ended at or before T, claimed after T, another version: not skipped
      expect(overlapRefusal(r2, new Map([[r1.runOf!.instant, [status(r1, 'exited', '2026-01-02T03:00:01Z', T2)]]]))).toBeUndefined()
      expect(overlapRefusal(r2, new Map([[r1.runOf!.instant, [status(r1, 'running', '2026-01-03T03:00:01Z', '2026-01-03T03:00:01Z')]]]))).toBeUndefined()
      expect(overlapRefusal(r2, new Map([[r1.runOf!.instant, [status(r1, 'running', '2026-01-02T03:00:01Z', '2026-01-02T03:00:01Z', 'bafy-0')]]]))).toBeUndefined()
      // a later run never blocks an earlier one
      expect(overlapRefusal(r1, new Map([[r2.runOf!.instant, [status(r2, 'running', '2026-01-03T03:00:01Z', '2026-01-03T03:00:01Z')]]]))).toBeUndefined()
    })
    test('queue: waits while an earlier run is live, then runs', () => {
      const q1 = runWorkload({ ...base, schedule: { cron: '0 3 * * *', overlap: 'queue' } }, at('2026-01-02T03:00:00Z'))
      const q2 = runWorkload({ ...base, schedule: { cron: '0 3 * * *', overlap: 'queue' } }, at('2026-01-03T03:00:00Z'))
      expect(q2.runOverlap).toBe('queue')
      expect(overlapRefusal(q2, new Map([[q1.runOf!.instant, [status(q1, 'running', '2026-01-02T03:00:01Z', '2026-01-03T04:00:00Z')]]]))).toBe('queued behind the run of 2026-01-02T03:00:00.000Z (overlap: queue)')
      expect(overlapRefusal(q2, new Map([[q1.runOf!.instant, [status(q1, 'exited', '2026-01-02T03:00:01Z', '2026-01-03T04:00:00Z')]]]))).toBeUndefined()
    })
  })
})
