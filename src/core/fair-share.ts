// Fair-share ledger: who consumed others' machines and who lent theirs, with HTCondor-style
// exponential decay so last hour's usage counts more than last month's. Pure: `now` is a parameter.
import { ConfigError } from '../errors.js'
import { CLAIM_STATES, type AtUri, type Did, type Resources, type WorkloadStatus } from './types.js'

export interface Balance {
  /** Decayed unit-seconds this owner's workloads used on OTHER owners' meshlets. */
  consumed: number
  /** Decayed unit-seconds this owner's meshlets ran OTHER owners' workloads. */
  contributed: number
  /** contributed - consumed: positive = gave more than took. */
  balance: number
}

export interface BalanceInput {
  statuses: readonly WorkloadStatus[]
  workloadOwner: (uri: AtUri) => Did | undefined
  meshletOwner: (meshlet: Did) => Did | undefined
  workloadResources: (uri: AtUri) => Resources | undefined
  /** Epoch ms. */
  now: number
  /** Usage this long ago weighs half as much as usage now. */
  halfLifeMs: number
}

/** Resource units of one replica: one core or one GiB of memory = 1 unit (cpuMillis/1000 + memoryMb/1024). */
export function resourceUnits(r: Resources): number {
  const cpu = Number.isFinite(r.cpuMillis) && r.cpuMillis > 0 ? r.cpuMillis : 0
  const mem = Number.isFinite(r.memoryMb) && r.memoryMb > 0 ? r.memoryMb : 0
  return cpu / 1000 + mem / 1024
}

/**
 * Decayed duration of the interval [start, end] in SECONDS: the integral of 0.5^((now - t)/H) dt
 * = H/ln2 * (0.5^((now-end)/H) - 0.5^((now-start)/H)), H = halfLifeMs (times in epoch ms).
 * The interval is clipped to end at `now`; an empty or inverted interval is 0.
 */
export function decayedSeconds(start: number, end: number, now: number, halfLifeMs: number): number {
  const e = Math.min(end, now)
  if (!(e > start)) return 0
  const w = (t: number): number => Math.pow(0.5, (now - t) / halfLifeMs)
  return ((halfLifeMs / Math.LN2) * (w(e) - w(start))) / 1000
}

/**
 * Rule 7. Per-owner decayed usage. For each status (deduplicated by uri) with a valid `startedAt`:
 * usage = units(workload resources) x decayedSeconds(startedAt, end), where end = now for a claim
 * state (pending/pulling/starting/running; capped at updatedAt + leaseMs when the status carries a
 * lease, so a dead peer's stale "running" stops accruing) and Date.parse(updatedAt) otherwise.
 * Only cross-owner usage counts: it is added to consumed[workload owner] and contributed[runner
 * owner] when they differ. Statuses with missing/invalid times or unknown owners/resources are
 * ignored. Throws ConfigError when halfLifeMs is not a positive finite number.
 */
export function computeBalances(input: BalanceInput): Map<Did, Balance> {
  const { now, halfLifeMs } = input
  if (!(Number.isFinite(halfLifeMs) && halfLifeMs > 0)) {
    throw new ConfigError(`fair-share halfLifeMs must be a positive number of milliseconds, got ${String(halfLifeMs)}`, 'halfLifeMs')
  }
  const out = new Map<Did, Balance>()
  const entry = (d: Did): Balance => {
    let b = out.get(d)
    if (!b) out.set(d, (b = { consumed: 0, contributed: 0, balance: 0 }))
    return b
  }
  const seen = new Set<AtUri>()
  for (const s of input.statuses) {
    if (seen.has(s.uri)) continue
    seen.add(s.uri)
    if (!s.startedAt || !s.workload) continue
    const start = Date.parse(s.startedAt)
    if (!Number.isFinite(start)) continue
    let end: number
    const updated = Date.parse(s.updatedAt)
    if (CLAIM_STATES.includes(s.state)) {
      end = now
      if (typeof s.leaseMs === 'number' && s.leaseMs > 0 && Number.isFinite(updated)) end = Math.min(end, updated + s.leaseMs)
    } else {
      if (!Number.isFinite(updated)) continue
      end = updated
    }
    const consumer = input.workloadOwner(s.workload.uri)
    const runner = input.meshletOwner(s.meshlet)
    if (!consumer || !runner || consumer === runner) continue
    const resources = input.workloadResources(s.workload.uri)
    if (!resources) continue
    const usage = resourceUnits(resources) * decayedSeconds(start, end, now, halfLifeMs)
    if (!(usage > 0)) continue
    entry(consumer).consumed += usage
    entry(runner).contributed += usage
  }
  for (const b of out.values()) b.balance = b.contributed - b.consumed
  return out
}
