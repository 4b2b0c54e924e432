// A status's claims over time (docs/protocol.md, "Status history"): one status per (meshlet,
// workload), but the ledger counts one claim per (meshlet, workload, version), so a status carries
// the claims of the earlier versions it replaced. Every peer checks each one against its own bid,
// and the claims of one status never earn at the same instant (each ends, at the latest, where the
// next one starts). Pure: `now` is a parameter.
import { DECAY_WINDOW, STATUS_LEASE_MS, epochOf, epochStart } from './epoch.js'
import { CLAIM_STATES, type AtUri, type Cid, type StatusState, type StatusVersion, type StrongRef, type WorkloadStatus } from './types.js'

/** Entries a status's history may hold (the lexicon's maxLength). */
export const MAX_STATUS_HISTORY = 32

/** One claim a status proves: its current one, or an entry of its history. */
export interface StatusClaim {
  /** The status record. */
  status: WorkloadStatus
  /** Index in `history`, or undefined for the current claim. */
  history?: number
  /** The workload version (cid) claimed. */
  cid: Cid
  bid?: StrongRef
  priority?: number
  replica?: number
  state: StatusState
  startedAt?: string
  updatedAt: string
}

/** The claims of a status, history first (oldest first), then the current one. */
export function claimsOf(s: WorkloadStatus): StatusClaim[] {
  const out: StatusClaim[] = (s.history ?? []).map((h, i) => ({ status: s, history: i, ...h }))
  out.push({ status: s, cid: s.workload.cid, bid: s.bid, priority: s.priority, replica: s.replica, state: s.state, startedAt: s.startedAt, updatedAt: s.updatedAt })
  return out
}

/** A key that tells a status's claims apart: the status uri, plus `#history[i]` for an entry. */
export function claimKey(c: Pick<StatusClaim, 'status' | 'history'>): string {
  return c.history === undefined ? c.status.uri : `${c.status.uri}#history[${c.history}]`
}

/** Where a claim's interval ends at the latest (epoch ms): updatedAt, plus the lease for a claim state. NaN when updatedAt is not a date. */
export function claimEnd(c: Pick<StatusClaim, 'state' | 'updatedAt'>): number {
  const at = Date.parse(c.updatedAt)
  return CLAIM_STATES.includes(c.state) ? at + STATUS_LEASE_MS : at
}

/** Where a claim starts for the one-at-a-time rule: startedAt, else (never started) updatedAt. */
function claimStart(c: Pick<StatusClaim, 'startedAt' | 'updatedAt'>): number {
  const t = Date.parse(c.startedAt ?? c.updatedAt)
  return Number.isFinite(t) ? t : Infinity
}

/**
 * The latest instant each claim may earn until: the start of the next claim of the same status in
 * start order (ties: record order), Infinity for the last. So a status's claims never overlap,
 * whatever its history says: one (meshlet, workload) earns for at most one claim at a time, as a
 * status without history does. Indexed like `claims`.
 */
export function claimCutoffs(claims: readonly StatusClaim[]): number[] {
  const order = claims.map((c, i) => [claimStart(c), i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const cut: number[] = new Array<number>(claims.length).fill(Infinity)
  for (let k = 0; k + 1 < order.length; k++) cut[order[k][1]] = order[k + 1][0]
  return cut
}

/**
 * The oldest instant any peer still counts: the ledger ignores usage before
 * epochStart(epochOf(now) - 2 x DECAY_WINDOW) (its replay floor); one epoch more of margin covers
 * peers whose clock is behind ours. An interval that ended before this changes no balance any peer
 * computes, at any epoch, so forgetting it (a history entry, a retired status, its bid) changes
 * nothing. DECAY_WINDOW alone would not do: a bid naming epoch k needs the balance at k, which
 * counts the DECAY_WINDOW epochs before k.
 */
export function forgetBefore(now: number): number {
  return epochStart(epochOf(now) - 2 * DECAY_WINDOW - 1)
}

/** A history entry for the claim a status holds now, or undefined when it never ran (no usage to keep). */
function asEntry(s: WorkloadStatus): StatusVersion | undefined {
  if (!s.bid || s.startedAt === undefined || s.priority === undefined || s.replica === undefined) return undefined
  return { cid: s.workload.cid, bid: s.bid, priority: s.priority, replica: s.replica, state: s.state, startedAt: s.startedAt, updatedAt: s.updatedAt }
}

/**
 * The history a status written now carries (the writer's rule). `replaced`: the write replaces the
 * claim `cur` holds (a claim on a new version, or a fresh claim): that claim joins the history if it
 * ran. Entries whose interval ended before forgetBefore(now) are dropped (no peer counts them any
 * more); past MAX_STATUS_HISTORY the oldest go first (see docs/protocol.md for what that can cost).
 */
export function nextHistory(cur: WorkloadStatus | undefined, replaced: boolean, now: number): { history: StatusVersion[]; dropped: number } {
  const list = [...(cur?.history ?? [])]
  if (cur && replaced) {
    const e = asEntry(cur)
    if (e) list.push(e)
  }
  const cutoff = forgetBefore(now)
  const live = list.filter((e) => !(claimEnd(e) < cutoff))
  const history = live.length > MAX_STATUS_HISTORY ? live.slice(live.length - MAX_STATUS_HISTORY) : live
  return { history, dropped: live.length - history.length }
}

/** Every bid uri a status stands on (current claim and history): its meshlet must keep them. */
export function statusBidUris(s: WorkloadStatus): AtUri[] {
  const out = s.bid ? [s.bid.uri] : []
  for (const h of s.history ?? []) out.push(h.bid.uri)
  return out
}

/**
 * A meshlet's own status it may delete, with the bids it stands on: a claim (it names a bid) that
 * is over (an ended state, for a workload version that is no longer on record) and every interval it proves ended
 * before forgetBefore(now). Replay is unchanged by the deletion: every peer already ignores all of it.
 */
export function collectable(s: WorkloadStatus, currentCid: Cid | undefined, now: number): boolean {
  if (CLAIM_STATES.includes(s.state) || currentCid === s.workload.cid) return false
  // A status that never claimed (e.g. "invalid workload: ...") is no ledger record: the runner owns it.
  if (!s.bid && !s.history?.length) return false
  const cutoff = forgetBefore(now)
  return claimsOf(s).every((c) => claimEnd(c) < cutoff)
}
