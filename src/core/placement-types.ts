// Result records of placement, shared by placement.ts and the outcome texts (placement-outcomes.ts)
// without an import cycle between them.
import type { Did, WorkloadStatus } from './types.js'

export interface Eviction {
  status: WorkloadStatus
  /** What the evicted peer writes as its status message: "lost claim conflict: replica 0 is held by did:... (priority a vs b)". */
  reason: string
}

/** A batch replica number whose holder had a quorum (it may have run) but lapsed or ended without a completion: not re-run. */
export interface LostSlot {
  replica: number
  meshlet: Did
  status?: WorkloadStatus
  reason: string
}

/** Whether a kept (or contending) claim may start its container now. */
export interface StartGate {
  replica: number
  allowed: boolean
  /** "quorum of acks 2/2 for replica 0", "waiting for acks 1/2 for replica 0". */
  reason: string
}

/**
 * A service claim whose replica number a better-ranked claim holds while another number is free:
 * it keeps running and takes the free number instead of being evicted (docs/protocol.md, "Claims,
 * completions, replica numbers"). Its holder re-writes its status with `to`.
 */
export interface Renumbering {
  status: WorkloadStatus
  from: number
  to: number
  /** "renumbered: replica 0 is held by did:... (priority a vs b); takes free replica 1". */
  reason: string
}
