// Mutation testing of the scheduling core: `npm run mutate` (all of src/core) or
// `npm run mutate -- --mutate src/core/placement.ts` (one file). Slow (minutes to an hour on a
// shared 2-core box), so not part of `npm test`; see BENCHMARKS.md "Mutation testing".
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  // Pure code only; the generated lexicon types live in src/lexicons and are never mutated.
  mutate: ['src/core/**/*.ts', '!src/core/**/*.d.ts'],
  // Each mutant runs only the tests that covered its line.
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants, regexes) need the whole suite per mutant: ~15 % of the
  // mutants for ~85 % of the time. Skipped (reported as ignored, outside the score): protocol
  // constants and module-level regexes (the image-reference grammar) are not measured here.
  ignoreStatic: true,
  // The machine has 2 cores shared with other work.
  concurrency: 2,
  // Re-running after a small change only re-tests the mutants whose code or covering tests
  // changed. The cache is a local artefact (it depends on every other branch's edits to core), so
  // it lives with the reports, which are gitignored.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // The sandbox needs only the sources, tests and configs; .tools is a symlink to the shared
  // toolchain (a directory Stryker cannot copy), the rest is large and irrelevant (examples/ stays:
  // a unit test reads it).
  ignorePatterns: ['/.tools', '/.data', '/.meshlet-dev', '/dist', '/bench', '/deploy', '/docs', '/test/integration', '/test/serial', '/test/sim', '*.log', '/package-lock.json'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  timeoutMS: 10_000,
  thresholds: { high: 90, low: 80, break: null },
}
