// Workloads this meshlet's owner evicted from this machine (farm.meshlet.evictWorkload): local
// policy, not a record, kept across restarts. The scheduler declines them; nobody else is told why
// beyond the decline reason.
import type { AtUri } from '../core/types.js'

export interface EvictionStore {
  has(uri: AtUri): boolean
  list(): AtUri[]
  /** Resolve once the change is durable. */
  add(uri: AtUri): Promise<void>
  remove(uri: AtUri): Promise<void>
}

/** The reason every decline and release of an evicted workload carries (docs/protocol.md). */
export const EVICTED_REASON = "evicted by the machine's owner"

/** Not persisted: for tests and peers without a data directory. */
export class MemoryEvictionStore implements EvictionStore {
  private readonly uris = new Set<AtUri>()
  has(uri: AtUri): boolean {
    return this.uris.has(uri)
  }
  list(): AtUri[] {
    return [...this.uris].sort()
  }
  async add(uri: AtUri): Promise<void> {
    this.uris.add(uri)
  }
  async remove(uri: AtUri): Promise<void> {
    this.uris.delete(uri)
  }
}
