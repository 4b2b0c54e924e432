import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, expect, test } from 'vitest'
import { ensureDocker, waitFor } from '../helpers/docker.js'
import { DevCommune } from '../../src/devnet/commune.js'
import { freePort } from '../../src/devnet/network.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const pexec = promisify(execFile)
// Names unique to this branch and run: other agents build and run peers on the same engine.
const RUN = `iq${randomBytes(3).toString('hex')}`
const IMAGE = `meshlet/peer:${RUN}`
const PEER = `meshlet-${RUN}-compose-peer`
const FWD = `meshlet-${RUN}-compose-fwd`

function run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, output })
    })
  })
}

const docker = (...args: string[]) => pexec('docker', args, { maxBuffer: 16 * 1024 * 1024 })

let commune: DevCommune | undefined
let tmp = ''
afterAll(async () => {
  await docker('rm', '-f', '-v', FWD).catch(() => {})
  await docker('rm', '-f', '-v', PEER).catch(() => {})
  await docker('rmi', IMAGE).catch(() => {})
  await commune?.close()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
}, 180_000)

// A TCP forwarder in the peer container's network namespace (a second container of the same
// image): the devnet's DID documents name http://localhost:<port>, which inside the container is
// the container itself. It forwards those ports to the host through the engine's bridge gateway
// (this machine), so the peer container itself runs exactly as built, with nothing added.
const FORWARDER = `
const net = require('node:net')
const [gw, ...ports] = process.argv.slice(1)
for (const p of ports) net.createServer((c) => { const u = net.connect(Number(p), gw); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()) }).listen(Number(p), '127.0.0.1')
`

// The peer from the built image (dist/, no tsx) against the test PDS on this host, reached through
// the port docker publishes: it listens on every interface inside its container, takes its
// password from a 0600 secret file, and never logs it.
test('docker compose peer: built image, password file, reachable through its published port', async () => {
  await ensureDocker()
  const built = await run('bash', ['scripts/check-compose.sh'], 1_200_000, { ...process.env, PEER_IMAGE: IMAGE })
  if (built.code !== 0) console.error(built.output)
  expect(built.code).toBe(0)
  expect(built.output).toMatch(/meshlet --help runs in .* \(dist\/\)/)
  // The image holds the compiled code only.
  const { stdout: listing } = await docker('run', '--rm', IMAGE, 'ls', '/app')
  expect(listing.split(/\s+/)).toContain('dist')
  expect(listing.split(/\s+/)).not.toContain('src')

  commune = await DevCommune.create({ members: [{ name: 'ann' }], pdsCount: 1 })
  const ann = commune.member('ann')
  const plcPort = new URL(commune.net.plcUrl).port
  const pdsPort = new URL(ann.meshlet.pds).port
  const { stdout: gwOut } = await docker('network', 'inspect', 'bridge', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
  const gateway = gwOut.trim()
  expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/)

  tmp = await fs.mkdtemp(join(os.tmpdir(), `meshlet-${RUN}-`))
  const secret = join(tmp, 'meshlet_password')
  await fs.writeFile(secret, `${ann.meshlet.password}\n`, { mode: 0o600 })
  const hostPort = await freePort()
  await docker(
    'run', '-d', '--name', PEER,
    '--add-host', 'host.docker.internal:host-gateway',
    '-p', `127.0.0.1:${hostPort}:2583`,
    '-v', '/var/run/docker.sock:/var/run/docker.sock',
    '-v', `${secret}:/run/secrets/meshlet_password:ro`,
    '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '-e', `MESHLET_DID=${ann.meshlet.did}`,
    '-e', `MESHLET_OWNER=${ann.owner.did}`,
    '-e', 'MESHLET_PASSWORD_FILE=/run/secrets/meshlet_password',
    '-e', `MESHLET_PDS=http://host.docker.internal:${pdsPort}`,
    '-e', `MESHLET_PLC=http://host.docker.internal:${plcPort}`,
    '-e', 'MESHLET_ALLOW_HTTP=1',
    '-e', `MESHLET_ENDPOINT=http://127.0.0.1:${hostPort}`,
    '-e', 'MESHLET_LOG_LEVEL=debug',
    IMAGE,
  )
  await docker('run', '-d', '--name', FWD, '--network', `container:${PEER}`, '--read-only', '--cap-drop', 'ALL', IMAGE, 'node', '-e', FORWARDER, gateway, plcPort, pdsPort)

  const health = await waitFor(
    'the containerised peer to answer /health on its published port',
    async () => {
      const res = await fetch(`http://127.0.0.1:${hostPort}/health`, { signal: AbortSignal.timeout(2000) })
      return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined
    },
    120_000,
    500,
  ).catch(async (err) => {
    const { stdout, stderr } = await docker('logs', '--tail', '40', PEER).catch(() => ({ stdout: '', stderr: '' }))
    console.error(stdout, stderr)
    throw err
  })
  expect(health).toBeTruthy()
  // The profile it published names the endpoint it was given, not 127.0.0.1 inside the container.
  // (/health answers as soon as the server listens; the profile is published right after.)
  const endpoint = await waitFor(
    'the containerised peer to publish its profile',
    async () => (await ann.meshlet.agent.com.atproto.repo.getRecord({ repo: ann.meshlet.did, collection: 'commune.scheduler.profile', rkey: 'self' })).data.value as { endpoint: string },
    60_000,
    500,
  )
  expect(endpoint.endpoint).toBe(`http://127.0.0.1:${hostPort}`)
  const { stdout: logs, stderr: errLogs } = await docker('logs', PEER)
  expect(`${logs}${errLogs}`).toContain('meshlet started')
  expect(`${logs}${errLogs}`).not.toContain(ann.meshlet.password)
}, 1_500_000)
