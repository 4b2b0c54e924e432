// A full view is a thing the operator must hear about (issue 16, scale): the peer keeps running and
// drops what its bound says, but says so in its log (at most once a minute, with the count) and in
// /metrics, with the flags that raise it.
import { describe, expect, test } from 'vitest'
import pino from 'pino'
import { Writable } from 'node:stream'
import { IntakeService, VIEW_FULL_WARN_MS } from '../../src/services/intake.js'
import { CommuneView } from '../../src/core/view.js'
import { NSID, type RecordEvent } from '../../src/core/types.js'
import { PromMetrics } from '../../src/adapters/metrics/prom-metrics.js'
import { parsePromText, sampleSum } from '../helpers/prom-text.js'
import { workload } from '../core/fixtures.js'

function put(owner: string, n: number): RecordEvent {
  const rkey = `3k${String(n).padStart(11, '0')}`
  const uri = `at://${owner}/${NSID.workload}/${rkey}`
  const w = workload({ uri, owner, rkey, cid: `bafy${n}` })
  return { op: 'put', uri, did: owner, collection: NSID.workload, rkey, cid: w.cid, record: { collection: NSID.workload, value: w } }
}

function peer(maxRecords: number) {
  const lines: Record<string, unknown>[] = []
  const log = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }))
  let t = 0
  const clock = { now: () => Date.parse('2026-01-01T00:00:00Z') + t, monotonic: () => t }
  const view = new CommuneView({ maxRecords })
  const intake = new IntakeService({ view, clock, log })
  const warnings = () => lines.filter((l) => /view full/.test(String(l.msg)))
  return { intake, view, warnings, advance: (ms: number) => (t += ms) }
}

describe('a full view', () => {
  test('is said once a minute with the count dropped since, the bounds and the flags; nothing below the bound is said', async () => {
    const p = peer(5)
    for (let i = 0; i < 5; i++) p.intake.handle(put('did:plc:owner', i))
    await new Promise((r) => setImmediate(r))
    expect(p.warnings()).toEqual([])
    expect(p.view.droppedRecords()).toBe(0)
    p.intake.handle(put('did:plc:owner', 5))
    p.intake.handle(put('did:plc:owner', 6))
    p.advance(VIEW_FULL_WARN_MS - 1)
    p.intake.handle(put('did:plc:owner', 7))
    await new Promise((r) => setImmediate(r))
    expect(p.warnings()).toHaveLength(1)
    const first = p.warnings()[0]!
    expect(first).toMatchObject({ level: 40, dropped: 1, records: 5, maxRecords: 5 })
    expect(String(first.msg)).toMatch(/this peer holds its limit of 5 records .*raise --view-max-records \/ --view-max-mb/)
    p.advance(1)
    p.intake.handle(put('did:plc:owner', 8))
    await new Promise((r) => setImmediate(r))
    expect(p.warnings()).toHaveLength(2)
    expect(p.warnings()[1]).toMatchObject({ dropped: 3 }) // 6, 7 and 8: what the minute between dropped
    expect(p.view.droppedRecords()).toBe(4)
    expect(p.view.records()).toBe(5) // and the peer still holds what fits
  })

  test('/metrics shows the view against its bounds and what it dropped', async () => {
    const p = peer(3)
    for (let i = 0; i < 5; i++) p.intake.handle(put('did:plc:owner', i))
    const m = new PromMetrics({ dailyWriteBudget: 1 })
    m.gauges({ view: () => ({ records: p.view.records(), bytes: p.view.bytes(), ...p.view.limits(), dropped: p.view.droppedRecords() }) })
    const f = parsePromText((await m.render()).body)
    expect(sampleSum(f, 'meshlet_view_records')).toBe(3)
    expect(sampleSum(f, 'meshlet_view_max_records')).toBe(3)
    expect(sampleSum(f, 'meshlet_view_bytes')).toBe(p.view.bytes())
    expect(sampleSum(f, 'meshlet_view_max_bytes')).toBe(p.view.limits().maxBytes)
    expect(sampleSum(f, 'meshlet_view_dropped_records_total')).toBe(2)
    expect(f.get('meshlet_view_dropped_records_total')?.type).toBe('counter')
  })
})
