// Small statistics for the bench: nearest-rank percentiles (no interpolation, so every figure is a
// value that was actually measured), and ratios of medians/p95s measured in the same run.

export interface Summary {
  n: number
  min: number
  p50: number
  p95: number
  max: number
  mean: number
}

/** Nearest-rank percentile of an ascending-sorted list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function summarize(xs: readonly number[]): Summary {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return { n: 0, min: Number.NaN, p50: Number.NaN, p95: Number.NaN, max: Number.NaN, mean: Number.NaN }
  return { n: s.length, min: s[0]!, p50: percentile(s, 50), p95: percentile(s, 95), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length }
}

export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : Number.NaN
}

/** "543" / "1.23 s" style: ms below 10 s, seconds above. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (Math.abs(ms) >= 10_000) return `${(ms / 1000).toFixed(1)} s`
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(2)} s`
  return `${Math.round(ms)} ms`
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a'
}
