// The decline budget (docs/protocol.md, Quotas): a meshlet keeps at most DECLINE_BUDGET_PER_OWNER
// decline records for one guest owner's workloads at a time. Past it, it declines without writing
// (its own outcome still says why), so 1,000 spam workloads cost each peer at most that many
// writes, not 1,000. Acks are unaffected: a gated batch member that must ack still writes its
// record (decide.ts), and declines are never needed for safety (a silent peer only keeps a bid
// window open to its end).
import type { AtUri, Bid, Did, Workload } from './types.js'

export const DECLINE_BUDGET_PER_OWNER = 16

/** Decline records this meshlet holds, by the owner of the (known) workload they decline. */
export function declineCounts(bids: Iterable<Bid>, self: Did, workloadOf: (uri: AtUri) => Workload | undefined): Map<Did, number> {
  const out = new Map<Did, number>()
  for (const b of bids) {
    if (b.meshlet !== self || b.decline === undefined) continue
    const w = workloadOf(b.workload.uri)
    if (!w || w.cid !== b.workload.cid) continue
    out.set(w.owner, (out.get(w.owner) ?? 0) + 1)
  }
  return out
}
