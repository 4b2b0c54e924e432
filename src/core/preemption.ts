// Owner first (docs/protocol.md, "Owner first and preemption"): when its owner's workload cannot
// fit on a meshlet, that meshlet releases guests' replicas, in an order every peer can compute
// from public records, until it fits. Pure.
import { fnv1a64Hex } from './hash.js'
import type { Did, PriorityClass, Resources, Workload } from './types.js'

/** A replica this meshlet holds (a live claim of the current version). */
export interface HeldReplica {
  workload: Pick<Workload, 'uri' | 'cid' | 'owner' | 'kind' | 'resources'> & Partial<Pick<Workload, 'priority' | 'delivery'>>
  /** Batch at-most-once whose container may have started (past pending, or start allowed): never preempted. */
  mayHaveStarted: boolean
}

export const PREEMPTED_MESSAGE = "preempted by the machine's owner"

const CLASS_RANK: Record<PriorityClass, number> = { low: 0, normal: 1, high: 2 }

/**
 * The order in which guests' replicas on meshlet `meshlet` (owned by `owner`) are preempted:
 * batch before services, then priority class low, normal, high, then `fnv1a64Hex(cid + "|" +
 * meshlet)` ascending, then the workload URI. Left out: the owner's own replicas, and at-most-once
 * batch replicas that may have started (stopping them would lose them: not re-run).
 */
export function preemptionOrder<H extends HeldReplica>(held: readonly H[], meshlet: Did, owner: Did): H[] {
  const key = (h: HeldReplica) => fnv1a64Hex(`${h.workload.cid}|${meshlet}`)
  return held
    .filter((h) => h.workload.owner !== owner && !(h.mayHaveStarted && h.workload.kind === 'batch' && (h.workload.delivery ?? 'at-most-once') === 'at-most-once'))
    .sort(
      (a, b) =>
        (a.workload.kind === 'batch' ? 0 : 1) - (b.workload.kind === 'batch' ? 0 : 1) ||
        CLASS_RANK[a.workload.priority ?? 'normal'] - CLASS_RANK[b.workload.priority ?? 'normal'] ||
        (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) ||
        (a.workload.uri < b.workload.uri ? -1 : a.workload.uri > b.workload.uri ? 1 : 0),
    )
}

/**
 * The shortest prefix of {@link preemptionOrder} whose release makes the owner's workload fit:
 * `fits(freed)` says whether it fits once `freed` is no longer committed. Undefined when it fits
 * already (nothing to preempt) or when even every preemptible guest would not make room.
 */
export function preemptionVictims<H extends HeldReplica>(held: readonly H[], meshlet: Did, owner: Did, fits: (freed: Resources) => boolean): H[] | undefined {
  if (fits({ cpuMillis: 0, memoryMb: 0 })) return undefined
  const freed = { cpuMillis: 0, memoryMb: 0 }
  const victims: H[] = []
  for (const h of preemptionOrder(held, meshlet, owner)) {
    victims.push(h)
    freed.cpuMillis += h.workload.resources.cpuMillis
    freed.memoryMb += h.workload.resources.memoryMb
    if (fits({ ...freed })) return victims
  }
  return undefined
}
