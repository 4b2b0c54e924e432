// A large commune's page stays light (issue 15 part 3; bench/web-render.ts): workloads a page at a
// time, newest first, and a meshlet card names only its first runs.
import { describe, expect, test } from 'vitest'
import type { CommuneSnapshot, MeshletRow, WorkloadRow } from '../../src/services/commune-snapshot.js'
import { communeMain, RUNS_SHOWN, WORKLOADS_PER_PAGE } from '../../src/web/render.js'

const row = (i: number): WorkloadRow => ({ uri: `at://did:plc:o/commune.scheduler.workload/w${i}`, owner: 'did:plc:o', name: `job-${i}`, image: 'img', replicas: 1, kind: 'service', holders: [], summary: 'queued', createdAt: '2026-01-01T00:00:00Z' })
const meshlet = (runs: number): MeshletRow =>
  ({ did: 'did:plc:m', owner: 'did:plc:o', verified: true, roles: [], labels: [], capabilities: [], cpuMillisUsed: 0, memoryMbUsed: 0, state: 'live', runs: Array.from({ length: runs }, (_, i) => ({ uri: `at://x/w${i}`, name: `job-${i}`, owner: 'did:plc:o', state: 'running' })) }) as unknown as MeshletRow
const snap = (workloads: number, runs = 0): CommuneSnapshot =>
  ({ generatedAt: 'now', servedBy: { kind: 'appview' }, owners: [], meshlets: [meshlet(runs)], problems: [], workloads: Array.from({ length: workloads }, (_, i) => row(i)), rejected: [], balances: [], advice: { demands: 0, unitSeconds: '0', lacks: [], machines: [] } }) as unknown as CommuneSnapshot
const rows = (h: string) => [...h.matchAll(/<tr data-workload="([^"]+)"/g)].map((m) => m[1]!.split('/').pop())

describe('workloads a page at a time', () => {
  test(`${WORKLOADS_PER_PAGE} rows on a page, the pager says where and links on`, () => {
    expect(WORKLOADS_PER_PAGE).toBe(50)
    const first = communeMain(snap(120), []).value
    expect(rows(first)).toEqual(Array.from({ length: 50 }, (_, i) => `w${i}`))
    expect(first).toContain('workloads 1–50 of 120 (page 1 of 3)')
    expect(first).toContain('<a href="/?page=2" rel="next">older →</a>')
    expect(first).not.toContain('newer')
    const last = communeMain(snap(120), [], undefined, 3).value
    expect(rows(last)).toEqual(Array.from({ length: 20 }, (_, i) => `w${100 + i}`))
    expect(last).toContain('workloads 101–120 of 120 (page 3 of 3)')
    expect(last).toContain('<a href="/?page=2" rel="prev">← newer</a>')
  })

  test('a page past the end shows the last one; a single page has no pager', () => {
    expect(rows(communeMain(snap(120), [], undefined, 99).value)).toHaveLength(20)
    expect(rows(communeMain(snap(120), [], undefined, 0).value)[0]).toBe('w0')
    const one = communeMain(snap(WORKLOADS_PER_PAGE), []).value
    expect(rows(one)).toHaveLength(WORKLOADS_PER_PAGE)
    expect(one).not.toContain('class="pager"')
  })

  test(`a meshlet card names its first ${RUNS_SHOWN} runs and how many more`, () => {
    const h = communeMain(snap(0, RUNS_SHOWN + 5), []).value
    expect([...h.matchAll(/<ul class="runs">(.*?)<\/ul>/gs)][0]![1]!.match(/<li>/g)).toHaveLength(RUNS_SHOWN)
    expect(h).toContain('and 5 more')
    expect(communeMain(snap(0, RUNS_SHOWN), []).value).not.toContain('more</li>')
  })
})
