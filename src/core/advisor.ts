// The hardware advisor (issue 15, heddle-vision seed): from a history of demand that waited or was
// declined, what the commune lacked (by reason) and how much of it one more machine of a given size
// would have run. Pure: the history and the candidate machines are parameters; integers only.

export type LackReason = 'memory' | 'cpu' | 'role' | 'gpu' | 'capability' | 'label' | 'storage' | 'load' | 'battery' | 'hours' | 'other'

/** One workload replica's demand over a span in which it waited (queued, or declined everywhere). */
export interface Demand {
  workload: string
  cpuMillis: number
  memoryMb: number
  roles: readonly string[]
  capabilities: readonly string[]
  /** Epoch ms: waiting from, until (placed, deleted, or the end of the history). */
  from: number
  to: number
  /** The decline reasons meshlets gave (free text, as published). */
  declines: readonly string[]
}

export interface Machine {
  name: string
  cpuMillis: number
  memoryMb: number
  roles: readonly string[]
  capabilities: readonly string[]
}

/** The class of a published decline reason (core/feasibility.ts and core/constraints.ts wording). */
export function lackOf(reason: string): LackReason {
  const r = reason.toLowerCase()
  if (r.includes('insufficient memory')) return 'memory'
  if (r.includes('insufficient cpu')) return 'cpu'
  if (r.includes('insufficient storage')) return 'storage'
  if (/needs (role|roles) /.test(r)) return 'role'
  if (/needs (capability|capabilities) .*\bgpu\b/.test(r)) return 'gpu'
  if (/needs (capability|capabilities) /.test(r)) return 'capability'
  if (r.includes('needs label')) return 'label'
  if (r.startsWith('overloaded')) return 'load'
  if (r.startsWith('on battery')) return 'battery'
  if (/\b(window|hours|outside)\b/.test(r)) return 'hours'
  return 'other'
}

/** Demand in milli-unit-seconds: (cpuMillis + memoryMb * 1000 / 1024) * seconds waited, integer. */
export function demandUnits(d: Pick<Demand, 'cpuMillis' | 'memoryMb' | 'from' | 'to'>): bigint {
  const milliUnits = BigInt(d.cpuMillis) * 1024n + BigInt(d.memoryMb) * 1000n // x1024: memory in GiB-milli without a float
  const seconds = BigInt(Math.max(0, Math.floor((d.to - d.from) / 1000)))
  return (milliUnits * seconds) / 1024n
}

export interface LackRow {
  reason: LackReason
  /** Demands whose declines name this reason (one demand may count under several). */
  demands: number
  units: bigint
}

export interface MachineRow {
  machine: string
  /** Demands the machine would have run (at once, packed alongside each other as they overlap). */
  absorbed: number
  absorbedUnits: bigint
  /** floor(absorbedUnits * 100 / total units). */
  percent: number
}

export interface Advice {
  demands: number
  units: bigint
  lacks: LackRow[]
  machines: MachineRow[]
}

const fits = (m: Machine, d: Demand) => d.roles.every((r) => m.roles.includes(r)) && d.capabilities.every((c) => m.capabilities.includes(c))

/**
 * Replays the history on one extra machine: demands in order of arrival (then workload name); each
 * is absorbed when the machine has the roles and capabilities it needs and room for it beside the
 * absorbed demands that overlap it in time (first come, first served, as a bid window would).
 */
export function absorbedBy(m: Machine, history: readonly Demand[]): { absorbed: Demand[]; units: bigint } {
  const order = [...history].sort((a, b) => a.from - b.from || (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : 0))
  const taken: Demand[] = []
  let units = 0n
  for (const d of order) {
    if (d.to <= d.from || !fits(m, d)) continue
    // The machine's load at the worst moment of d's span: it changes only where a taken demand starts.
    const overlapping = taken.filter((t) => t.from < d.to && d.from < t.to)
    const moments = [d.from, ...overlapping.map((t) => t.from).filter((s) => s > d.from && s < d.to)]
    const room = moments.every((at) => {
      const live = overlapping.filter((t) => t.from <= at && at < t.to)
      const cpu = live.reduce((n, t) => n + t.cpuMillis, 0)
      const mem = live.reduce((n, t) => n + t.memoryMb, 0)
      return cpu + d.cpuMillis <= m.cpuMillis && mem + d.memoryMb <= m.memoryMb
    })
    if (!room) continue
    taken.push(d)
    units += demandUnits(d)
  }
  return { absorbed: taken, units }
}

const REASON_ORDER: LackReason[] = ['memory', 'cpu', 'role', 'gpu', 'capability', 'label', 'storage', 'load', 'battery', 'hours', 'other']

export function advise(history: readonly Demand[], machines: readonly Machine[]): Advice {
  const units = history.reduce((n, d) => n + demandUnits(d), 0n)
  const lacks: LackRow[] = []
  for (const reason of REASON_ORDER) {
    const hit = history.filter((d) => d.declines.some((r) => lackOf(r) === reason))
    if (hit.length) lacks.push({ reason, demands: hit.length, units: hit.reduce((n, d) => n + demandUnits(d), 0n) })
  }
  const rows = machines.map((m) => {
    const a = absorbedBy(m, history)
    return { machine: m.name, absorbed: a.absorbed.length, absorbedUnits: a.units, percent: units === 0n ? 0 : Number((a.units * 100n) / units) }
  })
  return { demands: history.length, units, lacks, machines: rows }
}
