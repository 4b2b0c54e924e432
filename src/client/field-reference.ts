// The workload field reference in docs/cli.md, rendered from the lexicon JSON: one table per object
// (the workload, then every object it refers to), so the doc cannot drift from the schema.
// `npx tsx scripts/gen-cli-docs.ts` writes it; test/unit/cli-docs.test.ts fails on drift.
import { lexObject, type LexField } from './lexicon-schema.js'

export const BEGIN = '<!-- workload-fields:begin (generated from lexicons/ by scripts/gen-cli-docs.ts; do not edit) -->'
export const END = '<!-- workload-fields:end -->'

function typeOf(f: LexField, from: string, queue: string[]): string {
  if (f.type === 'ref' && f.ref) {
    const id = lexObject(f.ref, from).id
    if (!queue.includes(id)) queue.push(id)
    return `object ([${shortName(id)}](#${anchor(id)}))`
  }
  if (f.type === 'array' && f.items) return `list of ${typeOf(f.items, from, queue)}`
  return f.format ? `${f.type} (${f.format})` : f.type
}

function limits(f: LexField): string {
  const out: string[] = []
  if (f.minimum !== undefined || f.maximum !== undefined) out.push(`${f.minimum ?? '…'} to ${f.maximum ?? '…'}`)
  if (f.minLength !== undefined && f.minLength > 0) out.push(`at least ${f.minLength} long`)
  if (f.maxLength !== undefined) out.push(`at most ${f.maxLength} ${f.type === 'array' ? 'items' : 'long'}`)
  if (f.items && f.items.type === 'string' && f.items.maxLength !== undefined) out.push(`each at most ${f.items.maxLength} long`)
  if (f.knownValues) out.push(`one of ${f.knownValues.map((v) => `\`${v}\``).join(', ')}`)
  if (f.default !== undefined) out.push(`default \`${String(f.default)}\``)
  return out.join('; ')
}

const shortName = (id: string) => (id.endsWith('#main') ? 'workload' : id.split('#')[1]!)
const anchor = (id: string) => `field-${shortName(id).toLowerCase()}`

/** The markdown between BEGIN and END. */
export function workloadFieldReference(): string {
  const queue = ['commune.scheduler.workload#main']
  const parts: string[] = []
  for (let i = 0; i < queue.length; i++) {
    const { id, obj } = lexObject(queue[i]!)
    const required = new Set(obj.required ?? [])
    parts.push(`<a id="${anchor(id)}"></a>`, `#### ${shortName(id)} (\`${id}\`)`, '')
    if (obj.description) parts.push(obj.description, '')
    parts.push('| field | type | required | limits | meaning |', '|---|---|---|---|---|')
    for (const [key, f] of Object.entries(obj.properties)) {
      const desc = (f.description ?? '').replace(/\|/g, '\\|')
      parts.push(`| \`${key}\` | ${typeOf(f, id, queue)} | ${required.has(key) ? 'yes' : ''} | ${limits(f)} | ${desc} |`)
    }
    parts.push('')
  }
  return [BEGIN, '', ...parts, END].join('\n')
}

/** `doc` with its generated block replaced by the current one (the block must exist). */
export function withFieldReference(doc: string): string {
  const i = doc.indexOf(BEGIN)
  const j = doc.indexOf(END)
  if (i < 0 || j < i) throw new Error(`docs/cli.md has no generated block (${BEGIN} ... ${END})`)
  return doc.slice(0, i) + workloadFieldReference() + doc.slice(j + END.length)
}
