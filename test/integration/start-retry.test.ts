// Nothing stuck, on a real PDS and Docker engine (issue 10 item 8): a pull that fails is retried on
// the same peer with backoff while its claim is kept, and the replica runs once the image appears.
// The container carries the name of docs/protocol.md and MESHLET_REPLICA. The image is pushed to the
// loopback registry (scripts/registry.sh) as localhost:5000/..., so the engine holds no local tag
// named like the workload's 127.0.0.1:5000/... image and must really pull it.
import { randomBytes } from 'node:crypto'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { containerNameFor } from '../../src/core/container-name.js'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import type { Meshlet } from '../../src/meshlet.js'
import { TEST_IMAGE, ensureDocker } from '../helpers/docker.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const repo = `meshlet/late-${randomBytes(4).toString('hex')}`
const IMAGE = `127.0.0.1:5000/${repo}:1`
const PUSHED_AS = `localhost:5000/${repo}:1`

async function registryUp(): Promise<boolean> {
  return fetch('http://127.0.0.1:5000/v2/').then((r) => r.status === 200, () => false)
}

async function push(): Promise<void> {
  await docker.getImage(TEST_IMAGE).tag({ repo: `localhost:5000/${repo}`, tag: '1' })
  // The engine wants an X-Registry-Auth header even for a registry without auth.
  const stream = await docker.getImage(PUSHED_AS).push({ authconfig: { username: '', password: '', serveraddress: 'localhost:5000' } })
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: unknown) => (err ? reject(err) : resolve())))
  await docker.getImage(PUSHED_AS).remove({ noprune: true }).catch(() => {})
}

