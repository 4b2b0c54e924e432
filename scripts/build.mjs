// `node scripts/build.mjs [--if-stale]`: compiles src/ to dist/ (tsconfig.build.json), what
// bin/meshlet.mjs runs and `npm pack` ships. --if-stale skips the build when dist/cli.js is newer
// than every source (bootstrap and prepack use it, so a second run costs nothing). tsc writes into
// a fresh directory that then replaces dist/ in two renames, so a peer starting meanwhile never
// imports a half-written dist/.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist')

function newest(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false })
  if (!st) return 0
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(0, ...fs.readdirSync(p).map((e) => newest(path.join(p, e))))
}

if (process.argv.includes('--if-stale')) {
  const built = newest(path.join(dist, 'cli.js'))
  const sources = Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'tsconfig.json')), newest(path.join(root, 'tsconfig.build.json')), newest(path.join(root, 'package-lock.json')))
  if (built > sources) process.exit(0)
}
process.stderr.write('meshlet build: compiling src/ to dist/ (tsc)\n')
const next = `${dist}.next-${process.pid}`
const old = `${dist}.old-${process.pid}`
try {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', next], { stdio: 'inherit' })
} catch {
  fs.rmSync(next, { recursive: true, force: true })
  process.stderr.write('meshlet build: tsc failed (errors above); dist/ is unchanged\n')
  process.exit(1)
}
if (fs.existsSync(dist)) fs.renameSync(dist, old)
fs.renameSync(next, dist)
fs.rmSync(old, { recursive: true, force: true })
