// Private images (issue 13): a loopback registry of this test's own with htpasswd auth. A workload
// whose image lives there fails with a clear message without credentials, and runs with
// `registryAuth` naming a sealed secret that holds them. The password is in no peer log line.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import { Writable } from 'node:stream'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import { runClientCommand } from '../../src/client/cli-commands.js'
import { REDACT_PATHS } from '../../src/logger.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const USER = 'secrets-branch'
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

describe('private images with sealed registry credentials', () => {
  let c: DevCommune
  let registry: ChildProcess | undefined
  let image = ''
  const lines: string[] = []
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-secrets-registry-'))

  beforeAll(async () => {
    const port = await freePort()
    const addr = `127.0.0.1:${port}`
    fs.writeFileSync(path.join(tmp, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', USER, PASSWORD]))
    fs.writeFileSync(
      path.join(tmp, 'config.yml'),
      ['version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${tmp}/data`, 'auth:', '  htpasswd:', '    realm: meshlet-secrets-test', `    path: ${tmp}/htpasswd`, 'http:', `  addr: ${addr}`, ''].join('\n'),
    )
    registry = spawn('/usr/bin/docker-registry', ['serve', path.join(tmp, 'config.yml')], { stdio: 'ignore' })
    await waitFor(async () => (await fetch(`http://${addr}/v2/`).then((r) => r.status, () => 0)) === 401, { what: 'the auth registry to answer 401', timeoutMs: 20_000 })
    image = `${addr}/secrets-branch/busybox:1`
    await docker.getImage('meshlet/busybox:test').tag({ repo: `${addr}/secrets-branch/busybox`, tag: '1' })
    const stream = await docker.getImage(image).push({ authconfig: { username: USER, password: PASSWORD, serveraddress: addr } })
    const pushed = await new Promise<unknown[]>((resolve, reject) => docker.modem.followProgress(stream, (err, out) => (err ? reject(err) : resolve(out))))
    expect(JSON.stringify(pushed)).not.toMatch(/"error"/)
    // Not on the host any more: the peer must pull it (the owner's own present images are not pulled again).
    await docker.getImage(image).remove()

    const out = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(l)
        cb()
      },
    })
    const logger = pino({ level: 'debug', base: undefined, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, out)
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }], leaseMs: 8000, bidWindowMs: 500, logger })
    await c.startAll()
  }, 120_000)

  afterAll(async () => {
    await c?.close()
    registry?.kill('SIGTERM')
    await docker.getImage(image).remove().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  const as = (m: Member) => ({ MESHLET_USER: m.owner.did, MESHLET_USER_PASSWORD: m.owner.password, MESHLET_USER_PDS: m.owner.pds, MESHLET_PLC: c.net.plcUrl, MESHLET_ALLOW_HTTP: '1' })
  const workload = (name: string, extra: Record<string, unknown> = {}) => ({ name, image, replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, command: ['sleep', '600'], restart: { policy: 'never' }, ...extra })
  const statusOf = (uri: string) => c.peers()[0]!.view.statusesFor(uri)[0]

  test('without credentials: failed, saying the registry wants them; with registryAuth: pulled and running', async () => {
    const ann = c.member('ann')
    const bare = await c.publishWorkload(ann, workload('private-no-creds'))
    const failed = await waitFor(() => (statusOf(bare.uri)?.state === 'failed' ? statusOf(bare.uri) : undefined), { what: 'the pull without credentials to fail', timeoutMs: 45_000 })
    expect(failed.message).toMatch(/no basic auth credentials|unauthorized|authentication required/i)
    expect(failed.message).toMatch(/the registry requires credentials: seal them with `meshlet secret set NAME`/)

    await waitFor(() => c.peers()[0]!.view.profile(ann.meshlet.did)?.sealingKey, { what: 'the sealing key', timeoutMs: 20_000 })
    const f = path.join(tmp, 'creds.json')
    fs.writeFileSync(f, JSON.stringify({ username: USER, password: PASSWORD }), { mode: 0o600 })
    const set = await runClientCommand('secret', ['set', 'regcreds', '--from-file', f], as(ann))
    expect(set?.code, set?.text).toBe(0)

    const authed = await c.publishWorkload(ann, workload('private-with-creds', { registryAuth: 'regcreds' }))
    const running = await waitFor(() => (statusOf(authed.uri)?.state === 'running' ? statusOf(authed.uri) : undefined), {
      what: 'the pull with sealed credentials to run',
      timeoutMs: 45_000,
      onTimeout: () => JSON.stringify(statusOf(authed.uri)),
    })
    expect(running.containerId).toBeTruthy()
    // No credentials reach the container: registryAuth mounts nothing.
    const inspect = await docker.getContainer(running.containerId!).inspect()
    expect(JSON.stringify(inspect)).not.toContain(PASSWORD)
    expect(inspect.Mounts.some((m) => m.Destination === '/run/secrets')).toBe(false)
    for (const l of lines) expect(l).not.toContain(PASSWORD)
    await c.deleteRecord(ann.owner.agent, bare.uri)
    await c.deleteRecord(ann.owner.agent, authed.uri)
  }, 120_000)
})
