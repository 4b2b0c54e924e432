// GET /metrics on real peers (issue 15): Prometheus text that a strict parser accepts, counters that
// move when a workload is placed (who may read it: test/unit/metrics.test.ts).
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS } from '../../src/core/view.js'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { CLAIM_STATES } from '../../src/core/types.js'
import { parsePromText, sampleSum } from '../helpers/prom-text.js'
import { sleeper } from '../helpers/faults.js'

let c: DevCommune
beforeAll(async () => {
  c = await DevCommune.create({ members: [{ name: 'ann' }, { name: 'ben' }], leaseMs: 8000, firewallChain: 'MLAPPVM' })
  await c.startAll()
}, 120_000)
afterAll(async () => c?.close())

async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePromText(await res.text())
}

test('counters move when a workload is placed, and the text parses strictly', async () => {
  const peers = c.peers()
  const before = await Promise.all(peers.map((p) => scrape(p.url)))
  const ref = await c.publishWorkload(c.member('ann'), sleeper('appview-metrics', { bidWindowMs: 1500 }))
  const holder = await waitFor(() => peers.find((p) => p.view.statusesFor(ref.uri).some((s) => s.meshlet === p.settings.did && s.state === 'running')), { what: 'a running replica', timeoutMs: 40_000 })
  const after = await Promise.all(peers.map((p) => scrape(p.url)))
  const sum = (fs: typeof after, name: string, labels: Record<string, string> = {}) => fs.reduce((n, f) => n + sampleSum(f, name, labels), 0)
  // Every peer saw the workload record and bid or declined.
  for (const [i, f] of after.entries()) {
    expect(sampleSum(f, 'meshlet_records_seen_total', { collection: 'commune.scheduler.workload' })).toBeGreaterThan(sampleSum(before[i]!, 'meshlet_records_seen_total', { collection: 'commune.scheduler.workload' }))
  }
  expect(sum(after, 'meshlet_bids_total') + sum(after, 'meshlet_declines_total')).toBeGreaterThanOrEqual(sum(before, 'meshlet_bids_total') + sum(before, 'meshlet_declines_total') + 2)
  // The holder claimed, started the container, and timed the placement.
  const h = after[peers.indexOf(holder)]!
  const hb = before[peers.indexOf(holder)]!
  expect(sampleSum(h, 'meshlet_claims_total')).toBeGreaterThan(sampleSum(hb, 'meshlet_claims_total'))
  expect(sampleSum(h, 'meshlet_container_starts_total')).toBeGreaterThan(sampleSum(hb, 'meshlet_container_starts_total'))
  expect(sampleSum(h, 'meshlet_placement_seconds_count', { stage: 'claimed' })).toBeGreaterThan(sampleSum(hb, 'meshlet_placement_seconds_count', { stage: 'claimed' }))
  expect(sampleSum(h, 'meshlet_placement_seconds_count', { stage: 'started' })).toBeGreaterThan(0)
  expect(sampleSum(h, 'meshlet_pds_write_points_today')).toBeGreaterThan(sampleSum(hb, 'meshlet_pds_write_points_today'))
  expect(sampleSum(h, 'meshlet_pds_write_points_daily_budget')).toBe(35_000)
  // A live heartbeat, and a firehose source per PDS it follows.
  expect(sampleSum(h, 'meshlet_heartbeat_age_seconds')).toBeLessThan(8)
  expect([...h.get('meshlet_firehose_lag_seconds')!.samples].length).toBeGreaterThan(0)
  // The view against its bound (issue 16, scale): what this peer holds, at the default bounds, nothing dropped.
  expect(sampleSum(h, 'meshlet_view_records')).toBeGreaterThan(sampleSum(hb, 'meshlet_view_records'))
  expect(sampleSum(h, 'meshlet_view_max_records')).toBe(DEFAULT_MAX_RECORDS)
  expect(sampleSum(h, 'meshlet_view_max_bytes')).toBe(DEFAULT_MAX_BYTES)
  expect(sampleSum(h, 'meshlet_view_dropped_records_total')).toBe(0)
  await c.deleteRecord(c.member('ann').owner.agent, ref.uri)
  await waitFor(() => peers.every((p) => !p.view.statusesFor(ref.uri).some((s) => CLAIM_STATES.includes(s.state))), { what: 'the replica to stop', timeoutMs: 30_000 })
}, 90_000)
