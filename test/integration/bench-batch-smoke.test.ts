// The bench's batch phase in a tiny mode (1 round, no Swarm), so it cannot rot unnoticed: batch
// (at-most-once), service and at-least-once batch workloads each run on the real commune and
// engine, every batch container starts exactly once, and the report shows the comparison.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Docker from 'dockerode'
import { afterAll, describe, expect, test } from 'vitest'
import { BATCH_KINDS, claimToStartMs } from '../../bench/batch-phase.js'
import { FULL, runBench, runPendingCleanups } from '../../bench/harness.js'
import { renderMarkdown } from '../../bench/report.js'
import { LABEL } from '../../src/adapters/docker/labels.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const logFile = path.join(os.tmpdir(), `meshlet-bench-batch-smoke-${process.pid}`, 'peers.log')

describe('bench batch phase (tiny mode)', () => {
  // Most of the time is the commune's start (PLC, 2 PDS, 3 peer processes): over a minute on a loaded 2-core machine.
  afterAll(async () => {
    await runPendingCleanups()
    await fs.promises.rm(path.dirname(logFile), { recursive: true, force: true })
  })

  test('measures batch against service, counts one start per batch, cleans up', { timeout: 300_000 }, async () => {
    const r = await runBench({ ...FULL, swarm: false, batchN: 1, batchHoldMs: 500, phases: ['batch'], logFile, progress: () => {} })
    expect(r.errors).toEqual([])
    const b = r.batch!
    for (const kind of BATCH_KINDS) {
      expect(b[kind], kind).toHaveLength(1)
      for (const s of b[kind]) {
        // The claim landed before the engine started the container, and the claimer is one of the commune's.
        expect(claimToStartMs(s), kind).toBeGreaterThan(0)
        expect(s.totalMs, kind).toBeGreaterThan(claimToStartMs(s))
        expect(['ann', 'ben', 'cat'], kind).toContain(s.winner)
      }
    }
    // At-most-once: exactly one container start per batch workload on the engine.
    expect(b.batch.map((s) => s.starts)).toEqual([1])
    // At-least-once takes the services' optimistic path: a transient duplicate is allowed there.
    for (const s of b.batchAtLeastOnce) expect(s.starts).toBeGreaterThanOrEqual(1)

    const md = renderMarkdown(r, 'npm run bench -- --phases batch (smoke)')
    expect(md).toContain('## 12. Batch at-most-once')
    expect(md).toMatch(/\| batch, at-most-once \(starts after a quorum of acks\) \| 1 \| 1 \| 0 \| 0 \|/)

    const managed = await docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } })
    expect(managed.filter((c) => r.meshlets.includes(c.Labels[LABEL.meshlet] ?? ''))).toHaveLength(0)
  })
})
