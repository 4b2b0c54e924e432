// "Did you mean": the nearest known word to a typo, for flags and workload keys.

/** Edit distance (insert, delete, substitute, swap of neighbours), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)])
  for (let j = 1; j <= t.length; j++) d[0]![j] = j
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[s.length]![t.length]!
}

/**
 * The known word closest to `word`, if it is close enough to be a likely typo: within a third of
 * its length in edits (at least 1, at most 3), or one word starting with the other
 * (`restartPolicy` -> `restart`).
 */
export function nearest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    const dist = editDistance(word, k)
    if (dist < bestD) {
      best = k
      bestD = dist
    }
  }
  if (best === undefined) return undefined
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  if (bestD <= limit) return best
  const w = word.toLowerCase()
  const prefixed = known.filter((k) => k.length >= 3 && (w.startsWith(k.toLowerCase()) || k.toLowerCase().startsWith(w)) && Math.min(w.length, k.length) >= 3)
  return prefixed.sort((x, y) => y.length - x.length)[0]
}
