import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DockerRuntime, demuxLogs, labelsFromInfo, labelsToDocker } from '../../src/adapters/docker/docker-runtime.js'
import { containerNameFor } from '../../src/core/container-name.js'
import { parseImageRef } from '../../src/core/image-ref.js'
import { ContainerCreateError, ContainerOpError, ContainerStartError, ImagePullError, RuntimeUnavailableError } from '../../src/errors.js'
import type { ContainerEvent, ContainerSpec, PullProgress } from '../../src/ports/container-runtime.js'
import { REGISTRY_IMAGE, TEST_IMAGE, ensureDocker, randomMeshletDid, removeMeshletContainers, testDocker, waitFor } from '../helpers/docker.js'

const docker = testDocker()
const rt = new DockerRuntime({ stopTimeoutS: 30 })
/** A runtime whose engine does not exist: any call that reaches the engine fails with RuntimeUnavailableError. */
const deadRt = new DockerRuntime({ socketPath: '/nonexistent/docker.sock', pingTimeoutMs: 1000 })
const did = randomMeshletDid()
const otherDid = randomMeshletDid()
const pulledTags: string[] = []
let seq = 0

function spec(over: Partial<ContainerSpec> = {}, meshletDid = did): ContainerSpec {
  const rkey = `3test${(seq++).toString().padStart(4, '0')}`
  return {
    name: containerNameFor({ owner: 'did:plc:owner', workloadUri: `at://did:plc:owner/commune.scheduler.workload/${rkey}`, replica: 0, meshlet: meshletDid }),
    image: TEST_IMAGE,
    command: ['sleep', '3600'],
    env: [],
    cpuMillis: 250,
    memoryMb: 32,
    pidsLimit: 32,
    labels: {
      workloadUri: `at://did:plc:owner/commune.scheduler.workload/${rkey}`,
      workloadCid: 'bafyreia2b3c4d5e6f7g8h9i0jklmnopqrstuvwxyz234567abcdefghij',
      specHash: `hash-${rkey}`,
      meshletDid,
      replica: 0,
    },
    ...over,
  }
}

async function waitExited(id: string) {
  return waitFor(`container ${id.slice(0, 12)} to exit`, async () => {
    const info = await rt.inspect(id)
    return info?.state === 'exited' ? info : undefined
  })
}

beforeAll(async () => {
  await ensureDocker(docker)
})

afterAll(async () => {
  await removeMeshletContainers(did, docker)
  await removeMeshletContainers(otherDid, docker)
  for (const tag of pulledTags) await docker.getImage(tag).remove({ noprune: true }).catch(() => undefined)
})

