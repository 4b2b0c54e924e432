// Which status records may speak for a meshlet (docs/protocol.md, "Claims, completions, replica
// numbers"): one status per (meshlet, workload) at its SHA-256 rkey, claims backed by the
// meshlet's counting bid at that bid's priority, replica numbers inside [0, replicas).
import { statusRkey } from './hash.js'
import type { Bid, Did, Workload, WorkloadStatus } from './types.js'

/** The record key of an AT URI (its last path segment). */
export function rkeyOf(uri: string): string {
  const i = uri.lastIndexOf('/')
  return i >= 0 ? uri.slice(i + 1) : uri
}

/** undefined when the status is at its canonical rkey, else why it is ignored. */
export function statusKeyProblem(status: Pick<WorkloadStatus, 'uri'>, workloadUri: string): string | undefined {
  const expected = statusRkey(workloadUri)
  const got = rkeyOf(status.uri)
  return got === expected ? undefined : `invalid: status at rkey ${got}, expected ${expected} (one status per meshlet and workload)`
}

/**
 * undefined when `status` is backed by `counting` (that meshlet's counting bid for the current
 * cid: valid, earliest, not a decline), else why not. Matched by uri: a bid's cid changes when
 * it gains acks. The claim's priority must equal the bid's, so a claim cannot outrank its bid.
 */
export function backingProblem(status: Pick<WorkloadStatus, 'bid' | 'priority'>, counting: Bid | undefined): string | undefined {
  if (!counting || !status.bid || status.bid.uri !== counting.uri) {
    return `invalid: claim without a counting bid (references ${status.bid?.uri ?? 'no bid'}${counting ? `, counting bid is ${counting.uri}` : ''})`
  }
  if (status.priority !== counting.priority) {
    return `invalid: claim priority ${String(status.priority)} does not match its bid's priority ${counting.priority}`
  }
  return undefined
}

/** undefined when the status names a replica number in [0, replicas), else why not. */
export function replicaProblem(status: Pick<WorkloadStatus, 'replica'>, replicas: number): string | undefined {
  const r = status.replica
  if (typeof r === 'number' && Number.isInteger(r) && r >= 0 && r < replicas) return undefined
  return `invalid: replica ${String(r)} is not a replica number in [0, ${replicas})`
}

/** A batch replica of the current cid that ran to an end (exited, or failed after its container started). */
export function isEnded(status: WorkloadStatus, workload: Pick<Workload, 'uri' | 'cid' | 'kind'>): boolean {
  if (workload.kind !== 'batch' || status.workload?.uri !== workload.uri || status.workload.cid !== workload.cid) return false
  return status.state === 'exited' || (status.state === 'failed' && status.containerId !== undefined)
}

/** Validity of one status that claims or completes a slot: canonical key, backing bid, replica number. */
export function claimProblem(status: WorkloadStatus, workloadUri: string, counting: Bid | undefined, replicas: number): string | undefined {
  return statusKeyProblem(status, workloadUri) ?? backingProblem(status, counting) ?? replicaProblem(status, replicas)
}

/** Meshlet -> its counting bid (from classifyBids().valid). */
export function countingBids(valid: readonly Bid[]): Map<Did, Bid> {
  return new Map(valid.map((b) => [b.meshlet, b]))
}
