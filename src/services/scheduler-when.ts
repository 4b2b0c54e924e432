// when (issue 14), the scheduler's side: which runs of scheduled workloads a pass evaluates, and,
// per workload, the timing refusal (declined and drained) and owner-first preemption. Split from
// scheduler.ts so that file only wires it in.
import { checkFeasibility, type FeasibilityPolicy } from '../core/feasibility.js'
import { PREEMPTED_MESSAGE } from '../core/preemption.js'
import { dueRuns } from '../core/runs.js'
import { nextInstant, parseRunUri } from '../core/schedule.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type AtUri, type Did, type HostSnapshot, type Resources, type Workload } from '../core/types.js'
import type { WhenPolicy } from './when-policy.js'

export interface WhenContext {
  /** Why this meshlet declines the workload for reasons of time (guest hours, its window, overlap). */
  refusal?: string
  /** Release a held replica (services handed over; a started batch runs to its end). */
  drain: boolean
  /** Runs: the bid window opens at the run's instant (or when the workload was first seen, if later). */
  firstSeenAt?: number
}

export interface WhenDeps {
  view: CommuneView
  policy: FeasibilityPolicy
  draining: boolean
  self: { meshlet: Did; owner: Did }
  when?: WhenPolicy
  held: () => { workload: Workload; mayHaveStarted: boolean }[]
  release: (w: Workload, reason: string) => void
}

/**
 * The uris a pass evaluates: a scheduled workload is never placed itself; its due runs are (the
 * last few instants that passed on this clock), and every run this meshlet still holds a claim on.
 * `wakes`: when each scheduled workload's next instant comes.
 */
export function expandRuns(uris: readonly AtUri[], view: CommuneView, now: number, self: Did): { uris: AtUri[]; wakes: [AtUri, number][] } {
  const out = new Set<AtUri>()
  const wakes: [AtUri, number][] = []
  for (const uri of uris) {
    const w = view.workload(uri)
    if (!w?.schedule || w.runOf) {
      out.add(uri)
      continue
    }
    for (const run of dueRuns(w, now)) out.add(run.uri)
    for (const s of view.statusesBy(self)) if (CLAIM_STATES.includes(s.state) && parseRunUri(s.workload.uri)?.workloadUri === uri) out.add(s.workload.uri)
    const next = nextInstant(w.schedule, now)
    if (next !== undefined) wakes.push([uri, next])
  }
  return { uris: [...out].sort(), wakes }
}

export function evaluateWhen(w: Workload, ctx: { now: number; host: HostSnapshot; committed: Map<AtUri, Resources> }, d: WhenDeps): WhenContext {
  const out: WhenContext = { drain: false }
  if (w.runOf) {
    const base = d.view.firstSeen(w.runOf.uri, w.cid)
    out.firstSeenAt = Math.max(w.runOf.instant, base ?? w.runOf.instant)
  }
  if (!d.when) return out
  const r = d.when.refusal(w, ctx.host, d.view)
  if (r) {
    out.refusal = r.reason
    out.drain = r.drain
    return out
  }
  if (w.owner === d.self.owner && !d.draining) preempt(w, ctx, d)
  return out
}

/**
 * Owner first: this meshlet's owner's workload `w`, not yet placed in full and not held here, that
 * does not fit besides what is committed, makes room by releasing guests' replicas in preemption
 * order (core/preemption.ts) with status message "preempted by the machine's owner".
 */
function preempt(w: Workload, ctx: { host: HostSnapshot; committed: Map<AtUri, Resources> }, d: WhenDeps): void {
  const statuses = d.view.statusesFor(w.uri).filter((s) => s.workload.cid === w.cid && CLAIM_STATES.includes(s.state))
  if (statuses.some((s) => s.meshlet === d.self.meshlet) || statuses.length >= w.replicas) return
  const committed = { cpuMillis: 0, memoryMb: 0 }
  for (const [uri, r] of ctx.committed) {
    if (uri === w.uri) continue
    committed.cpuMillis += r.cpuMillis
    committed.memoryMb += r.memoryMb
  }
  // Stopping a container gives back at most its memory limit: count it as available again.
  const fits = (freed: Resources) =>
    checkFeasibility(w, { ...ctx.host, memoryMbAvailable: ctx.host.memoryMbAvailable + freed.memoryMb }, { cpuMillis: committed.cpuMillis - freed.cpuMillis, memoryMb: committed.memoryMb - freed.memoryMb }, d.policy).ok
  const victims = d.when!.victims(w, d.held(), fits)
  for (const v of victims ?? []) {
    d.release(v.workload, PREEMPTED_MESSAGE)
    ctx.committed.delete(v.workload.uri)
  }
}
