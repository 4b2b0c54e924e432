// /metrics pieces without a network (issue 15): the strict text parser itself, reason classes, who
// may read, and the observer turning own writes into counters on a real prom-client registry.
import { describe, expect, test } from 'vitest'
import { parsePromText, sampleSum, PromParseError } from '../helpers/prom-text.js'
import { PromMetrics, reasonClass } from '../../src/adapters/metrics/prom-metrics.js'
import { MetricsObserver } from '../../src/services/metrics-observer.js'
import { addressAllow, allowEntryProblem } from '../../src/web/address-allow.js'
import { NSID } from '../../src/core/types.js'
import express from 'express'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mountMetrics } from '../../src/web/routes.js'
import { EVICTED_REASON } from '../../src/ports/eviction-store.js'

describe('the strict Prometheus text parser', () => {
  const ok = '# HELP a_total things\n# TYPE a_total counter\na_total{x="q\\"uote\\\\ and \\n"} 3\n'
  test('reads families, labels with escapes and values', () => {
    const f = parsePromText(ok)
    expect(f.get('a_total')).toEqual({ name: 'a_total', type: 'counter', help: 'things', samples: [{ name: 'a_total', labels: { x: 'q"uote\\ and \n' }, value: 3 }] })
  })
  test.each([
    ['a sample without TYPE', 'b 1\n'],
    ['a bad label name', '# TYPE a gauge\na{1x="y"} 1\n'],
    ['an unquoted label value', '# TYPE a gauge\na{x=y} 1\n'],
    ['a bad escape', '# TYPE a gauge\na{x="\\t"} 1\n'],
    ['a non-number', '# TYPE a gauge\na 1,5\n'],
    ['a TYPE twice', '# TYPE a gauge\n# TYPE a gauge\n'],
    ['a missing final newline', '# TYPE a gauge\na 1'],
    ['a non-cumulative histogram', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['+Inf bucket != count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parsePromText(text)).toThrow(PromParseError)
  })
})

test('reason classes keep the words the code chooses and fold DIDs and figures', () => {
  expect(reasonClass('insufficient memory: need 512 MiB, 100 free')).toBe('insufficient memory')
  expect(reasonClass('owner did:plc:abc123 over quota (3 of 2)')).toBe('owner did over quota')
  expect(reasonClass('')).toBe('unspecified')
})

describe('who may read /metrics', () => {
  test('the default is loopback only, IPv4-mapped addresses included', () => {
    const allow = addressAllow()
    expect([allow('127.0.0.1'), allow('::1'), allow('::ffff:127.0.0.1')]).toEqual([true, true, true])
    expect([allow('198.18.0.5'), allow('::ffff:198.18.0.5'), allow('2001:db8::1'), allow(undefined), allow('nonsense')]).toEqual([false, false, false, false, false])
  })
  test('a configured range, or any', () => {
    const allow = addressAllow(['198.18.0.0/15'])
    expect([allow('198.19.255.255'), allow('198.20.0.0'), allow('127.0.0.1')]).toEqual([true, false, false])
    expect(addressAllow(['any'])('203.0.113.9')).toBe(true)
  })
  test('bad entries say why', () => {
    expect(allowEntryProblem('10.0.0.0/33')).toMatch(/prefix length/)
    expect(allowEntryProblem('localhost')).toMatch(/not an IP address/)
    expect(allowEntryProblem('::1/128')).toBeUndefined()
  })
})

test('a route that lists no loopback range refuses a loopback scrape, and says which flag to change', async () => {
  const app = express()
  mountMetrics(app, { metrics: new PromMetrics({ dailyWriteBudget: 1 }), allow: ['198.18.0.0/15'] })
  const server = http.createServer(app)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)
    expect(res.status).toBe(403)
    expect(await res.text()).toMatch(/not served to 127\.0\.0\.1 \(see --metrics-allow\)/)
  } finally {
    server.closeAllConnections()
    server.close()
  }
})

