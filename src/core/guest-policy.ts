// When a meshlet takes guests' work (docs/protocol.md, "Windows, idle and schedules"): guest hours,
// no guest work on battery, none while its person is active, and the `interface` role (a thin
// client: guests only when idle). Local policy, published in the profile so a decline is
// explainable; no peer checks another's. Pure: the instant and the load samples are parameters.
import type { Did, GuestPolicy, Resources, Workload } from './types.js'
import { describeWindow, inWindow, type TimeWindow } from './window.js'

export type { GuestPolicy }

export const INTERFACE_ROLE = 'interface'
export const DEFAULT_ACTIVE_LOAD_PERMILLE = 700
export const DEFAULT_ACTIVE_MINUTES = 5
/** What the profile says about input idle time: meshlet reads load only. */
export const INPUT_IDLE_UNKNOWN = 'not read: meshlet judges activity from load only (no input idle time on a headless host)'

export interface LoadSample {
  /** Epoch ms. */
  at: number
  /** Load per core x1000 as the host reports it. */
  loadPermille: number
  /** Guests' committed CPU then, per core x1000: subtracted, so guests' own work never makes the person "active". */
  guestPermille: number
}

export interface Activity {
  active: boolean
  /** "load 1.20 per core besides guests for 5 min" or "load at most 0.70 per core for 5 min". */
  reason: string
}

/** Guests' committed CPU as load per core x1000 (integer division). */
export function guestLoadPermille(guestCpuMillis: number, cpuMillisTotal: number): number {
  if (!(cpuMillisTotal > 0) || !(guestCpuMillis > 0)) return 0
  return Math.floor((guestCpuMillis * 1000) / cpuMillisTotal)
}

function perCore(permille: number): string {
  return (permille / 1000).toFixed(2)
}

/**
 * Whether the person is active, with hysteresis: ACTIVE once every sample of the last
 * `activeMinutes` shows the load besides guests above the threshold, IDLE once every one shows it
 * at or below, else unchanged (`wasActive`). The samples must reach back that far (a fresh peer
 * keeps `wasActive`). activeMinutes 0: the latest sample decides.
 */
export function activity(samples: readonly LoadSample[], now: number, policy: GuestPolicy, wasActive: boolean): Activity {
  const threshold = policy.activeLoadPermille ?? DEFAULT_ACTIVE_LOAD_PERMILLE
  const minutes = policy.activeMinutes ?? DEFAULT_ACTIVE_MINUTES
  const span = minutes * 60_000
  const sorted = samples.filter((s) => s.at <= now).sort((a, b) => a.at - b.at)
  if (sorted.length === 0) return { active: wasActive, reason: 'no load reading yet' }
  const recent = span === 0 ? [sorted[sorted.length - 1]!] : sorted.filter((s) => s.at >= now - span)
  const covered = span === 0 || sorted[0]!.at <= now - span
  const own = recent.map((s) => Math.max(0, s.loadPermille - s.guestPermille))
  const lowest = own.length ? Math.min(...own) : 0
  const highest = own.length ? Math.max(...own) : 0
  const forText = minutes === 0 ? 'now' : `for ${minutes} min`
  if (covered && own.length > 0 && lowest > threshold) return { active: true, reason: `load ${perCore(lowest)} per core or more besides guests ${forText} (threshold ${perCore(threshold)})` }
  if (covered && own.length > 0 && highest <= threshold) return { active: false, reason: `load at most ${perCore(highest)} per core besides guests ${forText} (threshold ${perCore(threshold)})` }
  return { active: wasActive, reason: `${wasActive ? 'still active' : 'still idle'}: load besides guests ${perCore(own[own.length - 1] ?? 0)} per core, not ${forText} on one side of ${perCore(threshold)}` }
}

export interface GuestContext {
  policy: GuestPolicy
  roles: readonly string[]
  now: number
  onBattery: boolean
  activity: Activity
}

/** Whether this meshlet judges guests' work by activity: `whenIdle`, or the `interface` role. */
export function idleOnly(policy: GuestPolicy, roles: readonly string[]): boolean {
  return policy.whenIdle === true || roles.includes(INTERFACE_ROLE)
}

/**
 * Why this meshlet takes no guest work now (undefined: it does). The first that applies:
 * "outside guest hours 22:00-07:00 Europe/Berlin", "on battery (guest policy: no guest work on
 * battery)", "its person is active: <activity> (guest policy: guests only when idle)".
 */
export function guestRefusal(ctx: GuestContext): string | undefined {
  const { policy } = ctx
  if (policy.window && !inWindow(policy.window, ctx.now)) return `outside guest hours ${describeWindow(policy.window)} (this meshlet takes guests' work only then)`
  if (policy.noBattery && ctx.onBattery) return 'on battery (guest policy: no guest work on battery)'
  if (idleOnly(policy, ctx.roles) && ctx.activity.active) {
    const why = ctx.roles.includes(INTERFACE_ROLE) && policy.whenIdle !== true ? `role ${INTERFACE_ROLE}` : 'guest policy'
    return `its person is active: ${ctx.activity.reason} (${why}: guests only when idle)`
  }
  return undefined
}

/**
 * Why this meshlet does not suit a workload's own timing wishes now (undefined: it does):
 * `window` ("waits for its window 01:00-05:00 UTC") and `when: idle` ("waits for an idle machine:
 * ..."). Applies to every owner's workload, the meshlet's own owner's too.
 */
export function timingRefusal(w: Pick<Workload, 'window' | 'when'>, now: number, act: Activity): string | undefined {
  if (w.window && !inWindow(w.window, now)) return `waits for its window ${describeWindow(w.window)}`
  if (w.when === 'idle' && act.active) return `waits for an idle machine: this meshlet's person is active (${act.reason})`
  return undefined
}

/** A guest: a workload owner other than this meshlet's. */
export function isGuest(owner: Did, self: Did): boolean {
  return owner !== self
}

export type { Resources }
