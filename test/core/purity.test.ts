// The scheduling brain must stay pure: same records in, same decisions out, on every peer. Every
// file under src/core/ (found by walking the directory, so a new file is covered the day it lands)
// imports only core, the generated lexicons, plain error classes and @noble/hashes, and touches no
// clock, randomness, timer, environment or network.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CORE = path.join(ROOT, 'src/core')
const files = (readdirSync(CORE, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join('src/core', f))

/** Where core may import from, relative to the repo root: core, generated lexicons, error classes. */
const ALLOWED_LOCAL = [/^src\/core\//, /^src\/lexicons\//, /^src\/errors\.ts$/]
/** npm packages core may import: pure hashing, and cron instants (schedule.ts: always given a currentDate, never its clock). */
const ALLOWED_PACKAGES = [/^@noble\/hashes(\/|$)/, /^cron-parser$/]

const forbiddenCode: [string, RegExp][] = [
  ['Date.now()', /\bDate\.now\s*\(/],
  ['new Date() without arguments', /new\s+Date\s*\(\s*\)/],
  ['Math.random()', /\bMath\.random\s*\(/],
  ['performance.now()', /\bperformance\.now\s*\(/],
  ['crypto.getRandomValues / randomUUID', /\b(getRandomValues|randomUUID)\s*\(/],
  ['setTimeout', /\bsetTimeout\s*\(/],
  ['setInterval', /\bsetInterval\s*\(/],
  ['setImmediate', /\bsetImmediate\s*\(/],
  ['process.*', /\bprocess\.(env|hrtime|argv|exit|nextTick)\b/],
  ['fetch()', /(^|[^.\w])fetch\s*\(/m],
  ['require()', /\brequire\s*\(/],
]

/** Every module specifier of `src`: static imports/exports (type-only too) and dynamic import(). */
function specifiers(src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  const out: string[] = []
  for (const m of code.matchAll(/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)) out.push(m[1]!)
  for (const m of code.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) out.push(m[1]!)
  for (const m of code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!)
  return out
}

/** What is wrong with `src` (the text of `file`, a path relative to the repo root). */
function violations(file: string, src: string): string[] {
  const found: string[] = []
  for (const spec of specifiers(src)) {
    if (spec.startsWith('.')) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts')
      if (!ALLOWED_LOCAL.some((re) => re.test(target))) found.push(`imports ${spec} (${target})`)
    } else if (spec.startsWith('node:')) {
      found.push(`imports ${spec} (a node: module)`)
    } else if (!ALLOWED_PACKAGES.some((re) => re.test(spec))) {
      found.push(`imports the package ${spec}`)
    }
  }
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  for (const [name, re] of forbiddenCode) if (re.test(code)) found.push(`uses ${name}`)
  return found
}

describe('src/core is pure', () => {
  test('the walk finds every core file', () => {
    expect(files).toContain('src/core/decide.ts')
    expect(files).toContain('src/core/eligibility.ts')
    expect(files.length).toBeGreaterThanOrEqual(15)
  })

  test.each(files)('%s', (file) => {
    expect(violations(file, readFileSync(path.join(ROOT, file), 'utf8'))).toEqual([])
  })

  test('core files do not import each other in a cycle', () => {
    const edges = new Map<string, string[]>()
    for (const file of files) {
      const deps = specifiers(readFileSync(path.join(ROOT, file), 'utf8'))
        .filter((s) => s.startsWith('.'))
        .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, '.ts'))
        .filter((t) => files.includes(t))
      edges.set(file, deps)
    }
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const visit = (f: string, stack: string[]): void => {
      if (state.get(f) === 'done') return
      if (state.get(f) === 'open') return void cycles.push([...stack.slice(stack.indexOf(f)), f].join(' -> '))
      state.set(f, 'open')
      for (const d of edges.get(f) ?? []) visit(d, [...stack, f])
      state.set(f, 'done')
    }
    for (const f of files) visit(f, [])
    expect(cycles).toEqual([])
  })

  test('the checker catches each kind of impurity (so a pass means something)', () => {
    const f = 'src/core/x.ts'
    expect(violations(f, `import { DockerRuntime } from '../adapters/docker/docker-runtime.js'`)).toEqual([
      'imports ../adapters/docker/docker-runtime.js (src/adapters/docker/docker-runtime.ts)',
    ])
    expect(violations(f, `import type { Scheduler } from '../services/scheduler.js'`)).toHaveLength(1)
    expect(violations(f, `export { x } from '../xrpc/server.js'`)).toHaveLength(1)
    expect(violations(f, `const c = await import('../client/commands.js')`)).toHaveLength(1)
    expect(violations(f, `import fs from 'node:fs'`)).toEqual(['imports node:fs (a node: module)'])
    expect(violations(f, `import { AtUri } from '@atproto/syntax'`)).toEqual(['imports the package @atproto/syntax'])
    expect(violations(f, `setTimeout(() => {}, 5)`)).toEqual(['uses setTimeout'])
    expect(violations(f, `const t = setInterval(tick, 1000)`)).toEqual(['uses setInterval'])
    expect(violations(f, `const now = Date.now()`)).toEqual(['uses Date.now()'])
    expect(violations(f, `if (process.env.X) {}`)).toEqual(['uses process.*'])
    // Allowed: core, generated lexicons, error classes, @noble/hashes; words in comments.
    expect(
      violations(
        f,
        [
          `import type { Did } from './types.js'`,
          `import * as W from '../lexicons/commune/scheduler/workload.js'`,
          `import { ConfigError } from '../errors.js'`,
          `import { sha256 } from '@noble/hashes/sha2.js'`,
          `// never setTimeout( here; Date.now() is a parameter`,
        ].join('\n'),
      ),
    ).toEqual([])
  })
})
