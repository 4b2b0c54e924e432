// The scheduling brain must stay pure: same records in, same decisions out, on every peer.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const files = ['hash', 'view', 'selection', 'placement', 'feasibility', 'ledger', 'epoch', 'bid-verify', 'free-riders', 'priority', 'decide'].map((f) => `src/core/${f}.ts`)
const forbidden: [string, RegExp][] = [
  ['node:* import', /from\s+['"]node:/],
  ['dockerode', /dockerode/],
  ['@atproto/*', /from\s+['"]@atproto\//],
  ['Date.now()', /Date\.now\s*\(/],
  ['Math.random()', /Math\.random\s*\(/],
  ['new Date() without arguments', /new\s+Date\s*\(\s*\)/],
  ['process.env', /process\.env/],
]

describe('src/core scheduling files are pure', () => {
  test.each(files)('%s', (file) => {
    const src = readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8')
    const found = forbidden.filter(([, re]) => re.test(src)).map(([name]) => name)
    expect(found).toEqual([])
  })
})