describe('pure helpers', () => {
  test.each([
    ['meshlet/busybox:test', { path: 'meshlet/busybox', tag: 'test' }],
    ['busybox', { path: 'busybox' }],
    ['127.0.0.1:5000/meshlet/busybox:test', { domain: '127.0.0.1:5000', path: 'meshlet/busybox', tag: 'test' }],
    ['localhost/app', { domain: 'localhost', path: 'app' }],
    ['ghcr.io/a-b/c_d.e:v1.2-rc', { domain: 'ghcr.io', path: 'a-b/c_d.e', tag: 'v1.2-rc' }],
    ['meshlet/busybox:TEST', { path: 'meshlet/busybox', tag: 'TEST' }],
    [`busybox@sha256:${'a'.repeat(64)}`, { path: 'busybox', digest: `sha256:${'a'.repeat(64)}` }],
  ])('valid reference %s', (ref, want) => {
    const r = parseImageRef(ref)
    expect(r).toEqual({ ok: true, ref: expect.objectContaining(want) })
  })

  test.each([
    ['', /empty/],
    ['Meshlet/BusyBox:test', /repository name must be lowercase/],
    ['meshlet/BusyBox', /repository name must be lowercase/],
    ['busy box', /whitespace/],
    [' busybox', /whitespace/],
    ['x'.repeat(10_000), /too long \(10000 characters/],
    ['busybox:', /empty tag/],
    ['busybox:-x', /bad tag/],
    ['a//b', /empty path component/],
    ['a/-b', /bad path component/],
    ['busybox@sha256:xyz', /bad digest/],
    [':tag', /missing repository name/],
    [42, /expected a string/],
  ])('invalid reference %j', (ref, why) => {
    const r = parseImageRef(ref)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.reason).toMatch(/^invalid image reference: /)
      expect(r.reason).toMatch(why)
    }
  })

  const uriOf = (owner: string, rkey: string) => `at://${owner}/commune.scheduler.workload/${rkey}`
  test.each([
    ['did:plc:abcdefghijklmnopqrstuvwx', 'did:plc:zyxwvutsrqponmlkjihgfedc', '3kabc2def', 0],
    ['did:web:Example.COM', 'did:web:host.example', 'self', 7],
    ['did:web:' + 'very-long-host.'.repeat(20) + 'example', 'did:plc:m', 'k'.repeat(200), Number.MAX_SAFE_INTEGER],
    ['did:plc:???', 'did:plc:~~', '::~~', 1],
  ])('container name for owner %s, meshlet %s, rkey %s, replica %i: owner tail, SHA-256 of the uri, replica, meshlet tail', (owner, meshlet, rkey, replica) => {
    const workloadUri = uriOf(owner, rkey)
    const name = containerNameFor({ owner, workloadUri, replica, meshlet })
    expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/)
    expect(name.length).toBeLessThanOrEqual(128)
    const sha = createHash('sha256').update(workloadUri, 'utf8').digest('hex').slice(0, 16)
    const tail = (did: string, n: number) => did.split(':').slice(2).join(':').toLowerCase().replace(/[^a-z0-9]/g, '').slice(-n) || 'x'
    expect(name).toBe(`meshlet-${tail(owner, 12)}-${sha}-r${replica}-${tail(meshlet, 8)}`)
    expect(containerNameFor({ owner, workloadUri, replica: replica - 1, meshlet })).not.toBe(name)
    expect(containerNameFor({ owner, workloadUri: workloadUri + 'x', replica, meshlet })).not.toBe(name)
    expect(containerNameFor({ owner, workloadUri, replica, meshlet: meshlet + 'q' })).not.toBe(name)
  })

  test('the example of docs/protocol.md', () => {
    const uri = 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/commune.scheduler.workload/3kabc2def'
    expect(containerNameFor({ owner: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', workloadUri: uri, replica: 2, meshlet: 'did:plc:abcdefghijkl1234' })).toBe(
      `meshlet-6zhxrhs64oiz-${createHash('sha256').update(uri).digest('hex').slice(0, 16)}-r2-ijkl1234`,
    )
  })

  test('labels round-trip and incomplete label sets are not ours', () => {
    const labels = spec().labels
    expect(labelsFromInfo(labelsToDocker(labels))).toEqual(labels)
    const { 'farm.meshlet.managed': _m, ...unmanaged } = labelsToDocker(labels)
    expect(labelsFromInfo(unmanaged)).toBeUndefined()
    expect(labelsFromInfo({ ...labelsToDocker(labels), 'farm.meshlet.replica': 'one' })).toBeUndefined()
    expect(labelsFromInfo(undefined)).toBeUndefined()
  })

  const frame = (stream: number, text: string) => rawFrame(stream, Buffer.from(text))
  const rawFrame = (stream: number, payload: Buffer) => {
    const head = Buffer.alloc(8)
    head[0] = stream
    head.writeUInt32BE(payload.length, 4)
    return Buffer.concat([head, payload])
  }
  test.each([
    ['one frame per line', [frame(1, 'a\n'), frame(2, 'b\n'), frame(1, 'c\n')], [['stdout', 'a'], ['stderr', 'b'], ['stdout', 'c']]],
    ['a line split over frames', [frame(1, 'hel'), frame(1, 'lo\nwor'), frame(1, 'ld')], [['stdout', 'hello'], ['stdout', 'world']]],
    ['several lines in one frame, CRLF', [frame(2, 'x\r\ny\n')], [['stderr', 'x'], ['stderr', 'y']]],
    ['a UTF-8 character cut between frames', [frame(1, 'caf'), rawFrame(1, Buffer.from('é\n').subarray(0, 1)), rawFrame(1, Buffer.from('é\n').subarray(1))], [['stdout', 'café']]],
    ['raw (TTY) output', [Buffer.from('plain\ntext\n')], [['stdout', 'plain'], ['stdout', 'text']]],
    ['empty', [Buffer.alloc(0)], []],
  ])('demux logs: %s', (_name, frames, want) => {
    const lines = demuxLogs(Buffer.concat(frames))
    expect(lines.map((l) => [l.stream, l.text])).toEqual(want)
  })
})

