// docs/cli.md carries a workload field reference generated from the lexicons: it must match them.
import fs from 'node:fs'
import { expect, test } from 'vitest'
import { BEGIN, END, workloadFieldReference } from '../../src/client/field-reference.js'

const doc = fs.readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8')
const lexicon = JSON.parse(fs.readFileSync(new URL('../../lexicons/commune/scheduler/workload.json', import.meta.url), 'utf8'))

test('the reference in docs/cli.md is the one generated from the lexicons (run: npx tsx scripts/gen-cli-docs.ts)', () => {
  const block = doc.slice(doc.indexOf(BEGIN), doc.indexOf(END) + END.length)
  expect(block).toBe(workloadFieldReference())
})

test('every workload field and every object it refers to has a row', () => {
  const ref = workloadFieldReference()
  for (const key of Object.keys(lexicon.defs.main.record.properties)) expect(ref).toContain(`| \`${key}\` |`)
  for (const key of Object.keys(lexicon.defs.envVar.properties)) expect(ref).toMatch(new RegExp(`#### envVar[\\s\\S]*\\| \`${key}\` \\|`))
  expect(ref).toContain('#### resources (`commune.scheduler.defs#resources`)')
  expect(ref).toContain('| `memoryMb` | integer | yes | 6 to 16777216 |')
  expect(ref).toContain('| `env` | list of object ([envVar](#field-envvar)) |  | at most 128 items |')
})
