// Batch at-most-once (docs/protocol.md, "Batch: at most once"): members of the electorate
// acknowledge, in their own counting bid record, which meshlet holds each replica number. A batch
// claimer starts only once a quorum acknowledged it; each member acks a replica number once and
// never changes it, so two claimers for one number can never both hold a quorum. A claimer that
// does not lead a split may RENOUNCE the number in the same record (never after it may have
// started): it never starts it, and the acks for it stop counting as a rival's, so a split that a
// silent member would leave pending forever resolves for the leader.
import { tiebreak } from './hash.js'
import { compareStrings, dedupeByUri, rankByPriority } from './selection.js'
import type { Ack, Bid, Cid, Did, Workload } from './types.js'

/** floor(n / 2) + 1: any two quorums of the same electorate share a member. */
export function quorumOf(electorateSize: number): number {
  return Math.floor(Math.max(0, electorateSize) / 2) + 1
}

/** Whether a workload's batch replicas wait for acks before they start (batch, not at-least-once). */
export function isAckGated(workload: Pick<Workload, 'kind' | 'delivery'>): boolean {
  return workload.kind === 'batch' && workload.delivery !== 'at-least-once'
}

/**
 * The record whose acks count for a member: its earliest record (by rkey, then uri) for the
 * workload's current uri and cid, bid or decline. Acks are about who holds a replica number, not
 * about priority, so bid verification does not apply; re-putting the record to add acks keeps its
 * rkey, so it stays the earliest.
 */
export function countingRecord(workload: Pick<Workload, 'uri' | 'cid'>, bids: readonly Bid[], member: Did): Bid | undefined {
  let best: Bid | undefined
  for (const b of bids) {
    if (b.meshlet !== member || b.workload?.uri !== workload.uri || b.workload.cid !== workload.cid) continue
    if (!best || compareStrings(b.rkey, best.rkey) < 0 || (b.rkey === best.rkey && compareStrings(b.uri, best.uri) < 0)) best = b
  }
  return best
}

/**
 * The acks of one record that count: replica an integer in [0, replicas), meshlet a string. A
 * record naming two meshlets for one replica number counts for neither (a member acks once).
 */
export function validAcks(record: Pick<Bid, 'acks'> | undefined, replicas: number): Map<number, Did> {
  const out = new Map<number, Did>()
  const spoiled = new Set<number>()
  for (const a of record?.acks ?? []) {
    if (!Number.isInteger(a.replica) || a.replica < 0 || a.replica >= replicas || typeof a.meshlet !== 'string') continue
    const prev = out.get(a.replica)
    if (prev !== undefined && prev !== a.meshlet) spoiled.add(a.replica)
    out.set(a.replica, a.meshlet)
  }
  for (const r of spoiled) out.delete(r)
  return out
}

/** The numbers a record renounces that count: integers in [0, replicas). */
export function validRenounced(record: Pick<Bid, 'renounced'> | undefined, replicas: number): Set<number> {
  const out = new Set<number>()
  for (const r of record?.renounced ?? []) if (Number.isInteger(r) && r >= 0 && r < replicas) out.add(r)
  return out
}

export interface AckTally {
  electorateSize: number
  quorum: number
  /** replica number -> meshlet -> members that acked (meshlet) for that number, sorted. */
  byReplica: Map<number, Map<Did, Did[]>>
  /** replica number -> electorate members that renounced it in their own counting record. */
  renounced: Map<number, Set<Did>>
}

/** Whether `meshlet` renounced replica number `replica` (in its own counting record). */
export function hasRenounced(t: Pick<AckTally, 'renounced'>, replica: number, meshlet: Did): boolean {
  return t.renounced.get(replica)?.has(meshlet) ?? false
}

/** Counts every electorate member's acks for the workload's current cid. */
export function tallyAcks(workload: Pick<Workload, 'uri' | 'cid'>, replicas: number, bids: readonly Bid[], electorate: ReadonlyMap<Did, unknown>): AckTally {
  const byReplica = new Map<number, Map<Did, Did[]>>()
  const renounced = new Map<number, Set<Did>>()
  const unique = dedupeByUri(bids)
  for (const member of [...electorate.keys()].sort(compareStrings)) {
    const record = countingRecord(workload, unique, member)
    for (const r of validRenounced(record, replicas)) {
      let s = renounced.get(r)
      if (!s) renounced.set(r, (s = new Set()))
      s.add(member)
    }
    for (const [replica, meshlet] of validAcks(record, replicas)) {
      let m = byReplica.get(replica)
      if (!m) byReplica.set(replica, (m = new Map()))
      const list = m.get(meshlet)
      if (list) list.push(member)
      else m.set(meshlet, [member])
    }
  }
  return { electorateSize: electorate.size, quorum: quorumOf(electorate.size), byReplica, renounced }
}

/** How many members acked (replica, meshlet). */
export function ackCount(t: AckTally, replica: number, meshlet: Did): number {
  return t.byReplica.get(replica)?.get(meshlet)?.length ?? 0
}

/** How many members acked replica number `replica` for anyone. */
export function ackersOf(t: AckTally, replica: number): number {
  let n = 0
  for (const list of t.byReplica.get(replica)?.values() ?? []) n += list.length
  return n
}

