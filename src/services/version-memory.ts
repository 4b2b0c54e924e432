// Issue 12 (rollout): the workload records this meshlet ran, by version. The owner's repo holds only
// the current record, so a meshlet that keeps running an older version during a rollout (or returns
// to it when autoRevert reverts a failed one) takes that version's spec from here. Its own memory
// only: a peer restarted mid-rollout does not have it (docs/protocol.md, Rolling updates: known limits).
import type { AtUri, Cid, Workload } from '../core/types.js'

/** Versions kept per workload: the current one and a few before it. */
const PER_WORKLOAD = 4
/** Workloads remembered at most (oldest forgotten first). */
const MAX_WORKLOADS = 2000

export class VersionMemory {
  private readonly byUri = new Map<AtUri, Map<Cid, Workload>>()

  remember(w: Workload): void {
    let versions = this.byUri.get(w.uri)
    if (versions?.has(w.cid)) return
    if (!versions) {
      versions = new Map()
      this.byUri.set(w.uri, versions)
      if (this.byUri.size > MAX_WORKLOADS) this.byUri.delete(this.byUri.keys().next().value!)
    }
    versions.set(w.cid, w)
    if (versions.size > PER_WORKLOAD) versions.delete(versions.keys().next().value!)
  }

  get(uri: AtUri, cid: Cid): Workload | undefined {
    return this.byUri.get(uri)?.get(cid)
  }
}
