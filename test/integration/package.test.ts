// The package as a user gets it: `npm pack` (which builds dist/ first), installed like `npm install -g`
// into a temporary prefix, then `meshlet` run from that prefix's bin/ as a person would.
//
// A global install resolves every dependency from the registry. This machine's npm cache holds the
// packages' tarballs but not their registry metadata, so an offline `npm install -g` fails with
// ENOTCACHED (or fails otherwise); then the test lays the tarball out exactly as `npm install -g` does
// (<prefix>/lib/node_modules/meshlet, <prefix>/bin/meshlet -> its bin) with the checkout's installed
// dependencies as its node_modules. MESHLET_PACKAGE_ONLINE=1 makes it a real `npm install -g` from the
// registry instead (slow: ~100 MB).
import { execFile, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const NODE24_BIN = path.dirname(process.execPath)
/**
 * The machine's own (older) Node: every entry point must say what it needs. These machines ship
 * Node 20, so CI runs these tests; they skip only on a machine that has no older Node to try.
 */
const OLD_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  if (!fs.existsSync(p)) return false
  const v = spawnSync(p, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })
  return Number(v.stdout.trim()) < 24
})
const NEEDS_NODE = /^meshlet needs Node >= 24 \(this is v\d+\.\d+\.\d+, [^)]+\): .*(bootstrap\.sh|Node 24).*\n$/

describe('the packed meshlet', () => {
  let tmp: string
  let prefix: string
  let tarball: string
  let how: string
  const env = () => ({ ...process.env, PATH: `${path.join(prefix, 'bin')}:${NODE24_BIN}:${process.env.PATH}`, VITEST: undefined })

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-pack-'))
    prefix = path.join(tmp, 'prefix')
    const packEnv = { ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH}` }
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT, env: packEnv, maxBuffer: 16 << 20 })
    tarball = path.join(tmp, (JSON.parse(stdout) as { filename: string }[])[0]!.filename)
    const online = process.env.MESHLET_PACKAGE_ONLINE === '1'
    const install = await run('npm', ['install', '-g', '--prefix', prefix, online ? '--prefer-offline' : '--offline', '--no-audit', '--no-fund', tarball], {
      cwd: tmp,
      env: packEnv,
      timeout: online ? 600_000 : 60_000,
    }).then(
      () => undefined,
      (err: { stderr?: string; message?: string }) => `${err.message ?? ''}\n${err.stderr ?? ''}`,
    )
    if (install === undefined) {
      how = 'npm install -g'
    } else {
      if (online) throw new Error(`npm install -g failed:\n${install}`)
      const pkg = path.join(prefix, 'lib/node_modules/meshlet')
      fs.mkdirSync(pkg, { recursive: true })
      await run('tar', ['xzf', tarball, '-C', pkg, '--strip-components=1'])
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'))
      fs.mkdirSync(path.join(prefix, 'bin'))
      fs.symlinkSync('../lib/node_modules/meshlet/bin/meshlet.mjs', path.join(prefix, 'bin/meshlet'))
      const why = /ENOTCACHED/.test(install) ? 'no registry metadata in the npm cache' : install.trim().split('\n').at(-1)
      how = `the npm -g layout by hand (offline npm install -g failed: ${why})`
    }
    console.info(`package: ${path.basename(tarball)} (${fs.statSync(tarball).size} bytes), installed with ${how}`)
  }, 300_000)

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  test('ships the compiled code, its launcher and the lexicons, not the TypeScript', () => {
    const pkg = path.join(prefix, 'lib/node_modules/meshlet')
    expect(fs.existsSync(path.join(pkg, 'dist/cli.js'))).toBe(true)
    expect(fs.existsSync(path.join(pkg, 'lexicons/farm/meshlet/getCapacity.json'))).toBe(true)
    // The web view's script and style (issue 15): served from the package, no CDN.
    expect(fs.existsSync(path.join(pkg, 'web/app.js'))).toBe(true)
    expect(fs.existsSync(path.join(pkg, 'web/app.css'))).toBe(true)
    expect(fs.existsSync(path.join(pkg, 'src'))).toBe(false)
    expect(fs.existsSync(path.join(pkg, 'test'))).toBe(false)
  })

  test('`meshlet --help` from the installed bin lists the commands', async () => {
    const { stdout, stderr } = await run('meshlet', ['--help'], { env: env(), cwd: tmp })
    expect(stdout).toMatch(/^usage: meshlet <command> \[options\]$/m)
    for (const cmd of ['run', 'link', 'submit', 'ls', 'status', 'shutdown']) expect(stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'))
    expect(stderr).toBe('')
  })

  test('`meshlet run --help` loads the peer configuration from dist', async () => {
    const { stdout } = await run('meshlet', ['run', '--help'], { env: env(), cwd: tmp })
    expect(stdout).toMatch(/MESHLET_DID/)
  })

  test('a client command without credentials fails at once with what is missing (exit 2)', async () => {
    const err = (await run('meshlet', ['ls'], { env: { ...env(), MESHLET_OWNER: '' }, cwd: tmp }).catch((e: unknown) => e)) as { code: number; stderr: string }
    expect(err.code).toBe(2)
    expect(err.stderr).toMatch(/who are you\? give --as/)
  })

  test.skipIf(!OLD_NODE)('under an older Node the installed bin says in one line what it needs', () => {
    const r = spawnSync(OLD_NODE!, [path.join(prefix, 'bin/meshlet'), '--help'], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(NEEDS_NODE)
  })
})

describe.skipIf(!OLD_NODE)('every entry point of the checkout under an older Node', () => {
  // npm itself runs on the old Node here: its scripts start with scripts/check-node.mjs.
  const oldEnv = () => ({ ...process.env, PATH: `${path.dirname(OLD_NODE!)}:/usr/bin:/bin`, VITEST: undefined })

  test('bin/meshlet.mjs', () => {
    const r = spawnSync(OLD_NODE!, [path.join(ROOT, 'bin/meshlet.mjs'), 'ls'], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(NEEDS_NODE)
  })

  test.each(['bench', 'test', 'typecheck', 'build', 'demo'])('npm run %s', (script) => {
    const r = spawnSync('npm', ['run', '--silent', script], { cwd: ROOT, env: oldEnv(), encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(NEEDS_NODE)
    expect(r.stderr).not.toMatch(/node:sqlite|TypeError|at .*\.js:\d+/)
  })

  test('scripts/gen-lexicons.sh', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/gen-lexicons.sh')], { cwd: ROOT, env: oldEnv(), encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(NEEDS_NODE)
  })
})
