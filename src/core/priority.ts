// A bid's priority: who should run this replica. Two documented, clamped components, like
// Nomad's scorers, so a user can recompute any bid by hand.
import type { CapacitySnapshot, HostSnapshot, Resources, Workload } from './types.js'

export const FAIR_SHARE_MAX = 500
export const FIT_MAX = 500
export const PRIORITY_MAX = FAIR_SHARE_MAX + FIT_MAX

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n))
}

function finite(n: number | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0
}

/**
 * Fair-share component, integer in [0, 500]: clamp(round(250 - 250 * tanh(balance / 3600)), 0, 500).
 * `balance` is the bidding meshlet OWNER's contributed - consumed in decayed unit-seconds
 * (fair-share.ts; 3600 = one core-hour). Owners who consumed more than they gave (negative
 * balance) bid HIGHER, so they pay back by running others' work; balanced owners score 250.
 */
export function fairShareScore(balance: number): number {
  const b = finite(balance)
  return clamp(Math.round(250 - 250 * Math.tanh(b / 3600)), 0, FAIR_SHARE_MAX)
}

export interface FitInput {
  workload: Pick<Workload, 'resources'>
  host: HostSnapshot
  committed: Resources
  free: CapacitySnapshot
}

/**
 * Fraction of the host's total left after placing this workload, clamped to [0, 1]:
 * cpu = (cpuMillisTotal - committed.cpuMillis - need.cpuMillis) / cpuMillisTotal,
 * memory = (free.memoryMbFree - need.memoryMb) / memoryMbTotal (free memory already reflects what
 * the kernel has available, the host reserve and committed replicas). A zero total gives 0.
 */
export function headroomAfter(input: FitInput): { cpu: number; memory: number } {
  const { workload, host, committed, free } = input
  const cpuTotal = finite(host.cpuMillisTotal)
  const memTotal = finite(host.memoryMbTotal)
  const cpu = cpuTotal > 0 ? (cpuTotal - finite(committed.cpuMillis) - finite(workload.resources.cpuMillis)) / cpuTotal : 0
  const memory = memTotal > 0 ? (finite(free.memoryMbFree) - finite(workload.resources.memoryMb)) / memTotal : 0
  return { cpu: clamp(cpu, 0, 1), memory: clamp(memory, 0, 1) }
}

/**
 * Fit component, integer in [0, 500]:
 * round(200*memHeadroomAfter + 150*cpuHeadroomAfter + 100*(1 - min(loadPermille, 1000)/1000)
 * + 50*(onBattery ? 0 : 1)) - (thermal warm ? 50 : thermal throttled ? 150 : 0), clamped.
 * It spreads work to the machines with the most room, least load, on mains power, running cool.
 */
export function fitScore(input: FitInput): number {
  const { host } = input
  const h = headroomAfter(input)
  const load = clamp(finite(host.loadPermille), 0, 1000)
  const raw = Math.round(200 * h.memory + 150 * h.cpu + 100 * (1 - load / 1000) + 50 * (host.onBattery ? 0 : 1))
  const penalty = host.thermal === 'warm' ? 50 : host.thermal === 'throttled' ? 150 : 0
  return clamp(raw - penalty, 0, FIT_MAX)
}

/**
 * Rule 8. A bid's priority, integer in [0, 1000] = fairShareScore(balance) + fitScore(...).
 * Higher wins (selection sorts priority descending, then the hash tiebreak).
 */
export function bidPriority(input: FitInput & { balance: number }): number {
  return clamp(fairShareScore(input.balance) + fitScore(input), 0, PRIORITY_MAX)
}
