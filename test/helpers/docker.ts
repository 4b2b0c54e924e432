import Docker from 'dockerode'
import { randomBytes } from 'node:crypto'
import { LABEL } from '../../src/adapters/docker/labels.js'

// Docker-backed tests need a running engine: they fail loudly rather than skip.

export const DOCKER_SOCKET = '/var/run/docker.sock'
export const TEST_IMAGE = 'meshlet/busybox:test'
export const REGISTRY_IMAGE = '127.0.0.1:5000/meshlet/busybox:test'

export function testDocker(): Docker {
  return new Docker({ socketPath: DOCKER_SOCKET })
}

/** Throws a clear error when the engine or the test image is missing. */
export async function ensureDocker(docker: Docker = testDocker()): Promise<void> {
  try {
    await docker.ping()
  } catch (err) {
    throw new Error(
      `Docker engine not answering on ${DOCKER_SOCKET}: these tests need a real engine (see scripts/setup-docker.sh). ${(err as Error).message}`,
      { cause: err },
    )
  }
  try {
    await docker.getImage(TEST_IMAGE).inspect()
  } catch (err) {
    throw new Error(`test image ${TEST_IMAGE} is missing: run scripts/setup-docker.sh first`, { cause: err })
  }
}

/** A unique, valid-looking meshlet DID so parallel test files never see each other's containers. */
export function randomMeshletDid(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const bytes = randomBytes(24)
  return `did:plc:${Array.from(bytes, (b) => alphabet[b % 32]).join('')}`
}

/** Force-remove every container labelled with this meshlet DID. Returns how many were removed. */
export async function removeMeshletContainers(meshletDid: string, docker: Docker = testDocker()): Promise<number> {
  const rows = await docker.listContainers({ all: true, filters: { label: [`${LABEL.meshlet}=${meshletDid}`] } })
  await Promise.all(
    rows.map((r) =>
      docker
        .getContainer(r.Id)
        .remove({ force: true, v: true })
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404 && err.statusCode !== 409) throw err
        }),
    ),
  )
  return rows.length
}

/** Poll until `check` returns a value (not undefined/false), or fail after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last })
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
