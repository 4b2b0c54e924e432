// Cheap liveness (issue 16 part 3): death by receipt of a suspicion. A member whose direct and
// indirect probes of a meshlet failed writes ONE suspicion record about it (rkey = the subject's
// DID, updated in place). An observer deems the subject dead when it RECEIVED a counted suspicion
// at monotonic time s and has received nothing from the subject's repo during (s, s + confirmMs];
// the subject, alive, refutes by writing (its profile) as soon as the suspicion reaches it. All
// times are the observer's monotonic clock (contract §7.5); writer timestamps are never compared.
//
// What a false accuser can cost is bounded per (accuser, subject) pair, by the same rule on every
// observer and on the subject: one counted suspicion per gapMs, and a pair whose suspicions were
// refuted maxRefuted times within refuteWindowMs is ignored until the oldest of those ages out.
// So one lying member makes an honest peer write at most maxRefuted times per refuteWindowMs.
// Pure: times are parameters.
import type { ClusterGraph } from './cluster.js'
import { CLAIM_STATES, type Bid, type Did, type Profile, type Workload, type WorkloadStatus } from './types.js'

export interface SuspicionRules {
  /** The subject has this long, from the observer's receipt of a suspicion, to be heard from. */
  confirmMs: number
  /** A pair's suspicion received within this of its previous counted one is not counted (budget). */
  gapMs: number
  /** This many refuted suspicions of a pair within refuteWindowMs silence that pair. */
  maxRefuted: number
  refuteWindowMs: number
}

export const DEFAULT_SUSPICION_RULES: SuspicionRules = { confirmMs: 3_000, gapMs: 30_000, maxRefuted: 3, refuteWindowMs: 600_000 }

/**
 * The subject's own rules for when to refute: a superset of what any observer counts (one more
 * refuted suspicion allowed, a third shorter gap), since receipt times differ a little between
 * observers and an uncounted refutation costs one write while a missed one costs a false death.
 */
export function lenientRules(r: SuspicionRules): SuspicionRules {
  return { ...r, gapMs: r.gapMs - Math.floor(r.gapMs / 3), maxRefuted: r.maxRefuted + 1 }
}

/** One counted suspicion of a pair: when it was received and whether the subject was heard from in time. */
export interface CountedSuspicion {
  at: number
  refuted: boolean
}

/**
 * Why a suspicion of `subject` by `accuser` received at `monoAt` does not count, or undefined when
 * it counts. `history` is that pair's earlier counted suspicions, oldest first.
 */
export function suspicionIgnored(history: readonly CountedSuspicion[], monoAt: number, rules: SuspicionRules): string | undefined {
  const last = history[history.length - 1]
  if (last !== undefined && monoAt - last.at < rules.gapMs) return `within ${rules.gapMs} ms of this accuser's previous suspicion of it (${monoAt - last.at} ms ago)`
  const recent = history.filter((h) => h.refuted && monoAt - h.at < rules.refuteWindowMs)
  if (recent.length >= rules.maxRefuted) {
    return `this accuser's last ${recent.length} suspicions of it were refuted within ${rules.refuteWindowMs} ms; ignored for ${rules.refuteWindowMs - (monoAt - recent[0]!.at)} ms more`
  }
  return undefined
}

/**
 * Why `subject` is dead by suspicion at `monoNow`, or undefined. Dead when some counted suspicion
 * from a trusted accuser was received at s >= the subject's last receipt (nothing heard since) and
 * confirmMs have passed since s. A record received after s revives it at once: death by suspicion
 * is never sticky, only the fallback lease is final.
 */
export function suspicionDeath(
  suspicions: readonly { accuser: Did; at: number }[],
  lastReceived: number | undefined,
  monoNow: number,
  confirmMs: number,
): string | undefined {
  let first: { accuser: Did; at: number } | undefined
  for (const s of suspicions) {
    if (lastReceived !== undefined && lastReceived > s.at) continue
    if (first === undefined || s.at < first.at) first = s
  }
  if (first === undefined || monoNow - first.at < confirmMs) return undefined
  return `suspected dead: ${first.accuser} could not reach it (probes failed); nothing received from its repo in the ${Math.round(monoNow - first.at)} ms since (confirm window ${confirmMs} ms)`
}

/** Counted suspicions kept per pair: enough for the refute window at the gap's rate, and bounded. */
const MAX_HISTORY = 16

/**
 * Counted suspicions per (accuser, subject) as this observer received them, and which the subject
 * refuted. Fed by intake: every suspicion record (noteSuspicion) and every receipt (noteReceipt).
 */
export class SuspicionBook {
  private readonly pairs = new Map<Did, Map<Did, CountedSuspicion[]>>()

  constructor(readonly rules: SuspicionRules = DEFAULT_SUSPICION_RULES) {}

