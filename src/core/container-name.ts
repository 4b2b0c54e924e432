// The container name of a replica is part of the protocol (docs/protocol.md, Hashes and record
// keys): pure, so the runner service names containers without knowing which engine runs them.
import { sha256Hex } from './hash.js'

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
