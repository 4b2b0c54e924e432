// The lexicon JSON (lexicons/*), read at run time: the source for unknown-key warnings in submit
// and for the generated field reference in docs/cli.md, so both follow the schema by construction.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface LexField {
  type: string
  ref?: string
  items?: LexField
  description?: string
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  knownValues?: string[]
  default?: unknown
  format?: string
  refs?: string[]
}

export interface LexObject {
  type: 'object'
  description?: string
  required?: string[]
  properties: Record<string, LexField>
}

// src/client and dist/client are both two levels below the repository root.
const LEXICON_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lexicons')

const cache = new Map<string, { defs: Record<string, unknown> }>()

function doc(nsid: string): { defs: Record<string, unknown> } {
  let d = cache.get(nsid)
  if (!d) {
    d = JSON.parse(fs.readFileSync(path.join(LEXICON_DIR, ...nsid.split('.')) + '.json', 'utf8')) as { defs: Record<string, unknown> }
    cache.set(nsid, d)
  }
  return d
}

/** The object a ref points at (`nsid#def`, `#def` relative to `from`); records give their record object. */
export function lexObject(ref: string, from?: string): { id: string; obj: LexObject } {
  const [nsidPart, defName = 'main'] = ref.split('#')
  const nsid = nsidPart || from!.split('#')[0]!
  const def = doc(nsid).defs[defName] as { type: string; record?: LexObject }
  const obj = def.type === 'record' ? def.record! : (def as unknown as LexObject)
  return { id: `${nsid}#${defName}`, obj }
}

/** Keys in `value` the lexicon does not define, as paths (`constraints.zone`, `env[0].key`). */
export function unknownKeys(value: unknown, ref: string): { path: string; key: string; known: string[] }[] {
  const out: { path: string; key: string; known: string[] }[] = []
  const walkObject = (v: unknown, objRef: string, from: string | undefined, at: string) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return
    const { id, obj } = lexObject(objRef, from)
    const known = Object.keys(obj.properties)
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (k === '$type') continue
      const p = at ? `${at}.${k}` : k
      const field = obj.properties[k]
      if (!field) out.push({ path: p, key: k, known })
      else walkField(child, field, id, p)
    }
  }
  const walkField = (v: unknown, field: LexField, from: string, at: string) => {
    if (field.type === 'ref' && field.ref) walkObject(v, field.ref, from, at)
    else if (field.type === 'array' && field.items && Array.isArray(v)) v.forEach((x, i) => walkField(x, field.items!, from, `${at}[${i}]`))
  }
  walkObject(value, ref, undefined, '')
  return out
}
