// Energy cost (issue 15): what the CPU time an owner consumed on others' meshlets, or contributed
// to others' work, cost in electricity, from the ledger's core-milliseconds, a power draw per busy
// core (--watts-per-core) and a price per kWh (--kwh-price). Local display only, never agreed by
// peers, but exact all the same: decimals are parsed into integers and every figure is one integer
// division rounded half up, so the same records and options print the same figures everywhere.

/** value = units / 10^scale, both exact. */
export interface Decimal {
  units: bigint
  scale: number
}

export interface EnergyPrice {
  wattsPerCore: Decimal
  /** Absent: kWh only. */
  kwhPrice?: Decimal
  /** A label printed after the cost (EUR, $...), optional. */
  currency?: string
}

export interface EnergyFigure {
  /** Kilowatt-hours, 3 decimals (watt-hour precision). */
  kwh: string
  /** kwh x price, 4 decimals, with the currency label when one was given. */
  cost?: string
}

export interface EnergyRow {
  owner: string
  /** CPU core-milliseconds from the ledger (undecayed), as integers. */
  consumedCoreMs: bigint
  contributedCoreMs: bigint
  consumed: EnergyFigure
  contributed: EnergyFigure
}

const DECIMAL = /^(\d{1,12})(?:\.(\d{1,9}))?$/

/** "12", "0.32", "7.5": a non-negative decimal, exactly; or why not. */
export function parseDecimal(s: string): Decimal | string {
  const m = DECIMAL.exec(s.trim())
  if (!m) return `must be a number like 12 or 0.32 (digits, at most 9 after the point), got ${JSON.stringify(s)}`
  const frac = m[2] ?? ''
  return { units: BigInt(m[1]! + frac), scale: frac.length }
}

const PRICE = /^(?:([^\d\s.+-]{1,8})\s*)?(\d[\d.]*)(?:\s*([^\d\s.+-]{1,8}))?$/

/** "0.32", "0.32 EUR", "EUR0.32", "$0.15": a price per kWh and an optional currency label. */
export function parseKwhPrice(s: string): { price: Decimal; currency?: string } | string {
  const m = PRICE.exec(s.trim())
  if (!m || (m[1] && m[3])) return `must be a price per kWh like 0.32, 0.32 EUR or $0.15, got ${JSON.stringify(s)}`
  const price = parseDecimal(m[2]!)
  if (typeof price === 'string') return price
  const currency = m[1] ?? m[3]
  return currency ? { price, currency } : { price }
}

/** num / den to `places` decimals, rounded half up (num, den >= 0, den > 0). */
export function fixed(num: bigint, den: bigint, places: number): string {
  const scaled = (num * 10n ** BigInt(places) * 2n + den) / (2n * den)
  if (places === 0) return String(scaled)
  const s = String(scaled).padStart(places + 1, '0')
  return `${s.slice(0, -places)}.${s.slice(-places)}`
}

/** core-ms per kWh at 1 W per core: 1 kWh = 1000 W x 3 600 000 ms. */
const CORE_MS_PER_KWH_AT_1W = 3_600_000_000n

/** The energy of `coreMs` core-milliseconds at the given draw, and its cost when a price is given. */
export function energyOf(coreMs: bigint, p: EnergyPrice): EnergyFigure {
  // kWh = coreMs x W / 3.6e9, W = units / 10^scale
  const num = coreMs * p.wattsPerCore.units
  const den = CORE_MS_PER_KWH_AT_1W * 10n ** BigInt(p.wattsPerCore.scale)
  const kwh = fixed(num, den, 3)
  if (!p.kwhPrice) return { kwh }
  const cost = fixed(num * p.kwhPrice.units, den * 10n ** BigInt(p.kwhPrice.scale), 4)
  return { kwh, cost: p.currency ? `${cost} ${p.currency}` : cost }
}

/** One row per owner: the energy of what they consumed and contributed. */
export function energyRows(owners: readonly string[], use: (owner: string) => { consumedCoreMs: bigint; contributedCoreMs: bigint }, p: EnergyPrice): EnergyRow[] {
  return owners.map((owner) => {
    const u = use(owner)
    return { owner, ...u, consumed: energyOf(u.consumedCoreMs, p), contributed: energyOf(u.contributedCoreMs, p) }
  })
}

/** "1.234 kWh (0.3949 EUR)" for people. */
export function energyText(f: EnergyFigure): string {
  return f.cost === undefined ? `${f.kwh} kWh` : `${f.kwh} kWh (${f.cost})`
}