  /** A suspicion record of `subject` by `accuser` arrived at `monoAt`: counted (undefined) or why not. */
  noteSuspicion(accuser: Did, subject: Did, monoAt: number): string | undefined {
    if (accuser === subject) return 'a meshlet cannot suspect itself'
    let bySubject = this.pairs.get(subject)
    if (!bySubject) this.pairs.set(subject, (bySubject = new Map()))
    const history = bySubject.get(accuser) ?? []
    const ignored = suspicionIgnored(history, monoAt, this.rules)
    if (ignored) return ignored
    history.push({ at: monoAt, refuted: false })
    if (history.length > MAX_HISTORY) history.shift()
    bySubject.set(accuser, history)
    return undefined
  }

  /** A record from `did`'s repo arrived at `monoAt`: refutes its suspicions received in [monoAt - confirmMs, monoAt). */
  noteReceipt(did: Did, monoAt: number): void {
    const bySubject = this.pairs.get(did)
    if (!bySubject) return
    for (const history of bySubject.values()) {
      for (const h of history) if (!h.refuted && monoAt > h.at && monoAt - h.at <= this.rules.confirmMs) h.refuted = true
    }
  }

  /** The newest counted suspicion per accuser of `subject`, for {@link suspicionDeath}. */
  latest(subject: Did, trusted: (accuser: Did) => boolean = () => true): { accuser: Did; at: number }[] {
    const out: { accuser: Did; at: number }[] = []
    for (const [accuser, history] of this.pairs.get(subject) ?? []) {
      const last = history[history.length - 1]
      if (last && trusted(accuser)) out.push({ accuser, at: last.at })
    }
    return out
  }

  /** Why `subject` is dead by suspicion (see {@link suspicionDeath}), or undefined. */
  deathProblem(subject: Did, lastReceived: number | undefined, monoNow: number, trusted?: (accuser: Did) => boolean): string | undefined {
    return suspicionDeath(this.latest(subject, trusted), lastReceived, monoNow, this.rules.confirmMs)
  }
}

/**
 * Batch at-most-once claims are taken over on the lease only, never on a suspicion: the holder's
 * fence (services/batch-gate.ts) kills its container once its own heartbeats have not landed for
 * 2/3 of its lease, which is before any observer's lease lapses, but NOT before a suspicion is
 * confirmed. So for such a workload the suspicion rule does not apply.
 */
export function atMostOnceBatch(w: Workload): boolean {
  return w.kind === 'batch' && w.delivery !== 'at-least-once'
}

/** Asks this observer's book whether `meshlet` is dead by suspicion, given who may accuse it. */
export type SuspectedFn = (meshlet: Did, trusted: (accuser: Did) => boolean) => string | undefined

/**
 * Why eligibility must count `meshlet` (verified, owned by `owner`) dead by suspicion for
 * `workload`, or undefined. Only a meshlet that answers probes (its profile has a pingKey) can be
 * killed by suspicion: one behind NAT that nobody can reach is judged by its lease alone. Only
 * accusers that are verified meshlets of owners mutually verified with its owner count.
 */
export function suspicionProblem(input: { workload: Workload; graph: ClusterGraph; meshlet: Did; owner: Did; profile: Profile; suspected?: SuspectedFn }): string | undefined {
  const { workload, graph, meshlet, owner, profile, suspected } = input
  if (!suspected || !profile.pingKey || atMostOnceBatch(workload)) return undefined
  return suspected(meshlet, (accuser) => {
    const o = graph.ownerOf(accuser)
    return accuser !== meshlet && o !== undefined && graph.mutual(o, owner)
  })
}

/**
 * Does `self` need the short lease (frequent heartbeat) now? While it holds a claim on an
 * at-most-once batch replica, or has a standing offer for one whose slots are not all claimed yet
 * (it may claim any moment): its fence needs heartbeats landing well within the lease others apply
 * to that claim. Otherwise the long fallback lease and a rare heartbeat do.
 */
export function needsShortLease(self: Did, workloads: readonly Workload[], statusesFor: (uri: string) => readonly WorkloadStatus[], bidsFor: (uri: string) => readonly Bid[]): boolean {
  for (const w of workloads) {
    // Any batch kind: the fence kills every batch container once heartbeats stop landing.
    if (w.kind !== 'batch') continue
    const statuses = statusesFor(w.uri).filter((s) => s.workload.cid === w.cid)
    if (statuses.some((s) => s.meshlet === self && CLAIM_STATES.includes(s.state))) return true
    if (statuses.some((s) => s.meshlet === self)) continue // finished here
    const offered = bidsFor(w.uri).some((b) => b.meshlet === self && b.decline === undefined && b.workload.cid === w.cid)
    if (offered && statuses.length < w.replicas) return true
  }
  return false
}
