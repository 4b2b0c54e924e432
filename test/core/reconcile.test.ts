import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { reconcile, specHash, type DesiredReplica, type RunningReplica, type RunningState } from '../../src/core/reconcile.js'
import type { Workload } from '../../src/core/types.js'

function workload(over: Partial<Workload> = {}): Workload {
  return {
    uri: 'at://did:plc:alice/commune.scheduler.workload/3kaaa',
    cid: 'bafy-v1',
    owner: 'did:plc:alice',
    rkey: '3kaaa',
    name: 'web',
    image: 'nginx:1',
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 64 },
    command: ['nginx', '-g', 'daemon off;'],
    env: [{ name: 'A', value: '1' }],
    kind: 'service',
    restart: { policy: 'always' },
    constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
    bidWindowMs: 5000,
    delivery: 'at-most-once',
    createdAt: '2025-06-01T12:00:00.000Z',
    ...over,
  }
}

describe('specHash', () => {
  const base = workload()

  test('is 16 lowercase hex chars and stable', () => {
    expect(specHash(base)).toMatch(/^[0-9a-f]{16}$/)
    expect(specHash(workload())).toBe(specHash(base))
  })

  test.each<[string, Partial<Workload>]>([
    ['name', { name: 'other' }],
    ['replicas', { replicas: 3 }],
    ['constraints', { constraints: { roles: ['gpu'], labels: [], capabilities: [], members: [], privacy: 'owner-only' } }],
    ['bidWindowMs', { bidWindowMs: 100 }],
    ['createdAt', { createdAt: '2030-01-01T00:00:00.000Z' }],
    ['cid', { cid: 'bafy-v2' }],
  ])('ignores %s', (_field, over) => {
    expect(specHash(workload(over))).toBe(specHash(base))
  })

  test.each<[string, Partial<Workload>]>([
    ['image', { image: 'nginx:2' }],
    ['command', { command: ['sh'] }],
    ['command removed', { command: undefined }],
    ['env value', { env: [{ name: 'A', value: '2' }] }],
    ['env order', { env: [{ name: 'B', value: '2' }, { name: 'A', value: '1' }] }],
    ['cpu', { resources: { cpuMillis: 200, memoryMb: 64 } }],
    ['memory', { resources: { cpuMillis: 100, memoryMb: 128 } }],
    ['storage', { resources: { cpuMillis: 100, memoryMb: 64, storageMb: 10 } }],
    ['kind', { kind: 'batch' }],
    ['restart policy', { restart: { policy: 'on-failure' } }],
    ['max retries', { restart: { policy: 'always', maxRetries: 2 } }],
  ])('changes with %s', (_field, over) => {
    expect(specHash(workload(over))).not.toBe(specHash(base))
  })

  test('does not depend on object key order', () => {
    const shuffled = { ...base, resources: { memoryMb: 64, cpuMillis: 100 }, restart: { policy: 'always' as const } }
    expect(specHash(shuffled)).toBe(specHash(base))
  })
})

const U1 = 'at://did:plc:alice/commune.scheduler.workload/3kaaa'
const U2 = 'at://did:plc:alice/commune.scheduler.workload/3kbbb'

function want(uri: string, replica = 0, over: Partial<Workload> = {}): DesiredReplica {
  const w = workload({ uri, ...over })
  return { workload: w, replica, specHash: specHash(w) }
}
function run(id: string, d: DesiredReplica, over: Partial<RunningReplica> = {}): RunningReplica {
  return { id, workloadUri: d.workload.uri, workloadCid: d.workload.cid, specHash: d.specHash, replica: d.replica, state: 'running', ...over }
}
/** Compact view of a plan: ids and reasons. */
function summary(p: ReturnType<typeof reconcile>) {
  return {
    start: p.start.map((d) => `${d.workload.uri.slice(-5)}#${d.replica}`),
    stop: p.stop.map((s) => `${s.running.id}: ${s.reason}`),
    keep: p.keep.map((k) => `${k.running.id}=${k.desired.workload.uri.slice(-5)}#${k.desired.replica}`),
  }
}

