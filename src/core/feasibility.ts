// Can THIS meshlet take one more replica right now? Plain-words reasons with numbers, because a
// decline is published and read by people ("why did nobody run my job?").
import type { CapacitySnapshot, HostSnapshot, Resources, Workload } from './types.js'

export interface FeasibilityPolicy {
  /** Memory kept back for the host itself, never offered to workloads (MiB). */
  reserveMemoryMb: number
  /** Decline above this 1-minute load per core, x1000 (2000 = load 2.0 per core). */
  maxLoadPermille: number
  /** On battery, decline below this charge (permille; 200 = 20%). */
  minBatteryPermille: number
}

export const defaultFeasibilityPolicy: FeasibilityPolicy = {
  reserveMemoryMb: 256,
  maxLoadPermille: 2000,
  minBatteryPermille: 200,
}

export type Feasibility = { ok: true; free: CapacitySnapshot } | { ok: false; reason: string; free: CapacitySnapshot }

function num(n: number | undefined, fallback = 0): number {
  return Number.isFinite(n) ? (n as number) : fallback
}

function percent(permille: number): string {
  // 150 -> "15", 155 -> "15.5": no float noise on the wire or in logs.
  return String(Math.round(permille) / 10)
}

/**
 * Free capacity for new work, as published in a bid's capacity snapshot (integers, never negative):
 * - cpuMillisFree = host.cpuMillisTotal - committed.cpuMillis
 * - memoryMbFree  = min(host.memoryMbAvailable, host.memoryMbTotal - committed.memoryMb) - policy.reserveMemoryMb
 * (memory takes the smaller of what the kernel says is available and what is not yet promised,
 * because claimed replicas may not have started yet, and started ones already show in available).
 */
export function freeCapacity(host: HostSnapshot, committed: Resources, policy: FeasibilityPolicy): CapacitySnapshot {
  const cpu = num(host.cpuMillisTotal) - num(committed.cpuMillis)
  const mem = Math.min(num(host.memoryMbAvailable), num(host.memoryMbTotal) - num(committed.memoryMb)) - num(policy.reserveMemoryMb)
  const free: CapacitySnapshot = {
    cpuMillisFree: Math.max(0, Math.floor(cpu)),
    memoryMbFree: Math.max(0, Math.floor(mem)),
    loadPermille: Math.max(0, Math.round(num(host.loadPermille))),
    onBattery: host.onBattery === true,
    thermal: host.thermal,
  }
  if (Number.isFinite(host.batteryPermille)) {
    free.batteryPermille = Math.min(1000, Math.max(0, Math.round(host.batteryPermille as number)))
  }
  return free
}

/**
 * Rule 6. Whether this meshlet can run one more replica of `workload`, given live host readings,
 * `committed` (sum of resources of replicas it already runs or has claimed/bid for) and `draining`.
 * Declines, in this order, every failing check joined by "; " (draining alone short-circuits):
 * "draining"; "insufficient CPU: needs 2000m, 1500m free"; "insufficient memory: needs 4096 MiB,
 * 1200 MiB free"; "insufficient storage: needs N MiB, M MiB free" (only when the workload asks for
 * storage and the host knows its free disk); "overloaded: load 2.30 per core" (loadPermille >
 * policy.maxLoadPermille); "thermal throttling"; "on battery at 15% (minimum 20%)".
 */
export function checkFeasibility(
  workload: Pick<Workload, 'resources'>,
  host: HostSnapshot,
  committed: Resources,
  policy: FeasibilityPolicy = defaultFeasibilityPolicy,
  draining = false,
): Feasibility {
  const free = freeCapacity(host, committed, policy)
  if (draining) return { ok: false, reason: 'draining', free }
  const need = workload.resources
  const problems: string[] = []
  const needCpu = num(need?.cpuMillis, NaN)
  const needMem = num(need?.memoryMb, NaN)
  if (!(needCpu > 0) || !(needMem > 0)) {
    return { ok: false, reason: `invalid resources: cpuMillis and memoryMb must be positive numbers, got ${String(need?.cpuMillis)} and ${String(need?.memoryMb)}`, free }
  }
  if (needCpu > free.cpuMillisFree) problems.push(`insufficient CPU: needs ${needCpu}m, ${free.cpuMillisFree}m free`)
  if (needMem > free.memoryMbFree) problems.push(`insufficient memory: needs ${needMem} MiB, ${free.memoryMbFree} MiB free`)
  const needStorage = num(need.storageMb)
  // Free disk the host cannot tell counts as no limit (no storage asked for never exceeds it either).
  const storageFree = Math.max(0, Math.floor(num(host.storageMbAvailable, Infinity)))
  if (needStorage > storageFree) problems.push(`insufficient storage: needs ${needStorage} MiB, ${storageFree} MiB free`)
  const load = num(host.loadPermille)
  if (load > num(policy.maxLoadPermille, defaultFeasibilityPolicy.maxLoadPermille)) problems.push(`overloaded: load ${(load / 1000).toFixed(2)} per core`)
  if (host.thermal === 'throttled') problems.push('thermal throttling')
  const minBattery = num(policy.minBatteryPermille, defaultFeasibilityPolicy.minBatteryPermille)
  // No charge reading: nothing to compare.
  if (host.onBattery && (host.batteryPermille ?? Infinity) < minBattery) {
    problems.push(`on battery at ${percent(host.batteryPermille!)}% (minimum ${percent(minBattery)}%)`)
  }
  if (problems.length > 0) return { ok: false, reason: problems.join('; '), free }
  return { ok: true, free }
}
