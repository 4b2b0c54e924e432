import { statSync } from 'node:fs'
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * Stryker stops a mutant's run at its first failing test (bail), so order matters: the file that
 * killed the last mutant first (mutants of one source file die to the same tests), then the
 * smallest files (the subject tests, e.g. test/core/bid-verify.test.ts) before the big property
 * suites. Vitest's default runs the slowest first, which made every killed mutant pay for them.
 */
class KillFastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const size = new Map(files.map((f) => [f.moduleId, statSync(f.moduleId).size]))
    const failed = (f: TestSpecification) => (this.ctx.cache.getTestSpecificationResult(f)?.failed ? 0 : 1)
    return [...files].sort((a, b) => failed(a) - failed(b) || size.get(a.moduleId)! - size.get(b.moduleId)!)
  }
}

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
    sequence: { sequencer: KillFastSequencer },
    setupFiles: ['test/helpers/mutation-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