describe('DockerRuntime against the real engine', () => {
  test('ping answers; a missing socket gives RuntimeUnavailableError', async () => {
    await expect(rt.ping()).resolves.toBeUndefined()
    await expect(deadRt.ping()).rejects.toBeInstanceOf(RuntimeUnavailableError)
    await expect(deadRt.list()).rejects.toBeInstanceOf(RuntimeUnavailableError)
    await expect(deadRt.pull(TEST_IMAGE)).rejects.toBeInstanceOf(RuntimeUnavailableError)
  })

  test('create applies limits and secure defaults the spec cannot override', async () => {
    const id = await rt.create(spec({ memoryMb: 48, cpuMillis: 300, pidsLimit: 20 }))
    await rt.start(id)
    const raw = await docker.getContainer(id).inspect()
    const hc = raw.HostConfig
    expect(hc.Memory).toBe(48 * 1024 * 1024)
    expect(hc.MemorySwap).toBe(48 * 1024 * 1024)
    expect(hc.NanoCpus).toBe(300_000_000)
    expect(hc.PidsLimit).toBe(20)
    expect(hc.CapDrop).toEqual(['ALL'])
    expect(hc.CapAdd ?? []).toEqual([])
    expect(hc.SecurityOpt).toEqual(['no-new-privileges'])
    expect(hc.Privileged).toBe(false)
    expect(hc.Init).toBe(true)
    expect(hc.Binds ?? []).toEqual([])
    expect(hc.Devices ?? []).toEqual([])
    expect(hc.NetworkMode).toBe('bridge')
    expect(hc.PidMode ?? '').toBe('')
    expect(hc.IpcMode).not.toBe('host')
    expect(hc.AutoRemove).toBe(false)
    expect(hc.RestartPolicy?.Name ?? 'no').toMatch(/^(no|)$/)
    expect(raw.Mounts).toEqual([])
    expect((await rt.inspect(id))?.state).toBe('running')
  })

  test('CPU limits are clamped to [0.01 CPU, host CPUs]; small ones keep their share over a longer period', async () => {
    const ncpu = (await docker.info()).NCPU as number
    const tiny = await rt.create(spec({ cpuMillis: 1 }))
    const small = await rt.create(spec({ cpuMillis: 100 }))
    const huge = await rt.create(spec({ cpuMillis: 1_000_000 }))
    // 0.01 CPU as 10 ms per 1 s period; 0.1 CPU as 20 ms per 200 ms: the same share, but a period
    // always holds the ~20 ms of CPU a container needs to start, so its start is not throttled.
    const t = (await docker.getContainer(tiny).inspect()).HostConfig
    expect([t.CpuQuota, t.CpuPeriod, t.NanoCpus ?? 0]).toEqual([10_000, 1_000_000, 0])
    const s = (await docker.getContainer(small).inspect()).HostConfig
    expect([s.CpuQuota, s.CpuPeriod]).toEqual([20_000, 200_000])
    expect((await docker.getContainer(huge).inspect()).HostConfig.NanoCpus).toBe(ncpu * 1e9)
  })

  test.each([
    [{ memoryMb: 5 }, /memoryMb must be an integer >= 6/],
    [{ memoryMb: 1.5 }, /memoryMb must be an integer/],
    [{ cpuMillis: -1 }, /cpuMillis must be a positive number/],
    [{ pidsLimit: 0 }, /pidsLimit must be a positive integer/],
    [{ name: 'bad name!' }, /invalid container name/],
    [{ env: [{ name: 'A=B', value: 'x' }] }, /invalid env variable name/],
    [{ allowedBinds: ['relative:/x'] }, /invalid bind/],
    [{ image: '' }, /invalid image reference: empty/],
    [{ image: 'Meshlet/BusyBox:test' }, /repository name must be lowercase/],
    [{ image: 'x'.repeat(10_000) }, /too long/],
  ] as [Partial<ContainerSpec>, RegExp][])('bad spec %# is refused before any engine call', async (over, why) => {
    // deadRt has no engine: reaching it would throw RuntimeUnavailableError instead.
    const err = await deadRt.create(spec(over)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContainerCreateError)
    expect((err as Error).message).toMatch(why)
    expect((err as Error).message.length).toBeLessThan(400)
  })

  test('labels round-trip; list sees only this meshlet and only fully labelled containers', async () => {
    const mine = spec({ labels: { ...spec().labels, replica: 2 } })
    const id = await rt.create(mine)
    const otherId = await rt.create(spec({}, otherDid))
    // Carries our DID label but not the full managed set: never ours (the cleanup helper still removes it).
    const half = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sleep', '1'], Labels: { 'farm.meshlet.meshlet': did } })

    const info = await rt.inspect(id)
    expect(info?.labels).toEqual(mine.labels)
    expect(info?.name).toBe(mine.name)
    expect(info?.image).toBe(TEST_IMAGE)
    expect(info?.state).toBe('created')
    expect(await rt.inspect(half.id)).toBeUndefined()

    const listed = await rt.list({ meshletDid: did })
    const ids = listed.map((c) => c.id)
    expect(ids).toContain(id)
    expect(ids).not.toContain(otherId)
    expect(ids).not.toContain(half.id)
    expect(listed.every((c) => c.labels.meshletDid === did)).toBe(true)
    expect(listed.find((c) => c.id === id)).toMatchObject({ name: mine.name, state: 'created', labels: mine.labels })

    const all = (await rt.list()).map((c) => c.id)
    expect(all).toEqual(expect.arrayContaining([id, otherId]))
    expect(all).not.toContain(half.id)
  })

  test('stop is fast with an init (SIGTERM reaches the workload) and idempotent; remove is idempotent', async () => {
    const id = await rt.create(spec())
    await rt.start(id)
    await rt.start(id) // already started = done
    const t0 = performance.now()
    await rt.stop(id, 30)
    const stopMs = performance.now() - t0
    const info = await rt.inspect(id)
    expect(info?.state).toBe('exited')
    // 143 = SIGTERM: the init forwarded it; a kill after the grace period would be 137.
    expect(info?.exitCode).toBe(143)
    expect(stopMs).toBeLessThan(15_000) // far below the 30 s grace period
    await rt.stop(id)
    await rt.remove(id)
    await rt.remove(id)
    expect(await rt.inspect(id)).toBeUndefined()
    await rt.stop(id)
    await rt.remove('0123456789ab0123456789ab')
    await expect(rt.start(id)).rejects.toBeInstanceOf(ContainerStartError)
    await expect(rt.logs(id)).rejects.toBeInstanceOf(ContainerOpError)
  })

  test('pause and unpause are idempotent', async () => {
    const id = await rt.create(spec())
    await rt.start(id)
    await rt.pause(id)
    await rt.pause(id)
    expect((await rt.inspect(id))?.state).toBe('paused')
    await rt.unpause(id)
    await rt.unpause(id)
    expect((await rt.inspect(id))?.state).toBe('running')
    // Stopping a paused container works too (the runner may stop a paused workload).
    await rt.pause(id)
    await rt.stop(id, 30)
    expect((await rt.inspect(id))?.state).toBe('exited')
    await expect(rt.pause(id)).rejects.toThrow(/is not running/)
  })

  test('logs come back demultiplexed into stdout and stderr lines', async () => {
    const id = await rt.create(spec({ command: ['sh', '-c', 'echo out-1; echo err-1 >&2; echo "$GREETING"'], env: [{ name: 'GREETING', value: 'hello meshlet' }] }))
    await rt.start(id)
    await waitExited(id)
    const lines = await rt.logs(id)
    expect(lines).toEqual(expect.arrayContaining([
      { stream: 'stdout', text: 'out-1' },
      { stream: 'stderr', text: 'err-1' },
      { stream: 'stdout', text: 'hello meshlet' },
    ]))
    expect(lines).toHaveLength(3)
    expect(await rt.logs(id, { tail: 1 })).toHaveLength(1)
  })

  test('a batch command exiting 3 reports exit code 3 and its times', async () => {
    const id = await rt.create(spec({ command: ['sh', '-c', 'exit 3'] }))
    expect((await rt.inspect(id))?.startedAt).toBeUndefined() // Docker's zero time is not a time
    await rt.start(id)
    const info = await waitExited(id)
    expect(info.exitCode).toBe(3)
    expect(info.oomKilled).toBe(false)
    expect(Date.parse(info.startedAt ?? '')).toBeGreaterThan(0)
    // The engine stamps start and finish from different components: a few ms of disorder is normal.
    expect(Date.parse(info.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(info.startedAt ?? '') - 1000)
  })

  test('a container growing past its 16 MiB limit is OOM-killed', async () => {
    const id = await rt.create(spec({ memoryMb: 16, command: ['sh', '-c', 'x=a; while true; do x=$x$x; done'] }))
    await rt.start(id)
    const info = await waitExited(id)
    expect(info.oomKilled).toBe(true)
    expect(info.exitCode).toBe(137)
  })

  test('a missing binary shows as exit 127 with the reason in the logs', async () => {
    // With Init: true the init process starts fine and then fails to exec the command, so the
    // failure is an exit, not a start error (without an init the engine would refuse the start).
    const id = await rt.create(spec({ command: ['/no/such/binary'] }))
    await rt.start(id)
    const info = await waitExited(id)
    expect(info.exitCode).toBe(127)
    const text = (await rt.logs(id)).map((l) => l.text).join('\n')
    expect(text).toMatch(/\/no\/such\/binary/)
  })

  test('starting a container that does not exist is a start error', async () => {
    const err = await rt.start('0123456789ab0123456789ab').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContainerStartError)
    expect((err as ContainerStartError).statusCode).toBe(404)
    expect((err as Error).message).toMatch(/No such container/)
    expect((err as Error).message).not.toMatch(/\s$|HTTP code/)
  })

  test('a duplicate name is a create error naming the conflict', async () => {
    const s = spec()
    await rt.create(s)
    await expect(rt.create(s)).rejects.toThrow(/already in use/)
  })

  test('create from an image not present locally asks for a pull', async () => {
    const err = await rt.create(spec({ image: '127.0.0.1:5000/meshlet/nonexistent:latest' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContainerCreateError)
    expect((err as ContainerCreateError).statusCode).toBe(404)
    expect((err as Error).message).toMatch(/not present locally/)
  })

  test.each([
    ['127.0.0.1:5000/meshlet/nonexistent:latest', /image not found: 127\.0\.0\.1:5000\/meshlet\/nonexistent:latest/],
    ['127.0.0.1:5000/meshlet/busybox:no-such-tag', /image not found: /],
    ['127.0.0.1:5999/meshlet/busybox:test', /registry unreachable: .*connection refused/],
  ])('pull %s fails with a human reason', async (ref, why) => {
    const err = await rt.pull(ref).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ImagePullError)
    expect((err as ImagePullError).reason).toMatch(why)
    expect((err as Error).message).not.toMatch(/HTTP code|\s$/)
  })

  test.each([
    ['Meshlet/BusyBox:test', /invalid image reference: repository name must be lowercase/],
    ['x'.repeat(10_000), /invalid image reference: too long/],
  ])('pull of a bad reference is refused without asking the engine (%#)', async (ref, why) => {
    for (const r of [rt, deadRt]) {
      const err = await r.pull(ref).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ImagePullError)
      expect((err as Error).message).toMatch(why)
      expect((err as Error).message.length).toBeLessThan(300)
    }
    await expect(deadRt.hasImage(ref)).rejects.toBeInstanceOf(ImagePullError)
  })

  test('pull from the loopback registry reports progress and the image then exists', async () => {
    // A tag of our own, so other test files using the shared registry tag are never disturbed.
    const tag = `127.0.0.1:5000/meshlet/runtime-pull:t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
    pulledTags.push(tag)
    const [repo, t] = [tag.slice(0, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)]
    await docker.getImage(TEST_IMAGE).tag({ repo, tag: t })
    // The engine insists on an X-Registry-Auth header even for an open registry.
    const pushStream = await docker.getImage(repo).push({ tag: t, authconfig: { serveraddress: '127.0.0.1:5000' } })
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(pushStream, (err: Error | null, out: { error?: string }[]) => {
        const bad = out.find((e) => e.error)
        if (err || bad) reject(err ?? new Error(bad?.error))
        else resolve()
      }),
    )
    await docker.getImage(tag).remove({ noprune: true })
    expect(await rt.hasImage(tag)).toBe(false)

    const events: PullProgress[] = []
    await rt.pull(tag, { onProgress: (p) => events.push(p) })
    expect(events.length).toBeGreaterThan(0)
    expect(events.some((e) => /^Status: |^Digest: |Pulling from/.test(e.status))).toBe(true)
    expect(await rt.hasImage(tag)).toBe(true)
    // The shared registry tag itself also pulls (a no-op or a real pull, depending on what is local),
    // and credentials are passed through (an open registry ignores them).
    await rt.pull(REGISTRY_IMAGE, { auth: { username: 'meshlet', password: 'not-needed', serveraddress: '127.0.0.1:5000' } })
    expect(await rt.hasImage(REGISTRY_IMAGE)).toBe(true)
  })

  test('a pull aborted by its signal fails as aborted', async () => {
    const ac = new AbortController()
    ac.abort()
    await expect(rt.pull(REGISTRY_IMAGE, { signal: ac.signal })).rejects.toThrow(/aborted/)
  })

  test('watch sees start and die of a meshlet container and ends on abort', async () => {
    const ac = new AbortController()
    const seen: ContainerEvent[] = []
    const watching = rt.watch((e) => seen.push(e), ac.signal)
    // Started first, so its events would arrive before ours if the label filter let them through.
    const half = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sh', '-c', 'exit 0'], Labels: { 'farm.meshlet.meshlet': did } })
    await half.start()
    const s = spec({ command: ['sh', '-c', 'sleep 0.3; exit 4'] })
    const id = await rt.create(s)
    await rt.start(id)
    await waitFor('start and die events', async () => {
      const actions = seen.filter((e) => e.id === id).map((e) => e.action)
      return actions.includes('start') && actions.includes('die')
    }, 30_000)
    const mine = seen.filter((e) => e.id === id)
    expect(mine.find((e) => e.action === 'die')?.exitCode).toBe(4)
    expect(mine[0]?.labels).toEqual(s.labels)
    await rt.remove(id)
    await waitFor('destroy event', async () => seen.some((e) => e.id === id && e.action === 'destroy'))
    ac.abort()
    await expect(watching).resolves.toBeUndefined()
    expect(seen.filter((e) => e.id === half.id)).toEqual([])
  })
})