export interface Settlement {
  meshlet: Did
  /** 'quorum': a quorum acked it. 'lead': no quorum, but no other meshlet can ever overtake it (see settledHolder). */
  by: 'quorum' | 'lead'
  acks: number
}

/** (acks desc, tiebreak(cid, did) asc, did asc): the order in which acks settle a replica number. */
function beats(cid: Cid, a: { meshlet: Did; acks: number }, b: { meshlet: Did; acks: number }): boolean {
  if (a.acks !== b.acks) return a.acks > b.acks
  const ha = tiebreak(cid, a.meshlet)
  const hb = tiebreak(cid, b.meshlet)
  return ha !== hb ? ha < hb : a.meshlet < b.meshlet
}

/**
 * Who holds replica number `replica` for good, if anyone: among the meshlets that have not
 * RENOUNCED the number, the meshlet M that comes first in (acks desc, tiebreak asc, DID asc) EVEN
 * IF every member that has not acked the number yet (u of them) later acks its strongest rival;
 * and, against a rival nobody acked yet, acks(M) > u. Acks for a renouncer still count as given
 * (those members cannot ack the number again), but for nobody.
 * - With one claimer that is exactly a quorum (acks > n - acks).
 * - With every member acked (u = 0) it is simply the first in that order: a split with nobody at
 *   a quorum is resolved, and nobody can have started before (nobody was settled).
 * Safe on partial views: a peer's view only lacks acks, so M's final acks are at least what it
 * sees and a rival's at most what it sees + u; two peers can never settle the number for two
 * meshlets, and a quorum holder is never overtaken (two quorums intersect).
 * Renunciation: a view that has not seen M renounce may settle the number for M while a later one
 * settles it for another; but M renounces only while it may not start, and never starts after, so
 * of two meshlets that views settle the number for, at most one ever starts (property-tested):
 * two views never settle a number for two meshlets that neither renounced.
 */
export function settledHolder(t: AckTally, cid: Cid, replica: number): Settlement | undefined {
  const m = t.byReplica.get(replica)
  if (!m) return undefined
  const u = Math.max(0, t.electorateSize - ackersOf(t, replica))
  const entries = [...m.entries()].filter(([meshlet]) => !hasRenounced(t, replica, meshlet)).map(([meshlet, members]) => ({ meshlet, acks: members.length }))
  if (entries.length === 0) return undefined
  const top = entries.reduce((a, b) => (beats(cid, a, b) ? a : b))
  if (top.acks >= t.quorum) return { meshlet: top.meshlet, by: 'quorum', acks: top.acks }
  if (top.acks <= u) return undefined
  for (const rival of entries) {
    if (rival.meshlet !== top.meshlet && !beats(cid, top, { meshlet: rival.meshlet, acks: rival.acks + u })) return undefined
  }
  return { meshlet: top.meshlet, by: 'lead', acks: top.acks }
}

/**
 * The split rule: the rival claimer `self` gives replica number `replica` up to, if any. A rival
 * QUALIFIES when its acks exceed the members that have not acked the number (so it could settle
 * once every other claimer renounced); `self` renounces for the first qualifying rival that ranks
 * above it by claim rank (priority desc, tiebreak, DID: fixed, unlike acks, whatever the view).
 * Why this never empties a number: acks only grow and unacked members only shrink as a view fills
 * up, so whoever qualifies in a view qualifies in the final tally; the best-ranked claimer that
 * qualifies in the final tally never sees a better-ranked qualifying rival, so it never renounces.
 * `late`: a claim that does not qualify itself also renounces for the best-ranked qualifying rival
 * (else a better-ranked claim with too few acks would block that rival for good); a caller passes
 * it only after a longer wait, when views are complete and the rule above holds in practice.
 * `claims`: the live claims for the number (own included, renounced ones excluded).
 */
export function renounceFor(t: AckTally, cid: Cid, replica: number, self: Did, claims: readonly { meshlet: Did; priority: number }[], late = false): Did | undefined {
  const u = Math.max(0, t.electorateSize - ackersOf(t, replica))
  const qualifies = (m: Did) => !hasRenounced(t, replica, m) && ackCount(t, replica, m) > u
  const ranked = rankByPriority(claims, cid, (c) => c.meshlet, (c) => c.priority)
  const above = ranked.slice(0, Math.max(0, ranked.findIndex((c) => c.meshlet === self)))
  const best = (late && !qualifies(self) ? ranked : above).find((c) => c.meshlet !== self && qualifies(c.meshlet))
  return best?.meshlet
}

/** `existing` with `added` appended, without duplicates, ascending. */
export function mergeRenounced(existing: readonly number[], added: readonly number[]): number[] {
  return [...new Set([...existing, ...added])].sort((a, b) => a - b)
}

/** `existing` with `added` appended (never replacing an entry), sorted by replica number. */
export function mergeAcks(existing: readonly Ack[], added: readonly Ack[]): Ack[] {
  const have = new Set(existing.map((a) => a.replica))
  const out = [...existing]
  for (const a of added) if (!have.has(a.replica)) out.push(a)
  return out.sort((a, b) => a.replica - b.replica || compareStrings(a.meshlet, b.meshlet))
}
