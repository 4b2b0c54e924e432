// The same peer compiled ahead of time: the CLI bundled by esbuild (already installed, tsx uses it)
// into one ESM file that plain node runs, its npm dependencies loaded as usual. The footprint phase
// runs it beside the peer as shipped (TypeScript through tsx) to show what tsx itself costs.
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const pexec = promisify(execFile)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// Inside the checkout so the bundle resolves node_modules; removed again after the run.
const OUT_DIR = path.join(ROOT, '.bench-build')

export async function buildCompiledPeer(): Promise<string> {
  // Two levels below the root, like src/xrpc/server.ts, which finds lexicons/ at ../../lexicons.
  const out = path.join(OUT_DIR, 'bundle', 'meshlet.mjs')
  await pexec(path.join(ROOT, 'node_modules/.bin/esbuild'), [
    path.join(ROOT, 'src/cli.ts'),
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--target=node24',
    '--packages=external',
    `--outfile=${out}`,
    '--log-level=warning',
  ])
  return out
}

export async function removeCompiledPeer(): Promise<void> {
  await fs.rm(OUT_DIR, { recursive: true, force: true })
}
