// A newcomer's first hour (issue 18), scripted: start `meshlet dev` as the README says, take the
// variables it prints, submit a workload file, see it running in `ls`, read its logs, remove it;
// and make the mistakes people make, each answered with what to do (asserted text) and the right
// exit code. Everything is the real binary as a child process against real PLC/PDS/peers/Docker.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { waitFor } from '../../src/devnet/commune.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const BIN = path.join(ROOT, 'bin/meshlet.mjs')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** The environment without any MESHLET_* (nor vitest's), as in a fresh shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESHLET_') && !k.startsWith('VITEST')) base[k] = v
  return base
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * A port p with p..p+n-1 all free on loopback, below the kernel's ephemeral range (32768+), where
 * other processes' outgoing connections would take them between this check and the listen.
 */
async function freeRange(n: number): Promise<number> {
  const free = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer()
      s.once('error', () => resolve(false))
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)))
    })
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 12_000)
    let ok = true
    for (let i = 0; i < n && ok; i++) ok = await free(p + i)
    if (ok) return p
  }
}

let tmp: string
let dev: ChildProcess
let devOut = ''
let alice: Record<string, string>
let plcUrl: string
const meshlet = (args: string[], env: Record<string, string> = alice) => run(process.execPath, [BIN, ...args], { ...cleanEnv(), ...env }, tmp)
const without = (...keys: string[]) => Object.fromEntries(Object.entries(alice).filter(([k]) => !keys.includes(k)))

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-first-hour-'))
  const [plc, pds, peer] = [await freeRange(1), await freeRange(2), await freeRange(2)]
  const dataDir = path.join(tmp, 'dev')
  // Step 1 of the README: the dev commune, in the foreground of its own terminal.
  dev = spawn(process.execPath, [BIN, 'dev', '--peers', '2', '--data-dir', dataDir, '--plc-port', String(plc), '--pds-port', String(pds), '--peer-port', String(peer), '--log-level', 'warn'], {
    env: cleanEnv(),
    cwd: tmp,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  dev.stdout!.on('data', (b: Buffer) => (devOut += b.toString()))
  dev.stderr!.on('data', (b: Buffer) => (devOut += b.toString()))
  await waitFor(() => devOut.includes('meshlet dev: ready') || dev.exitCode !== null, { timeoutMs: 100_000, what: 'meshlet dev to be ready', onTimeout: () => devOut })
  expect(devOut).toContain('meshlet dev: ready')
  // Step 2: alice's variables, as `eval "$(meshlet dev env alice)"` gets them.
  const env = await run(process.execPath, [BIN, 'dev', 'env', 'alice', '--data-dir', dataDir], cleanEnv(), tmp)
  expect(env.code).toBe(0)
  alice = Object.fromEntries([...env.stdout.matchAll(/^export (MESHLET_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]))
  plcUrl = `http://localhost:${plc}`
  // The same block is in what `meshlet dev` printed.
  expect(devOut).toContain(`export MESHLET_USER=${alice.MESHLET_USER}`)
  await fs.writeFile(path.join(tmp, 'typo.yaml'), 'name: typo\nimage: meshlet/busybox:test\nreplicas: 1\nresources: { cpuMillis: 100, memoryMb: 16 }\nrestartPolicy: always\n')
  await fs.writeFile(path.join(tmp, 'nope.yaml'), 'name: nope\nimage: 127.0.0.1:9/meshlet/not-there:1\nreplicas: 1\nresources: { cpuMillis: 100, memoryMb: 16 }\n')
}, 150_000)

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    dev.kill('SIGKILL')
    // The peers died with it: their containers would stay. Remove what this commune started.
    const docker = new Docker({ socketPath: '/var/run/docker.sock' })
    const state = JSON.parse(await fs.readFile(path.join(tmp, 'dev', 'state.json'), 'utf8').catch(() => '{"members":{}}')) as { members: Record<string, { meshlet: { did: string } }> }
    const dids = new Set(Object.values(state.members).map((m) => m.meshlet.did))
    const all = await docker.listContainers({ all: true, filters: { label: ['farm.meshlet.managed=true'] } })
    await Promise.all(all.filter((c) => dids.has(c.Labels['farm.meshlet.meshlet'] ?? '')).map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})))
  }
  await fs.rm(tmp, { recursive: true, force: true }).catch(() => {})
})

test('from nothing to a workload running, its logs, and gone', async () => {
  expect(alice).toMatchObject({ MESHLET_PLC: plcUrl, MESHLET_ALLOW_HTTP: '1', MESHLET_USER_PASSWORD: expect.any(String) })
  const sub = await meshlet(['submit', path.join(ROOT, 'examples/hello.yaml')])
  expect(sub.stderr).toBe('')
  expect(sub.stdout).toMatch(/^submitted "hello": at:\/\/did:plc:\w+\/commune\.scheduler\.workload\/\w+/)
  expect(sub.code).toBe(0)

  // By name, as `ls` shows it; running with exactly one replica.
  await waitFor(async () => /^\S+\s+hello\s+running\s+1\/1\s/m.test((await meshlet(['ls'])).stdout), { timeoutMs: 120_000, what: 'hello running in ls' })
  const logs = await waitFor(async () => {
    const r = await meshlet(['logs', 'hello'])
    return r.code === 0 && r.stdout.includes('hello from') ? r : false
  }, { timeoutMs: 60_000, what: 'hello to print' })
  expect(logs.stdout).toMatch(/^hello from \w+$/m)
  const status = await meshlet(['status', 'hello'])
  expect(status.code).toBe(0)
  expect(status.stdout).toMatch(/^state\s+running$/m)

  const rm = await meshlet(['rm', 'hello'])
  expect(rm.code).toBe(0)
  expect(rm.stdout).toMatch(/^removed at:\/\/.+; every meshlet stops its containers/)
  const ls = await meshlet(['ls'])
  expect(ls.stdout).not.toMatch(/ hello /)
  expect((await meshlet(['logs', 'hello'])).stderr).toMatch(/no workload named or with ID "hello"; yours: |you have no workloads/)
}, 240_000)

