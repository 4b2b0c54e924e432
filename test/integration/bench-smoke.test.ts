// The bench harness in a tiny mode (n = 2, burst of 3, no Swarm), so it cannot rot unnoticed: every
// phase runs against the real commune and engine, the figures are plausible, the report renders,
// and nothing is left behind (containers, child peers, the compiled bundle).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Docker from 'dockerode'
import { afterAll, describe, expect, test } from 'vitest'
import { ALL_PHASES, FULL, runBench, runPendingCleanups, type BenchResults } from '../../bench/harness.js'
import { renderMarkdown } from '../../bench/report.js'
import { RAW_LABEL } from '../../bench/raw.js'
import { STAGES } from '../../src/services/timeline.js'
import { LABEL } from '../../src/adapters/docker/labels.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const logFile = path.join(os.tmpdir(), `meshlet-bench-smoke-${process.pid}`, 'peers.log')

describe('bench harness (tiny mode)', () => {
  let r: BenchResults
  afterAll(async () => {
    await runPendingCleanups()
    if (!process.env.KEEP_BENCH_LOGS) await fs.promises.rm(path.dirname(logFile), { recursive: true, force: true })
  })

  test('runs every phase end to end and cleans up after itself', { timeout: 200_000 }, async () => {
    r = await runBench({
      ...FULL,
      n: 2,
      // One web service with a health check: a few seconds, not n of them.
      endpointN: 1,
      cliRuns: 1,
      burst: 3,
      burstReps: 1,
      swarm: false,
      windows: [500],
      windowReps: 1,
      intakeCommits: 30,
      footprintWorkloads: 10,
      settleMs: 200,
      sampleMs: 500,
      idleMs: 500,
      // The batch phase has its own smoke test (bench-batch-smoke.test.ts).
      phases: ALL_PHASES.filter((p) => p !== 'batch'),
      logFile,
      progress: (msg) => console.error(`[bench-smoke ${new Date().toISOString().slice(11, 19)}] ${msg}`),
    })
    expect(r.errors).toEqual([])

    // Latency: both meshlet variants and the raw floor, each with a complete, ordered stage timeline.
    const lat = r.latency!
    expect([lat.meshlet.length, lat.meshletWoken.length, lat.raw.length, lat.swarm.length, lat.meshletNotify?.length, lat.rawHardened?.length]).toEqual([2, 2, 2, 0, 2, 2])
    for (const s of [...lat.meshlet, ...lat.meshletWoken, ...(lat.meshletNotify ?? [])]) {
      expect(s.totalMs).toBeGreaterThan(0)
      for (const k of STAGES) if (k !== 'pulled') expect(s.at[k], k).toBeTypeOf('number')
      // The path in order (the bid and the window's close may land either way round on a slow machine).
      const order = (['seen', 'closed', 'claimed', 'created', 'started', 'reported'] as const).map((k) => s.at[k]!)
      expect([...order].sort((a, b) => a - b)).toEqual(order)
      expect(s.at.bid!).toBeGreaterThanOrEqual(s.at.seen!)
      // The engine reports the start after the peer saw the record.
      expect(s.at.engine).toBeGreaterThan(s.at.seen!)
    }
    for (const ms of [...lat.raw, ...lat.rawHardened!]) expect(ms).toBeGreaterThan(0)

    // Burst: all 3 ran, spread over the peers that won them.
    const b = r.burst!.meshlet[0]!
    expect(b.each).toHaveLength(3)
    expect(Object.values(b.perPeer!).reduce((x, y) => x + y, 0)).toBe(3)
    expect(r.burst!.raw[0]!.each).toHaveLength(3)
    expect(r.burst!.rawHardened![0]!.each).toHaveLength(3)

    // Endpoint: the service was started, then healthy, then answered, in that order.
    expect(r.endpoint!.swarm).toHaveLength(0)
    expect(r.endpoint!.meshlet).toHaveLength(1)
    for (const s of r.endpoint!.meshlet) {
      expect(s.startedMs).toBeGreaterThan(0)
      expect(s.healthyMs).toBeGreaterThan(s.startedMs)
      expect(s.totalMs).toBeGreaterThanOrEqual(s.healthyMs)
      expect(['ann', 'ben', 'cat']).toContain(s.winner)
    }

    // Window path: with a silent peer the window cannot close early, so nothing runs before it ends.
    for (const w of r.window!) {
      expect(w.samples).toHaveLength(1)
      expect(w.samples[0]!.totalMs).toBeGreaterThan(w.windowMs)
    }

    // Footprint: both peers measured, the workloads tracked.
    expect(r.footprint!.rows).toHaveLength(2)
    for (const row of r.footprint!.rows) {
      expect(row.idleRssMb).toBeGreaterThan(30)
      expect(row.trackedWorkloads).toBeGreaterThanOrEqual(10)
    }

    // Intake: every live commit handled, the backlog replayed.
    expect(r.intake!.live.events).toBeGreaterThanOrEqual(30)
    expect(r.intake!.replay.events).toBeGreaterThan(0)

    // The report renders every section.
    const md = renderMarkdown(r, 'npm run bench (smoke)')
    for (const h of ['## Machine', '## Targets', '## 1. Latency', '## 2. Burst', '## 3. Window path', '## 4. Intake', '## 5. Footprint', '## 6. Where the time goes', '## 15. Record to a healthy endpoint']) expect(md).toContain(h)

    // Nothing left behind.
    const raw = await docker.listContainers({ all: true, filters: { label: [RAW_LABEL] } })
    expect(raw).toHaveLength(0)
    // The hardened floor's bridge too.
    expect(await docker.listNetworks({ filters: { label: [RAW_LABEL] } })).toHaveLength(0)
    expect(r.meshlets).toHaveLength(5)
    const managed = await docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } })
    expect(managed.filter((c) => r.meshlets.includes(c.Labels[LABEL.meshlet] ?? ''))).toHaveLength(0)
    expect(fs.existsSync(path.join(process.cwd(), '.bench-build'))).toBe(false)
  })
})