describe('reconcile buckets', () => {
  const d1 = want(U1)
  const d1v2 = want(U1, 0, { cid: 'bafy-v2' })
  const d1img = want(U1, 0, { image: 'nginx:2' })
  const d2 = want(U2)

  test.each<{ name: string; desired: DesiredReplica[]; running: RunningReplica[]; expected: ReturnType<typeof summary> }>([
    { name: 'nothing to do', desired: [], running: [], expected: { start: [], stop: [], keep: [] } },
    { name: 'new assignment starts', desired: [d1], running: [], expected: { start: ['3kaaa#0'], stop: [], keep: [] } },
    { name: 'matching container is kept', desired: [d1], running: [run('c1', d1)], expected: { start: [], stop: [], keep: ['c1=3kaaa#0'] } },
    {
      name: 'an exited container with the same spec is kept (restart is decided elsewhere)',
      desired: [d1],
      running: [run('c1', d1, { state: 'exited' })],
      expected: { start: [], stop: [], keep: ['c1=3kaaa#0'] },
    },
    {
      name: 'record changed (new cid) replaces the container',
      desired: [d1v2],
      running: [run('c1', d1)],
      expected: { start: ['3kaaa#0'], stop: ['c1: spec changed (record bafy-v1 -> bafy-v2)'], keep: [] },
    },
    {
      name: 'spec changed replaces the container',
      desired: [d1img],
      running: [run('c1', d1)],
      expected: { start: ['3kaaa#0'], stop: [`c1: spec changed (spec ${d1.specHash} -> ${d1img.specHash})`], keep: [] },
    },
    {
      name: 'no desired left: stop',
      desired: [],
      running: [run('c1', d1)],
      expected: { start: [], stop: ['c1: no longer assigned here'], keep: [] },
    },
    {
      name: 'duplicates: the running one wins over an exited one',
      desired: [d1],
      running: [run('c1', d1, { state: 'exited' }), run('c2', d1)],
      expected: { start: [], stop: ['c1: duplicate'], keep: ['c2=3kaaa#0'] },
    },
    {
      name: 'duplicates in the same state: lowest id wins',
      desired: [d1],
      running: [run('cb', d1), run('ca', d1)],
      expected: { start: [], stop: ['cb: duplicate'], keep: ['ca=3kaaa#0'] },
    },
    {
      name: 'a dead or removing container is never kept',
      desired: [d1],
      running: [run('c1', d1, { state: 'dead' }), run('c2', d1, { state: 'removing' })],
      expected: { start: ['3kaaa#0'], stop: ['c1: container is dead', 'c2: container is removing'], keep: [] },
    },
    {
      name: 'replicas keep their own number; a container started under another number is replaced (its MESHLET_REPLICA is wrong)',
      desired: [want(U1, 0), want(U1, 1), want(U1, 2)],
      running: [run('c0', want(U1, 0)), run('c5', want(U1, 5))],
      expected: { start: ['3kaaa#1', '3kaaa#2'], stop: ['c5: renumbered: started as replica 5, its claim now holds replica 1, 2'], keep: ['c0=3kaaa#0'] },
    },
    {
      name: 'a renumbered service claim: its container is recreated under the new number',
      desired: [want(U1, 1)],
      running: [run('c0', want(U1, 0))],
      expected: { start: ['3kaaa#1'], stop: ['c0: renumbered: started as replica 0, its claim now holds replica 1'], keep: [] },
    },
    {
      name: 'several workloads at once, outputs sorted',
      desired: [d2, d1],
      running: [run('z', d2, { state: 'paused' }), run('y', want('at://did:plc:bob/commune.scheduler.workload/3kccc'))],
      expected: { start: ['3kaaa#0'], stop: ['y: no longer assigned here'], keep: ['z=3kbbb#0'] },
    },
    {
      name: 'the same desired slot listed twice is one container',
      desired: [d1, d1],
      running: [],
      expected: { start: ['3kaaa#0'], stop: [], keep: [] },
    },
  ])('$name', ({ desired, running, expected }) => {
    expect(summary(reconcile(desired, running))).toEqual(expected)
  })

  test('workload deleted vs no longer assigned, when existing workloads are known', () => {
    const p = reconcile([], [run('c1', d1), run('c2', d2)], { existingWorkloads: new Set([U2]) })
    expect(summary(p).stop).toEqual(['c1: workload deleted', 'c2: no longer assigned here'])
  })
})

