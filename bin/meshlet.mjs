#!/usr/bin/env node
// The `meshlet` command. Runs the compiled JavaScript in dist/ (`npm run build`; an installed package
// ships it). In a checkout whose dist/ is missing or older than src/, it runs the TypeScript through
// tsx instead, so an edit never runs stale code. Kept to syntax every Node since 14 parses, so an
// old Node gets the one-line "needs Node 24" below and not a crash in some module.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const NEED = 24
const major = Number(process.versions.node.split('.')[0])
if (major < NEED) {
  process.stderr.write(`meshlet needs Node >= ${NEED} (this is v${process.versions.node}, ${process.execPath}): install Node ${NEED} (https://nodejs.org), or in a checkout run \`. scripts/bootstrap.sh\`, which puts Node ${NEED} on PATH\n`)
  process.exit(1)
}

const v8 = (await import('node:v8')).default
// A peer is a long-lived daemon with a small live heap: a 1 MiB young generation (V8's default
// grows it to 16 MiB) keeps an idle peer near 150 MB RSS instead of ~200 MB, for a little more
// scavenging work (BENCHMARKS.md, footprint). Set before anything allocates much.
if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=1')

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const compiled = path.join(root, 'dist/cli.js')
const source = path.join(root, 'src/cli.ts')

/** Newest modification time under `dir` (milliseconds), 0 when it does not exist. */
function newest(dir) {
  let max = 0
  let entries
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const e of entries) {
    const p = path.join(dir, e.name)
    max = Math.max(max, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs)
  }
  return max
}

const builtAt = fs.existsSync(compiled) ? fs.statSync(compiled).mtimeMs : 0
// Only a checkout has src/: an installed package runs dist/ without looking (a ~100-file walk, ~1 ms).
const inCheckout = fs.existsSync(source)
if (builtAt > 0 && (!inCheckout || newest(path.join(root, 'src')) <= builtAt)) {
  await import(compiled)
} else if (inCheckout) {
  let register
  try {
    ;({ register } = await import('tsx/esm/api'))
  } catch {
    process.stderr.write(`meshlet: ${builtAt ? 'dist/ is older than src/' : 'dist/ is missing'} and tsx is not installed: run \`npm run build\` (or \`. scripts/bootstrap.sh\`) in ${root}\n`)
    process.exit(1)
  }
  register()
  await import(source)
} else {
  process.stderr.write(`meshlet: ${compiled} is missing: this install is incomplete; reinstall the package (npm install -g meshlet)\n`)
  process.exit(1)
}
