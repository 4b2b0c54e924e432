// `npm run bench [-- --quick] [-- --n 20 --endpoint-n 10 --burst 50 --batch-n 20 --no-swarm --phases latency,burst,batch --out FILE]`
// Starts the real local commune (PLC + PDS + 3 peers + this machine's Docker engine), measures
// meshlet against Docker Swarm and raw dockerode side by side, and writes BENCHMARKS.md.
// Swarm is always left and its docker_gwbridge removed, also on failure or Ctrl-C.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ALL_PHASES, FULL, QUICK, runBench, runPendingCleanups, type BenchOptions, type Phase } from './harness.js'
import { renderMarkdown } from './report.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    n: { type: 'string' },
    'endpoint-n': { type: 'string' },
    burst: { type: 'string' },
    'burst-reps': { type: 'string' },
    'window-reps': { type: 'string' },
    'batch-n': { type: 'string' },
    'no-swarm': { type: 'boolean', default: false },
    phases: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  console.log('usage: npm run bench -- [--quick] [--n N] [--burst N] [--burst-reps N] [--window-reps N] [--batch-n N] [--no-swarm] [--endpoint-n N] [--phases latency,burst,endpoint,batch,window,footprint,intake,cli] [--out BENCHMARKS.md] [--json results.json]')
  process.exit(0)
}

const int = (v: string | undefined, fallback: number): number => {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got "${v}"`)
  return n
}

const base = values.quick ? QUICK : FULL
const phases = values.phases ? (values.phases.split(',').map((s) => s.trim()) as Phase[]) : ALL_PHASES
for (const p of phases) if (!ALL_PHASES.includes(p)) throw new Error(`unknown phase "${p}" (one of ${ALL_PHASES.join(', ')})`)
const logFile = path.join(os.tmpdir(), `meshlet-bench-${Date.now()}`, 'peers.log')
const opts: BenchOptions = {
  ...base,
  n: int(values.n, base.n),
  ...(values['endpoint-n'] ? { endpointN: int(values['endpoint-n'], 1) } : {}),
  burst: int(values.burst, base.burst),
  burstReps: int(values['burst-reps'], base.burstReps),
  windowReps: int(values['window-reps'], base.windowReps),
  batchN: int(values['batch-n'], base.batchN),
  swarm: !values['no-swarm'],
  phases,
  logFile,
  progress: (msg) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`),
}

let interrupted = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true
    console.error(`[bench] ${sig}: leaving Swarm, stopping peers, removing containers...`)
    void runPendingCleanups().finally(() => process.exit(130))
  })
}

const command = ['npm run bench', ...process.argv.slice(2).length ? ['--', ...process.argv.slice(2)] : []].join(' ')
const results = await runBench(opts)
if (interrupted) process.exit(130)

const out = path.resolve(ROOT, values.out ?? 'BENCHMARKS.md')
if (values.json) await fs.writeFile(path.resolve(values.json), JSON.stringify(results, null, 2))
const notesFile = path.join(ROOT, 'bench', 'notes.md')
const notes = await fs.readFile(notesFile, 'utf8').then((s) => [s.trim()], () => [])
// Sections measured by other commands (failover, CLI start, sims, mutation...): appended verbatim
// after the notes, so regenerating the bench keeps them.
const measured = await fs.readFile(path.join(ROOT, 'bench', 'measured.md'), 'utf8').then((s) => s.replace(/^<!--[\s\S]*?-->\s*/, '').trim(), () => '')
if (results.errors.length) {
  const failed = out.replace(/\.md$/, '') + '.failed.md'
  await fs.writeFile(failed, renderMarkdown(results, command, notes) + (measured ? `\n${measured}\n` : ''))
  console.error(`[bench] ${results.errors.length} phase(s) failed; ${path.relative(ROOT, out)} left as it was, partial report in ${failed}:\n${results.errors.join('\n')}`)
  process.exit(1)
}
await fs.writeFile(out, renderMarkdown(results, command, notes) + (measured ? `\n${measured}\n` : ''))
console.log(`[bench] wrote ${path.relative(process.cwd(), out) || out} in ${results.durationS} s`)
process.exit(0)