describe('reconcile properties', () => {
  const uris = [U1, U2, 'at://did:plc:bob/commune.scheduler.workload/3kccc']
  const states: RunningState[] = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing']
  const desiredArb = fc.record({ uri: fc.constantFrom(...uris), replica: fc.nat(2), cid: fc.constantFrom('bafy-v1', 'bafy-v2'), image: fc.constantFrom('a', 'b') })
  const runningArb = fc.record({
    id: fc.string({ minLength: 1, maxLength: 4 }),
    workloadUri: fc.constantFrom(...uris),
    workloadCid: fc.constantFrom('bafy-v1', 'bafy-v2'),
    image: fc.constantFrom('a', 'b'),
    replica: fc.nat(3),
    state: fc.constantFrom(...states),
  })
  const inputs = fc
    .tuple(fc.array(desiredArb, { maxLength: 6 }), fc.uniqueArray(runningArb, { maxLength: 8, selector: (r) => r.id }))
    .map(([ds, rs]) => ({
      desired: ds.map((d) => want(d.uri, d.replica, { cid: d.cid, image: d.image })),
      running: rs.map(({ image, ...r }): RunningReplica => ({ ...r, specHash: specHash(workload({ uri: r.workloadUri, image })) })),
    }))
  const slot = (d: DesiredReplica) => `${d.workload.uri}#${d.replica}`

  test('a desired replica is never both started and kept, and every slot is in exactly one', () => {
    fc.assert(
      fc.property(inputs, ({ desired, running }) => {
        const p = reconcile(desired, running)
        const started = p.start.map(slot)
        const kept = p.keep.map((k) => slot(k.desired))
        expect(started.filter((s) => kept.includes(s))).toEqual([])
        expect([...started, ...kept].sort()).toEqual([...new Set(desired.map(slot))].sort())
      }),
      { numRuns: 500 },
    )
  })

  test('every running replica lands in exactly one of keep/stop, and kept ones match their desired spec', () => {
    fc.assert(
      fc.property(inputs, ({ desired, running }) => {
        const p = reconcile(desired, running)
        const ids = [...p.keep.map((k) => k.running.id), ...p.stop.map((s) => s.running.id)]
        expect(ids.sort()).toEqual(running.map((r) => r.id).sort())
        for (const k of p.keep) {
          expect(k.running.workloadUri).toBe(k.desired.workload.uri)
          expect(k.running.workloadCid).toBe(k.desired.workload.cid)
          expect(k.running.specHash).toBe(k.desired.specHash)
          expect(['dead', 'removing']).not.toContain(k.running.state)
        }
      }),
      { numRuns: 500 },
    )
  })

  test('the plan does not depend on input order', () => {
    fc.assert(
      fc.property(
        inputs.chain((i) =>
          fc.tuple(
            fc.constant(i),
            fc.shuffledSubarray(i.running, { minLength: i.running.length, maxLength: i.running.length }),
          ),
        ),
        ([{ desired, running }, shuffled]) => {
          // Desired is de-duplicated by first occurrence, so only the running side is shuffled.
          expect(summary(reconcile(desired, shuffled))).toEqual(summary(reconcile(desired, running)))
        },
      ),
      { numRuns: 300 },
    )
  })
})
