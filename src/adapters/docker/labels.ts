import { sha256Hex } from '../../core/hash.js'
import type { ContainerLabels } from '../../ports/container-runtime.js'

// Docker labels every meshlet container carries: a restarted meshlet finds (and only finds)
// its own containers through them.
export const LABEL = {
  workload: 'farm.meshlet.workload',
  cid: 'farm.meshlet.cid',
  specHash: 'farm.meshlet.spec-hash',
  meshlet: 'farm.meshlet.meshlet',
  replica: 'farm.meshlet.replica',
  managed: 'farm.meshlet.managed',
} as const

export const MANAGED_FILTER = `${LABEL.managed}=true`

export function labelsToDocker(labels: ContainerLabels): Record<string, string> {
  return {
    [LABEL.workload]: labels.workloadUri,
    [LABEL.cid]: labels.workloadCid,
    [LABEL.specHash]: labels.specHash,
    [LABEL.meshlet]: labels.meshletDid,
    [LABEL.replica]: String(labels.replica),
    [LABEL.managed]: 'true',
  }
}

/**
 * Meshlet labels from a container's Docker labels (or an event's Actor attributes).
 * Undefined when the container is not a complete meshlet container: such containers are never ours.
 */
export function labelsFromInfo(raw: Record<string, string> | null | undefined): ContainerLabels | undefined {
  if (!raw || raw[LABEL.managed] !== 'true') return undefined
  const workloadUri = raw[LABEL.workload]
  const workloadCid = raw[LABEL.cid]
  const specHash = raw[LABEL.specHash]
  const meshletDid = raw[LABEL.meshlet]
  const replicaText = raw[LABEL.replica]
  if (!workloadUri || !workloadCid || !specHash || !meshletDid || replicaText === undefined) return undefined
  if (!/^\d{1,9}$/.test(replicaText)) return undefined
  return { workloadUri, workloadCid, specHash, meshletDid, replica: Number(replicaText) }
}

/** The last `n` chars of a DID's method-specific id, reduced to [a-z0-9] (a Docker-safe, readable tag). */
function didTail(did: string, n: number): string {
  const id = did.slice(did.indexOf(':', did.indexOf(':') + 1) + 1)
  return id.toLowerCase().replace(/[^a-z0-9]/g, '').slice(-n)
}

/**
 * The container name of a replica (docs/protocol.md, Hashes and record keys):
 * `meshlet-<owner tail 12>-<first 16 hex of sha256Hex(workloadUri)>-r<replica>-<meshlet tail 8>`.
 * The owner tail says whose work it is; the SHA-256 of the uri keeps workloads apart (nobody can
 * search for a colliding one); the meshlet's tail keeps two meshlets on one engine (devnet, bench,
 * or a host running two) from fighting over a name during a handover. Labels, not the name, are
 * how a restarted meshlet finds its containers.
 */
export function containerNameFor(c: { owner: string; workloadUri: string; replica: number; meshlet: string }): string {
  const rep = Number.isSafeInteger(c.replica) && c.replica >= 0 ? String(c.replica) : 'x'
  const owner = didTail(c.owner, 12) || 'x'
  const meshlet = didTail(c.meshlet, 8) || 'x'
  return `meshlet-${owner}-${sha256Hex(c.workloadUri).slice(0, 16)}-r${rep}-${meshlet}`
}
