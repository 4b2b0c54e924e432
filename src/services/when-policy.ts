// when (issue 14): this meshlet's side of guest hours, battery, activity, workload windows and
// owner-first preemption. The scheduler asks it, once per workload evaluation, whether timing
// refuses the workload here (and so drains it), and, for its owner's workload that does not fit,
// which guests' replicas to preempt. The rules are pure (core/guest-policy.ts, preemption.ts);
// this keeps the load samples and the clocks.
import { activity, guestLoadPermille, guestRefusal, idleOnly, INPUT_IDLE_UNKNOWN, timingRefusal, type Activity, type LoadSample } from '../core/guest-policy.js'
import { preemptionVictims, type HeldReplica } from '../core/preemption.js'
import { overlapRefusal } from '../core/runs.js'
import { parseRunUri, runUri, instantsBetween } from '../core/schedule.js'
import type { CommuneView } from '../core/view.js'
import type { AtUri, Did, GuestPolicy, HostSnapshot, Resources, Workload, WorkloadStatus } from '../core/types.js'

export interface WhenPolicyOptions {
  self: { meshlet: Did; owner: Did }
  roles: readonly string[]
  /** Configured guest policy (window, battery, idle threshold); empty = guests at any time. */
  guest: GuestPolicy
  /** Wall clock windows are read on (injectable: tests move it to open or close a window). */
  windowClock: () => number
  /** Load samples: at most one per this many ms. */
  sampleEveryMs?: number
}

export class WhenPolicy {
  private samples: LoadSample[] = []
  private active = false
  private current: Activity = { active: false, reason: 'no load reading yet' }

  constructor(private readonly opts: WhenPolicyOptions) {}

  /** Records a load sample (guests' committed CPU subtracted) and updates the activity state. */
  observe(now: number, host: HostSnapshot, guestCpuMillis: number): void {
    const every = this.opts.sampleEveryMs ?? 10_000
    const last = this.samples[this.samples.length - 1]
    if (!last || now - last.at >= every) {
      this.samples.push({ at: now, loadPermille: host.loadPermille, guestPermille: guestLoadPermille(guestCpuMillis, host.cpuMillisTotal) })
      const keep = ((this.opts.guest.activeMinutes ?? 5) + 1) * 60_000 + every
      while (this.samples.length > 1 && this.samples[0]!.at < now - keep) this.samples.shift()
    }
    this.current = activity(this.samples, now, this.opts.guest, this.active)
    this.active = this.current.active
  }

  activity(): Activity {
    return this.current
  }

  /** What the profile publishes: the configured policy, whether the person is idle now, and what is known of input idle time. */
  published(): GuestPolicy | undefined {
    const g = this.opts.guest
    const judges = idleOnly(g, this.opts.roles)
    if (!g.window && !g.noBattery && !judges) return undefined
    return { ...g, ...(judges ? { idle: !this.current.active, inputIdle: INPUT_IDLE_UNKNOWN } : {}) }
  }

  /**
   * Why `w` may not run on this meshlet now for reasons of time (undefined: it may): the guest
   * policy for guests' work, the workload's own window and idle wish, and (runs of schedules) the
   * overlap policy. While this answers, a held replica is drained (services handed over; a batch
   * that may have started runs to its end).
   */
  refusal(w: Workload, host: HostSnapshot, view: CommuneView): { reason: string; drain: boolean } | undefined {
    const now = this.opts.windowClock()
    if (w.owner !== this.opts.self.owner) {
      const g = guestRefusal({ policy: this.opts.guest, roles: this.opts.roles, now, onBattery: host.onBattery, activity: this.current })
      if (g) return { reason: g, drain: true }
    }
    const t = timingRefusal(w, now, this.current)
    if (t) return { reason: t, drain: true }
    if (w.runOf) {
      const o = overlapRefusal(w, earlierRuns(w, view))
      if (o) return { reason: o, drain: false }
    }
    return undefined
  }

  /**
   * Owner first: for this meshlet's owner's workload `w` that does not fit, the guests' replicas to
   * release so that it does (core/preemption.ts), or undefined.
   */
  victims<H extends HeldReplica>(w: Workload, held: readonly H[], fits: (freed: Resources) => boolean): H[] | undefined {
    if (w.owner !== this.opts.self.owner) return undefined
    return preemptionVictims(held, this.opts.self.meshlet, this.opts.self.owner, fits)
  }
}

/** Statuses of the runs before `run` (the lookback before its instant), by instant. */
function earlierRuns(run: Workload, view: CommuneView): Map<number, WorkloadStatus[]> {
  const out = new Map<number, WorkloadStatus[]>()
  const of = run.runOf!
  const base = view.workload(of.uri)
  if (!base?.schedule) return out
  const created = Date.parse(base.createdAt)
  for (const t of instantsBetween(base.schedule, created, of.instant - 1)) out.set(t, view.statusesFor(runUri(of.uri, t)))
  return out
}

/** The workload a run URI belongs to, else the URI itself. */
export function baseUri(uri: AtUri): AtUri {
  return parseRunUri(uri)?.workloadUri ?? uri
}
