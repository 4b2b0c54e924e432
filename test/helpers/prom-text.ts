// A strict parser of the Prometheus text exposition format (0.0.4), for tests: prom-client has no
// parser and promtool is not installed. It refuses what Prometheus would refuse (bad names, bad
// escapes, samples without a TYPE, a TYPE twice, histograms whose buckets are not cumulative or
// whose +Inf bucket differs from _count), and returns every family with its samples.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
export interface Family {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help?: string
  samples: Sample[]
}

export class PromParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`)
    this.name = 'PromParseError'
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseValue(s: string, line: number): number {
  if (s === '+Inf' || s === 'Inf') return Infinity
  if (s === '-Inf') return -Infinity
  if (s === 'NaN') return NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new PromParseError(line, `"${s}" is not a number`)
  return Number(s)
}

function parseLabels(s: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {}
  let i = 0
  for (;;) {
    while (s[i] === ' ') i++
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) }
    const eq = s.indexOf('=', i)
    if (eq < 0) throw new PromParseError(line, 'label without "="')
    const name = s.slice(i, eq).trim()
    if (!LABEL.test(name)) throw new PromParseError(line, `bad label name "${name}"`)
    if (name in labels) throw new PromParseError(line, `label "${name}" twice`)
    if (s[eq + 1] !== '"') throw new PromParseError(line, `label "${name}" value is not quoted`)
    let v = ''
    let j = eq + 2
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const n = s[++j]
        if (n === 'n') v += '\n'
        else if (n === '\\' || n === '"') v += n
        else throw new PromParseError(line, `bad escape "\\${n}" in label "${name}"`)
      } else if (s[j] === '\n') throw new PromParseError(line, 'raw newline in a label value')
      else v += s[j]
    }
    if (j >= s.length) throw new PromParseError(line, `unterminated value of label "${name}"`)
    labels[name] = v
    i = j + 1
    if (s[i] === ',') i++
    else if (s[i] !== '}') throw new PromParseError(line, `expected "," or "}" after label "${name}"`)
  }
}

/** The family a sample name belongs to, given the declared families (histogram/summary suffixes). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name)
  if (direct) return direct
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const f = families.get(name.slice(0, -suffix.length))
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f
  }
  return undefined
}

export function parsePromText(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  if (text.length > 0 && !text.endsWith('\n')) throw new PromParseError(text.split('\n').length, 'the exposition must end with a newline')
  const lines = text.split('\n')
  lines.forEach((raw, idx) => {
    const n = idx + 1
    if (raw === '') return
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw)
      if (!m) return // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!NAME.test(name)) throw new PromParseError(n, `bad metric name "${name}"`)
      let f = families.get(name)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new PromParseError(n, `unknown type "${rest}"`)
        if (f?.samples.length) throw new PromParseError(n, `TYPE of ${name} after its samples`)
        if (f && f.type !== 'untyped') throw new PromParseError(n, `TYPE of ${name} twice`)
        if (!f) families.set(name, (f = { name, type: 'untyped', samples: [] }))
        f.type = rest as Family['type']
      } else {
        if (f?.help !== undefined) throw new PromParseError(n, `HELP of ${name} twice`)
        if (!f) families.set(name, (f = { name, type: 'untyped', samples: [] }))
        f.help = rest
      }
      return
    }
    const nm = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(raw)
    if (!nm) throw new PromParseError(n, `not a sample: "${raw}"`)
    const name = nm[1]!
    let rest = nm[2]!
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest.slice(1), n))
    const parts = rest.trim().split(/ +/)
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new PromParseError(n, `expected "<value> [timestamp]" after ${name}`)
    const value = parseValue(parts[0]!, n)
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new PromParseError(n, `bad timestamp "${parts[1]}"`)
    const f = familyOf(name, families)
    if (!f) throw new PromParseError(n, `sample ${name} has no TYPE`)
    f.samples.push({ name, labels, value })
  })
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Sample[]>()
  const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'le').sort())
  for (const s of f.samples) {
    if (s.name === `${f.name}_bucket` && s.labels.le === undefined) throw new PromParseError(0, `${f.name}_bucket without le`)
    const k = key(s.labels)
    series.set(k, [...(series.get(k) ?? []), s])
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`)
    const count = samples.find((s) => s.name === `${f.name}_count`)
    let prevLe = -Infinity
    let prev = 0
    for (const b of buckets) {
      const le = parseValue(b.labels.le!, 0)
      if (!(le > prevLe)) throw new PromParseError(0, `${f.name}: buckets not in increasing le order`)
      if (b.value < prev) throw new PromParseError(0, `${f.name}: bucket le=${b.labels.le} is below the one before (not cumulative)`)
      prevLe = le
      prev = b.value
    }
    if (buckets.length && prevLe !== Infinity) throw new PromParseError(0, `${f.name}: no +Inf bucket`)
    if (buckets.length && count && count.value !== prev) throw new PromParseError(0, `${f.name}: +Inf bucket ${prev} differs from _count ${count.value}`)
  }
}

/** The sum of a family's samples named `name` whose labels include `match`. */
export function sampleSum(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  let sum = 0
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value
  return sum
}
