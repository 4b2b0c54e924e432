// `meshlet rm --purge` on the holder's side (issue 12, docs/protocol.md "Volumes"): once the
// workload record is gone, its owner asks each meshlet that holds its volumes to remove them. The
// record must be gone first (the delete reaches this meshlet on the firehose within moments), so a
// purge can never pull the data from under a replica that still runs.
import type { AtUri, Did } from '../core/types.js'
import type { CommuneView } from '../core/view.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'

export interface VolumePurgeDeps {
  meshlet: Did
  view: CommuneView
  runtime: ContainerRuntime
  /** How long to wait for the record's delete to arrive. Default 15 s. */
  waitMs?: number
}

export type PurgeResult = { removed: string[] } | { refused: string }

export async function purgeVolumes(d: VolumePurgeDeps, uri: AtUri): Promise<PurgeResult> {
  if (!d.runtime.removeVolumes) return { removed: [] }
  const deadline = Date.now() + (d.waitMs ?? 15_000)
  while (d.view.workload(uri) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  if (d.view.workload(uri)) return { refused: `the workload ${uri} is still on record here: delete it first (meshlet rm --purge does both)` }
  // Its containers go with the record anyway (the runner stops them); removed here so the volumes are free.
  for (const c of await d.runtime.list({ meshletDid: d.meshlet })) {
    if (c.labels.workloadUri === uri) await d.runtime.remove(c.id)
  }
  return { removed: await d.runtime.removeVolumes(d.meshlet, uri) }
}