describe('the observer on a real prom-client registry', () => {
  const me = 'did:plc:me'
  const statusUri = `at://${me}/${NSID.workloadStatus}/w1`
  const status = (state: string, message: string) => ({ did: me, collection: NSID.workloadStatus, rkey: 'w1', uri: statusUri, cid: 'c', value: { $type: NSID.workloadStatus, state, message } })
  async function run(writes: Parameters<MetricsObserver['write']>[0][], at = Date.UTC(2026, 0, 1, 12)) {
    const m = new PromMetrics({ dailyWriteBudget: 100, now: () => at })
    const o = new MetricsObserver(m, () => at)
    for (const w of writes) o.write(w)
    return parsePromText((await m.render()).body)
  }

  test('bids, declines by reason, a claim, a start, a lease renewal, a restart, a failure, an eviction', async () => {
    const bid = (rkey: string, value: Record<string, unknown>) => ({ did: me, collection: NSID.bid, rkey, uri: `at://${me}/${NSID.bid}/${rkey}`, cid: 'b', value: { $type: NSID.bid, ...value } })
    const f = await run([
      bid('b1', { priority: 5 }),
      bid('b2', { decline: 'insufficient memory: need 512' }),
      bid('b3', { decline: 'insufficient memory: need 9' }),
      status('pending', 'claimed; waiting to start'),
      status('starting', 'starting x'),
      status('running', 'running x'),
      status('running', 'running x'), // renewal: no second start
      status('running', 'restarted 1 time(s) after exit code 1'),
      status('failed', 'gave up'),
      status('stopped', EVICTED_REASON),
      { did: me, collection: NSID.bid, rkey: 'b1', uri: `at://${me}/${NSID.bid}/b1` }, // a delete
    ])
    expect(sampleSum(f, 'meshlet_bids_total')).toBe(1)
    expect(sampleSum(f, 'meshlet_declines_total', { reason: 'insufficient memory' })).toBe(2)
    expect(sampleSum(f, 'meshlet_claims_total')).toBe(1)
    expect(sampleSum(f, 'meshlet_container_starts_total')).toBe(1)
    expect(sampleSum(f, 'meshlet_container_restarts_total')).toBe(1)
    expect(sampleSum(f, 'meshlet_container_failures_total')).toBe(1)
    expect(sampleSum(f, 'meshlet_evictions_total')).toBe(1)
    // 3 bid creates (9) + status create (3) + 6 status updates (12) + 1 delete (1)
    expect(sampleSum(f, 'meshlet_pds_write_points_total')).toBe(25)
    expect(sampleSum(f, 'meshlet_pds_write_points_today')).toBe(25)
    expect(sampleSum(f, 'meshlet_pds_write_points_daily_budget')).toBe(100)
  })

  test('points spent today start over at 00:00 UTC; the total does not', async () => {
    let at = Date.UTC(2026, 0, 1, 23, 59)
    const m = new PromMetrics({ dailyWriteBudget: 100, now: () => at })
    const o = new MetricsObserver(m, () => at)
    o.write(status('pending', 'claimed; waiting to start'))
    at = Date.UTC(2026, 0, 2, 0, 1)
    o.write(status('running', 'running x'))
    const f = parsePromText((await m.render()).body)
    expect(sampleSum(f, 'meshlet_pds_write_points_today')).toBe(2)
    expect(sampleSum(f, 'meshlet_pds_write_points_total')).toBe(5)
  })

  test('placement latency from the record seen here, gauges read at scrape time', async () => {
    const m = new PromMetrics({ dailyWriteBudget: 1 })
    const o = new MetricsObserver(m, Date.now)
    o.stage('claimed', 3500, { seen: 1000 })
    o.stage('started', 9000, { seen: 1000 })
    o.stage('bid', 2000, { seen: 1000 }) // not a placement stage
    o.stage('claimed', 2000, undefined) // never seen here
    o.record({ op: 'rejected', did: me, collection: NSID.workload, rkey: 'x', uri: 'at://x', reason: 'replicas: must be at least 1' })
    m.gauges({ firehoseLag: () => [{ source: 'ws://127.0.0.1:1', lagMs: 1500 }], heartbeatAgeMs: () => 4000 })
    const f = parsePromText((await m.render()).body)
    expect(sampleSum(f, 'meshlet_placement_seconds_count', { stage: 'claimed' })).toBe(1)
    expect(sampleSum(f, 'meshlet_placement_seconds_sum', { stage: 'claimed' })).toBe(2.5)
    expect(sampleSum(f, 'meshlet_placement_seconds_bucket', { stage: 'claimed', le: '2' })).toBe(0)
    expect(sampleSum(f, 'meshlet_placement_seconds_bucket', { stage: 'claimed', le: '3' })).toBe(1)
    expect(sampleSum(f, 'meshlet_placement_seconds_sum', { stage: 'started' })).toBe(8)
    expect(sampleSum(f, 'meshlet_records_rejected_total', { collection: NSID.workload, reason: 'replicas' })).toBe(1)
    expect(sampleSum(f, 'meshlet_firehose_lag_seconds', { source: 'ws://127.0.0.1:1' })).toBe(1.5)
    expect(sampleSum(f, 'meshlet_heartbeat_age_seconds')).toBe(4)
  })
})
