// Burst spread (issue 16, part 2), the scheduler's side: how many replicas this meshlet has in hand
// but not running (the `pendingReplicas` its next bid publishes, core/spread.ts), and the order it
// bids on a batch of workloads in (local: each peer takes first those it would win a tie for).
import { spreadOrder } from '../core/spread.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type AtUri, type Did } from '../core/types.js'

/**
 * Whether an offer of this meshlet still counts as work in hand (committed resources, a pending
 * replica): a bid in an open window that the bids in view do not already outrank. A bid that is
 * losing would otherwise make a peer decline the rest of a burst it has room for; if it wins after
 * all, the claim is checked for feasibility again (the scheduler's offer at claim time).
 */
export function openBidCounts(d: { phase: string; offer: { kind: string }; self?: { outcome: string } }): boolean {
  return d.phase === 'bidding' && d.offer.kind === 'bid' && d.self?.outcome !== 'lost'
}

/**
 * Workloads (current versions) this meshlet claimed whose status is not `running` yet, plus those
 * it has an offer out for that still counts (`openBids`: see openBidCounts). Running replicas
 * are not pending: the host probe sees them.
 */
export function pendingReplicas(view: CommuneView, self: Did, openBids: Iterable<AtUri>): Set<AtUri> {
  const out = new Set<AtUri>()
  for (const s of view.statusesBy(self)) {
    const w = view.workload(s.workload.uri)
    if (w && s.workload.cid === w.cid && CLAIM_STATES.includes(s.state) && s.state !== 'running') out.add(w.uri)
  }
  for (const uri of openBids) out.add(uri)
  return out
}

/** `uris` in this meshlet's spread order (core/spread.ts spreadOrder); uris without a workload go first (they are only forgotten). */
export function spreadOrderOf(uris: readonly AtUri[], view: CommuneView, self: Did, candidates: readonly Did[]): AtUri[] {
  const gone: AtUri[] = []
  const known: { uri: AtUri; cid: string }[] = []
  for (const uri of uris) {
    const w = view.workload(uri)
    if (w) known.push({ uri, cid: w.cid })
    else gone.push(uri)
  }
  return [...gone, ...spreadOrder(known, self, candidates).map((w) => w.uri)]
}
