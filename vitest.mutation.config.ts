import { defineConfig } from 'vitest/config'

// The tests Stryker runs against each mutant of src/core (see stryker.config.mjs): the core suite
// and the fast unit tests that import core. Left out: the purity test (it reads the sources, which
// Stryker rewrites), the intake liveness simulation (test/unit/liveness.test.ts, ~14 s per run on
// a loaded box; core/liveness.ts has its own test), the intake fuzz (30 s) and the sims and
// integration tests (minutes each).
export default defineConfig({
  test: {
    include: [
      'test/core/**/*.test.ts',
      'test/unit/status-lease.test.ts',
      'test/unit/decode.test.ts',
      'test/unit/explain.test.ts',
      'test/unit/prestart.test.ts',
    ],
    exclude: ['test/core/purity.test.ts'],
    // One process re-runs the files for every mutant; re-importing the module graph each time
    // (vitest's default isolation) is most of the cost. Stryker switches mutants at run time.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
