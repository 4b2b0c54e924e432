// How long a client command takes to start: the real `meshlet` binary (bin/meshlet.mjs running the
// compiled dist/), `--help` and a client command that fails on its input (`ls` with no identity),
// each timed from spawn to exit, interleaved, median of n. The same commands through tsx (the
// TypeScript, as a checkout without a build runs it) show what the build saves. Target <= 300 ms.
import { execFile, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { summarize, type Summary } from './stats.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export interface CliStartRow {
  label: string
  command: string
  compiled: Summary
  /** Undefined for the floor row (plain node), which has no TypeScript to compare. */
  tsx?: Summary
}

export interface CliStartResult {
  n: number
  rows: CliStartRow[]
}

function timeOnce(args: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESHLET_')) env[k] = v
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'ignore' })
    child.once('error', reject)
    child.once('exit', () => resolve(performance.now() - t0))
  })
}

export async function measureCliStart(n: number): Promise<CliStartResult> {
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: ROOT })
  const bin = path.join(ROOT, 'bin/meshlet.mjs')
  const tsx = ['--import', 'tsx', path.join(ROOT, 'src/cli.ts')]
  const cases = [
    { label: 'the floor: node starting with nothing to do', command: 'node -e 0', args: ['-e', '0'], floor: true },
    { label: 'help', command: 'meshlet --help', args: [bin, '--help'] },
    { label: 'client command, bad input (no identity)', command: 'meshlet ls', args: [bin, 'ls'] },
  ]
  const rows: CliStartRow[] = []
  for (const c of cases) {
    const compiled: number[] = []
    const viaTsx: number[] = []
    await timeOnce(c.args) // warm the file cache
    for (let i = 0; i < n; i++) {
      compiled.push(await timeOnce(c.args))
      if (!c.floor) viaTsx.push(await timeOnce([...tsx, ...c.args.slice(1)]))
    }
    rows.push({ label: c.label, command: c.command, compiled: summarize(compiled), tsx: c.floor ? undefined : summarize(viaTsx) })
  }
  return { n, rows }
}
