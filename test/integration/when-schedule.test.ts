// when (issue 14) on a real PLC + PDS + Docker engine: a cron batch every few seconds runs exactly
// once per instant across 3 peers. Each instant is a run of its own (run URI = workload URI +
// "#/run/<ISO instant>"), placed like a batch job with the at-most-once rule; we count the
// containers the engine started for each run, on every meshlet of the commune.
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { instantsBetween, runUri } from '../../src/core/schedule.js'

const IMAGE = 'meshlet/busybox:test'
const CRON = '*/6 * * * * *'

describe('a cron batch on a real network', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({ members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], leaseMs: 15_000 })
    await c.startAll()
  }, 120_000)
  afterAll(async () => c?.close())

  test('runs exactly once per instant across 3 peers', async () => {
    const ann = c.member('ann')
    const createdAt = new Date().toISOString()
    const ref = await c.publishWorkload(ann, {
      name: 'every-6s',
      image: IMAGE,
      command: ['sh', '-c', 'echo ran; sleep 1'],
      replicas: 1,
      kind: 'batch',
      resources: { cpuMillis: 100, memoryMb: 32 },
      bidWindowMs: 1000,
      schedule: { cron: CRON },
      createdAt,
    })
    const schedule = { cron: CRON }
    const created = Date.parse(createdAt)
    const exited = (t: number) => c.peers().every((p) => p.view.statusesFor(runUri(ref.uri, t)).some((s) => s.state === 'exited'))
    // Three instants that every peer saw run to their end.
    const instants = await waitFor(
      () => {
        const due = instantsBetween(schedule, created, Date.now() - 1, 100)
        const done = due.filter(exited)
        return done.length >= 3 ? due.slice(0, due.indexOf(done[2]!) + 1) : false
      },
      { what: 'three runs to end', timeoutMs: 50_000, intervalMs: 200, onTimeout: () => explain(ref.uri, instantsBetween(schedule, created, Date.now() - 1, 100)) },
    )
    // Every instant up to the third finished one ran exactly once, or (a loaded machine: placement
    // slower than the 6 s period, or a heartbeat late enough to fence) did not run and the run
    // history says why; never twice.
    const ran = instants.filter(exited)
    expect(ran.length).toBeGreaterThanOrEqual(3)
    // ... exactly once: one container per run on the whole engine, one exited status.
    const docker = new Docker()
    const meshlets = new Set(c.members.map((m) => m.meshlet.did))
    const containers = (await docker.listContainers({ all: true, filters: { label: ['farm.meshlet.managed=true'] } })).filter((x) => meshlets.has(x.Labels['farm.meshlet.meshlet']!))
    for (const t of instants.filter((t) => !exited(t))) expect(containers.filter((x) => x.Labels['farm.meshlet.workload'] === runUri(ref.uri, t)).length).toBeLessThanOrEqual(1)
    for (const t of ran) {
      const uri = runUri(ref.uri, t)
      expect(containers.filter((x) => x.Labels['farm.meshlet.workload'] === uri), `containers of ${uri}`).toHaveLength(1)
      const statuses = c.peers()[0]!.view.statusesFor(uri).filter((s) => s.state === 'exited' || s.state === 'running' || s.state === 'failed')
      expect(statuses, `statuses of ${uri}`).toHaveLength(1)
      expect(statuses[0]!.exitCode).toBe(0)
    }
    // The run history `meshlet status` shows, from any peer.
    const runs = c.peers()[1]!.control.workloadStatus(ref.uri).runs!
    for (const t of ran) expect(runs.find((r) => r.instant === new Date(t).toISOString()), `run history of ${new Date(t).toISOString()}`).toMatchObject({ state: 'exited', exitCode: 0, meshlet: expect.any(String) })
    for (const t of instants.filter((t) => !exited(t))) expect(runs.find((r) => r.instant === new Date(t).toISOString())?.state, `run history of ${new Date(t).toISOString()}`).toMatch(/^(skipped|lost|failed|queued)$/)
    // No container for the workload itself: only its runs are placed.
    expect(containers.filter((x) => x.Labels['farm.meshlet.workload'] === ref.uri)).toEqual([])
    await c.deleteRecord(ann.owner.agent, ref.uri)
  }, 120_000)

  /** What every peer saw and decided for each run (printed when the runs stall). */
  function explain(uri: string, instants: number[]): string {
    const lines: string[] = []
    for (const t of instants) {
      const run = runUri(uri, t)
      lines.push(run)
      for (const p of c.peers()) {
        const d = p.scheduler.decisions.get(run)
        const bids = p.view.bidsFor(run).map((b) => `${b.meshlet.slice(-6)}:${b.decline ? `decline(${b.decline})` : b.priority}${b.acks ? ` acks=${JSON.stringify(b.acks.map((a) => `${a.replica}->${a.meshlet.slice(-6)}`))}` : ''}`)
        const sts = p.view.statusesFor(run).map((s) => `${s.meshlet.slice(-6)}:${s.state}${s.message ? `(${s.message})` : ''}`)
        lines.push(`  ${p.settings.did.slice(-6)} phase=${d?.phase} self=${d?.self?.reason ?? '-'} start=${d?.start?.reason ?? '-'} bids=[${bids.join(' ')}] statuses=[${sts.join(' ')}]`)
      }
    }
    return lines.join('\n')
  }
})