test('each mistake says what to do, with the right exit code', async () => {
  // Two at a time: on 2 cores, more child processes only thrash.
  // --strict must refuse before the plain submit writes the record (then the name is taken).
  const [strict, flag] = await Promise.all([meshlet(['submit', 'typo.yaml', '--strict']), meshlet(['ls', '--plcc', plcUrl])])
  const typo = await meshlet(['submit', 'typo.yaml'])
  const [unknownMeshlet, ownerAsMeshlet] = await Promise.all([
    meshlet(['ls', '--meshlet', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa']),
    meshlet(['ls', '--meshlet', alice.MESHLET_USER!]),
  ])
  const [noHttp, deadPlc] = await Promise.all([
    meshlet(['ls'], without('MESHLET_ALLOW_HTTP', 'MESHLET_USER_PDS')),
    meshlet(['ls'], { ...without('MESHLET_USER_PDS'), MESHLET_PLC: 'http://127.0.0.1:9' }),
  ])
  const oldVar = await meshlet(['ls'], { ...without('MESHLET_USER', 'MESHLET_USER_PASSWORD'), MESHLET_OWNER: alice.MESHLET_USER!, MESHLET_OWNER_PASSWORD: alice.MESHLET_USER_PASSWORD! })
  expect(strict.code).toBe(2)
  expect(strict.stderr).toMatch(/^error: typo\.yaml: refused \(--strict\): unknown key restartPolicy: did you mean "restart"\?/)

  expect(typo.code).toBe(0)
  expect(typo.stderr).toMatch(/^warning: typo\.yaml: unknown key restartPolicy: did you mean "restart"\?/m)
  expect(typo.stdout).toMatch(/1 unknown key ignored by every peer; --strict refuses them/)

  expect(flag.code).toBe(2)
  expect(flag.stderr).toMatch(/^meshlet ls: unknown flag --plcc; did you mean --plc\?$/m)

  expect(unknownMeshlet.code).toBe(1)
  expect(unknownMeshlet.stderr).toMatch(/meshlet did:plc:aaaaaaaaaaaaaaaaaaaaaaaa did not answer: .*DID document cannot be resolved/)
  expect(unknownMeshlet.stdout).not.toMatch(/unknown/)

  expect(ownerAsMeshlet.code).toBe(1)
  expect(ownerAsMeshlet.stderr).toMatch(new RegExp(`${alice.MESHLET_USER} is you \\(an owner\\), not a meshlet; your meshlets: did:plc:\\w+`))

  expect(noHttp.code).toBe(1)
  expect(noHttp.stderr).toContain(`cannot resolve ${alice.MESHLET_USER} at the PLC directory ${plcUrl}: Forbidden protocol "http:"`)
  expect(noHttp.stderr).toContain('hint: plain http:// is refused by default; for a local dev network add --allow-http (or MESHLET_ALLOW_HTTP=1)')

  expect(deadPlc.code).toBe(1)
  expect(deadPlc.stderr).toContain(`cannot resolve ${alice.MESHLET_USER} at the PLC directory http://127.0.0.1:9: fetch failed`)
  expect(deadPlc.stderr).toContain('hint: DIDs were resolved at http://127.0.0.1:9 (from --plc / MESHLET_PLC); is that directory running?')

  expect(oldVar.code).toBe(0)
  expect(oldVar.stderr).toContain("note: MESHLET_OWNER is deprecated for client commands (it reads like the peer's owner); use MESHLET_USER")

  // A name already taken is refused (names are unique per owner).
  const again = await meshlet(['submit', 'typo.yaml'])
  expect(again.code).toBe(2)
  expect(again.stderr).toMatch(/you already have a workload named "typo" \(ID \w+\): remove it first \(meshlet rm typo\)/)
}, 240_000)

test('an image that cannot be pulled is failed in ls, with the reason in full, and logs says why there are none', async () => {
  expect((await meshlet(['submit', 'nope.yaml'])).code).toBe(0)
  const row = await waitFor(async () => (await meshlet(['ls'])).stdout.split('\n').find((l) => /\snope\s+failed\s/.test(l)), { timeoutMs: 120_000, what: 'nope to fail' })
  expect(row).toMatch(/\snope\s+failed\s+0\/1\s+127\.0\.0\.1:9\/meshlet\/not-there:1\s+cannot pull 127\.0\.0\.1:9\/meshlet\/not-there:1: .+$/)
  expect(row).not.toContain('…')
  const logs = await meshlet(['logs', 'nope'])
  expect(logs.code).toBe(1)
  expect(logs.stderr).toMatch(/^error: no logs: nope failed before any container ran: cannot pull 127\.0\.0\.1:9\/meshlet\/not-there:1: .+; `meshlet status nope` shows each replica and bid$/m)
}, 240_000)

test('Ctrl-C stops the commune and says so', async () => {
  const exited = new Promise<number | null>((r) => dev.once('exit', (code) => r(code)))
  dev.kill('SIGINT')
  expect(await exited).toBe(0)
  expect(devOut).toContain('meshlet dev: stopping')
}, 30_000)