describe('pre-start retries with a real registry and engine', () => {
  let c: DevCommune
  let peer: Meshlet
  beforeAll(async () => {
    await ensureDocker(docker)
    if (!(await registryUp())) throw new Error('the loopback registry does not answer on 127.0.0.1:5000: run scripts/registry.sh start')
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'solo' }], leaseMs: 15_000, bidWindowMs: 500 })
    await c.startAll()
    peer = c.member('solo').peer!
  }, 120_000)
  afterAll(async () => {
    await c?.close()
    for (const ref of [IMAGE, PUSHED_AS]) await docker.getImage(ref).remove({ force: true }).catch(() => {})
  })

  test('a pull that fails (image not pushed yet) is retried with backoff and the replica runs once it is there', async () => {
    const solo = c.member('solo')
    const ref = await c.publishWorkload(solo, {
      name: 'late-image',
      image: IMAGE,
      command: ['sh', '-c', 'echo "replica=$MESHLET_REPLICA"; sleep 3600'],
      replicas: 1,
      resources: { cpuMillis: 100, memoryMb: 32 },
    })
    const messages: string[] = []
    const seen = setInterval(() => {
      const m = peer.status.own(ref.uri)?.message
      if (m && messages.at(-1) !== m) messages.push(m)
    }, 20)
    try {
      const first = await waitFor(() => messages.find((m) => m.startsWith('retrying pull in 1 s (attempt 1/5): ')), { what: 'the first retry', timeoutMs: 30_000 })
      expect(first).toMatch(/not found|manifest unknown|does not exist/i)
      expect(peer.status.own(ref.uri)?.state).toBe('pulling') // the claim is kept meanwhile
      await push()
      await waitFor(() => peer.status.own(ref.uri)?.state === 'running', { what: 'running after the image appeared', timeoutMs: 30_000, onTimeout: () => messages.join('\n') })
    } finally {
      clearInterval(seen)
    }
    expect(messages.some((m) => m.startsWith('start failed:'))).toBe(false)
    const own = peer.status.own(ref.uri)!
    const ctr = docker.getContainer(own.containerId!)
    const info = await ctr.inspect()
    expect(info.Name.replace(/^\//, '')).toBe(containerNameFor({ owner: solo.owner.did, workloadUri: ref.uri, replica: own.replica ?? 0, meshlet: solo.meshlet.did }))
    expect(info.Config.Env).toContain(`MESHLET_REPLICA=${own.replica ?? 0}`)
    const logs = await waitFor(async () => {
      const out = (await ctr.logs({ stdout: true, stderr: true })).toString('utf8')
      return out.includes('replica=') ? out : false
    }, { what: 'the container to print its replica number' })
    expect(logs).toContain(`replica=${own.replica ?? 0}`)
    console.info(`start-retry: status messages on the way: ${JSON.stringify(messages)}`)
    await c.deleteRecord(solo.owner.agent, ref.uri)
  }, 90_000)

  test('an image that never appears: five tries, the slot yielded with "start failed:", then taken again (nothing stuck)', async () => {
    const solo = c.member('solo')
    const ref = await c.publishWorkload(solo, { name: 'never', image: `127.0.0.1:5000/${repo}-never:1`, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })
    const messages: string[] = []
    const seen = setInterval(() => {
      const m = peer.status.own(ref.uri)?.message
      if (m && messages.at(-1) !== m) messages.push(m)
    }, 20)
    try {
      // The only candidate yielded: as a last-resort candidate it claims the slot again and retries.
      await waitFor(() => {
        const i = messages.findIndex((m) => m.startsWith('start failed:'))
        return i >= 0 && messages.slice(i + 1).some((m) => m.startsWith('retrying pull in 1 s (attempt 1/5)'))
      }, { what: 'a yield, then a new round of tries', timeoutMs: 60_000, onTimeout: () => messages.join('\n') })
    } finally {
      clearInterval(seen)
    }
    const retries = messages.filter((m) => m.startsWith('retrying pull'))
    expect(retries.slice(0, 4).map((m) => m.slice(0, 'retrying pull in 1 s (attempt 1/5)'.length))).toEqual([
      'retrying pull in 1 s (attempt 1/5)',
      'retrying pull in 2 s (attempt 2/5)',
      'retrying pull in 4 s (attempt 3/5)',
      'retrying pull in 8 s (attempt 4/5)',
    ])
    expect(messages.find((m) => m.startsWith('start failed:'))).toMatch(/^start failed: pull failed 5 times: .*not found/i)
    console.info(`start-retry: never-appearing image: ${JSON.stringify(messages)}`)
    await c.deleteRecord(solo.owner.agent, ref.uri)
  }, 90_000)
  test('a stale container list that says "created" never starts a finished batch job again', async () => {
    // The reconcile pass works from a list taken before startReplica started the container; on a
    // loaded machine a short job has run and exited by the time the pass reaches it (CI saw one
    // container start twice). The pass must ask the engine again, not trust the list.
    const solo = c.member('solo')
    const ref = await c.publishWorkload(solo, { name: 'short-job', image: TEST_IMAGE, command: ['true'], kind: 'batch', replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })
    await waitFor(() => peer.status.own(ref.uri)?.state === 'exited', { what: 'the job to finish', timeoutMs: 60_000 })
    const id = peer.status.own(ref.uri)!.containerId!
    const since = Math.floor(Date.now() / 1000) - 120
    const info = (await peer.ports.runtime.inspect(id))!
    const w = peer.view.workload(ref.uri)!
    const starter = (peer.runner as unknown as { starter: { startCreated(w: unknown, c: unknown): Promise<void> } }).starter
    await starter.startCreated(w, { ...info, state: 'created', startedAt: undefined, exitCode: undefined })
    const events = await docker.getEvents({ since, until: Math.ceil(Date.now() / 1000) + 1, filters: { type: ['container'], event: ['start'], container: [id] } })
    const starts = (await new Promise<string>((resolve) => {
      let out = ''
      ;(events as unknown as NodeJS.ReadableStream).on('data', (d: Buffer) => (out += d.toString())).on('end', () => resolve(out))
    })).split('\n').filter(Boolean)
    expect(starts).toHaveLength(1)
    expect((await docker.getContainer(id).inspect()).State.Status).toBe('exited')
  }, 90_000)
})
