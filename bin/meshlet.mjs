#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx), so there is no build step between an edit and a run.
import v8 from 'node:v8'
// A peer is a long-lived daemon with a small live heap: a 1 MiB young generation (V8's default
// grows it to 16 MiB) keeps an idle peer near 150 MB RSS instead of ~200 MB, for a little more
// scavenging work (BENCHMARKS.md, footprint). Set before anything allocates much.
if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=1')
const { register } = await import('tsx/esm/api')
register()
await import('../src/cli.ts')
