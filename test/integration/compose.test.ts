import { spawn } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { ensureDocker } from '../helpers/docker.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
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

// Validates docker-compose.yml, then builds the peer image from a locally made Node 24 base
// (no Docker Hub here) and runs node (and the CLI's --help) inside it. ~30-50 s on 2 busy cores.
test('scripts/check-compose.sh validates the compose file and builds a runnable peer image', async () => {
  await ensureDocker()
  const { code, output } = await run('bash', ['scripts/check-compose.sh'], 280_000)
  if (code !== 0) console.error(output)
  expect(code).toBe(0)
  expect(output).toMatch(/node in meshlet\/peer:local: v24\./)
  expect(output).toMatch(/\[check-compose\] OK/)
}, 300_000)
