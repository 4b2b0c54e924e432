// Regenerates the workload field reference in docs/cli.md from lexicons/.
//   npx tsx scripts/gen-cli-docs.ts           write it
//   npx tsx scripts/gen-cli-docs.ts --check   exit 1 if the doc is out of date
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFieldReference } from '../src/client/field-reference.js'

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/cli.md')
const doc = fs.readFileSync(file, 'utf8')
const next = withFieldReference(doc)
if (process.argv.includes('--check')) {
  if (next !== doc) {
    console.error('docs/cli.md: the workload field reference is out of date; run: npx tsx scripts/gen-cli-docs.ts')
    process.exit(1)
  }
} else if (next !== doc) {
  fs.writeFileSync(file, next)
  console.error('docs/cli.md: workload field reference updated')
}
