import type { Artifact } from '../core/types.js'

/** Binaries from a URL (issue 13): fetch once, verify, keep by hash. */
export interface ArtifactStore {
  /** Host path of the verified binary. Throws ArtifactError (not worth retrying) with the reason: unreachable, too large, wrong hash. */
  fetch(artifact: Artifact, opts: { guest: boolean; signal?: AbortSignal }): Promise<string>
}
