// when (issue 14): the workload's priority class, window, idle wish and cron schedule, and the
// profile's guest policy, checked at the edge: a window or schedule no peer can evaluate the same
// way is a rejected record with the reason, never a silent "never runs".
import type { GuestPolicy } from '../../core/guest-policy.js'
import { scheduleProblem, type Schedule } from '../../core/schedule.js'
import type { PriorityClass, Workload, WorkloadKind } from '../../core/types.js'
import { windowProblem, type TimeWindow } from '../../core/window.js'
import { omitUndefined, oneOf, reject } from './record-checks.js'

interface WhenInput {
  priority?: string
  window?: { hours: string; tz?: string }
  when?: string
  schedule?: { cron: string; tz?: string; overlap?: string }
}

export function windowOf(w: { hours: string; tz?: string }, field: string): TimeWindow {
  const win = omitUndefined({ hours: w.hours, tz: w.tz })
  const problem = windowProblem(win)
  if (problem) reject(`${field}: ${problem}`)
  return win
}

export function whenFields(v: WhenInput, kind: WorkloadKind): Pick<Workload, 'priority' | 'window' | 'when' | 'schedule'> {
  const out: Pick<Workload, 'priority' | 'window' | 'when' | 'schedule'> = {}
  if (v.priority !== undefined && v.priority !== 'normal') out.priority = oneOf<PriorityClass>(v.priority, ['low', 'normal', 'high'], 'priority')
  if (v.window) out.window = windowOf(v.window, 'window')
  if (v.when !== undefined && v.when !== 'any') out.when = oneOf<'idle'>(v.when, ['idle'], 'when')
  if (v.schedule) {
    if (kind !== 'batch') reject('schedule: only a batch workload (kind: batch) can have a schedule')
    const s: Schedule = omitUndefined({ cron: v.schedule.cron, tz: v.schedule.tz, overlap: v.schedule.overlap === undefined ? undefined : oneOf(v.schedule.overlap, ['skip', 'queue'] as const, 'schedule.overlap') })
    const problem = scheduleProblem(s)
    if (problem) reject(problem)
    out.schedule = s
  }
  return out
}

export function guestPolicyOf(p: { window?: { hours: string; tz?: string }; noBattery?: boolean; whenIdle?: boolean; activeLoadPermille?: number; activeMinutes?: number; idle?: boolean; inputIdle?: string }): GuestPolicy {
  return omitUndefined({
    window: p.window ? windowOf(p.window, 'guestPolicy.window') : undefined,
    noBattery: p.noBattery,
    whenIdle: p.whenIdle,
    activeLoadPermille: p.activeLoadPermille,
    activeMinutes: p.activeMinutes,
    idle: p.idle,
    inputIdle: p.inputIdle,
  })
}
