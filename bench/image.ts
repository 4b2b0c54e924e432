// One image for every contender: busybox from the loopback registry under a bench-only name, so no
// other test run that removes or re-pulls the shared test images can pull it from under the bench,
// and Swarm resolves a registry digest instead of trying Docker Hub (lab gotcha 8).
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const pexec = promisify(execFile)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SOURCE_IMAGE = 'meshlet/busybox:test'
export const BENCH_IMAGE = '127.0.0.1:5000/meshlet-bench/busybox:v1'

async function registryUp(): Promise<boolean> {
  try {
    return (await fetch('http://127.0.0.1:5000/v2/', { signal: AbortSignal.timeout(2000) })).status === 200
  } catch {
    return false
  }
}

export async function prepareImage(): Promise<string> {
  if (!(await registryUp())) await pexec('bash', [path.join(ROOT, 'scripts/registry.sh'), 'start'])
  try {
    await pexec('docker', ['image', 'inspect', SOURCE_IMAGE])
  } catch (err) {
    throw new Error(`the bench needs ${SOURCE_IMAGE}: run scripts/setup-docker.sh (or scripts/bootstrap.sh) first`, { cause: err })
  }
  await pexec('docker', ['tag', SOURCE_IMAGE, BENCH_IMAGE])
  await pexec('docker', ['push', '-q', BENCH_IMAGE])
  return BENCH_IMAGE
}

/** Untags the bench image (the shared test images are left alone). */
export async function releaseImage(): Promise<void> {
  await pexec('docker', ['rmi', BENCH_IMAGE]).catch(() => {})
}
