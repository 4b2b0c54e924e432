// A full view (core/view.ts caps) does not see every record. It remembers whose bids and statuses
// about each workload it gave up (DroppedRecords), and the decision then holds back whatever
// would add this meshlet or vouch for others (holdBack): a claim made blind to a rival's claim
// runs the replica twice, and an own bid the view did not keep looks unwritten, so it would be
// written again on every evaluation. Withdrawing and releasing only take this meshlet out: they
// still go out.
import type { AtUri, Did } from './types.js'

/** Workload -> repos whose bids/statuses about it were given up; oldest first, at most `max` (workload, repo) pairs. */
export class DroppedRecords {
  private readonly byWorkload = new Map<AtUri, Set<Did>>()
  private pairs = 0

  constructor(private readonly max: number) {}

  note(workloadUri: AtUri | undefined, did: Did): void {
    if (typeof workloadUri !== 'string') return
    const repos = this.byWorkload.get(workloadUri) ?? new Set<Did>()
    this.byWorkload.delete(workloadUri) // most recent last
    this.byWorkload.set(workloadUri, repos)
    if (!repos.has(did)) {
      repos.add(did)
      this.pairs++
    }
    while (this.pairs > this.max) {
      const [oldest, gone] = this.byWorkload.entries().next().value as [AtUri, Set<Did>]
      this.byWorkload.delete(oldest)
      this.pairs -= gone.size
    }
  }

  forget(workloadUri: AtUri): void {
    this.pairs -= this.byWorkload.get(workloadUri)?.size ?? 0
    this.byWorkload.delete(workloadUri)
  }

  get(workloadUri: AtUri): ReadonlySet<Did> | undefined {
    return this.byWorkload.get(workloadUri)
  }
}

/**
 * The first dropped repo whose records could count: this meshlet, or a member of the electorate or
 * eligible set. A stranger's dropped records (a flood) change nothing: the flood costs its sender.
 */
export function missingRepo(dropped: ReadonlySet<Did> | undefined, self: Did, electorate: ReadonlyMap<Did, unknown>, eligible: ReadonlyMap<Did, unknown>): Did | undefined {
  for (const d of dropped ?? []) if (d === self || electorate.has(d) || eligible.has(d)) return d
  return undefined
}

/** Why a service claim its own full view no longer counts is released (after "lost claim conflict: ", a yield). */
export const FULL_VIEW_RELEASE = "this peer's view is full and no longer holds every record its claim stands on"

/** Actions (core/decide.ts PeerAction) a peer holds back on an incomplete view: all but withdraw and release. */
export function holdsBack(a: { type: string }): boolean {
  return a.type !== 'withdraw' && a.type !== 'release'
}

/** The actions that still go out, and why others were held back (undefined when none were). */
export function holdBack<A extends { type: string }>(actions: A[], missing: Did | undefined): { actions: A[]; heldBack?: string } {
  const held = missing ? actions.filter(holdsBack) : []
  if (held.length === 0) return { actions }
  return {
    actions: actions.filter((a) => !holdsBack(a)),
    heldBack: `this peer's view is full and did not keep every record of ${missing} about this workload: ${[...new Set(held.map((a) => a.type))].join(', ')} held back`,
  }
}
