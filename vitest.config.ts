import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // (Which files: each project below says.)
    // Integration files boot PLC + PDS + dockerd work; on 2 cores, two files at a time is the sweet spot.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    // CI only: one retry for the timing-sensitive integration assertions that fail under a loaded
    // 2-core machine (last rehearsal: the drain hand-over and the rolling update's mixed-version
    // sample, each passing in the rehearsal before). A retried test is printed as such; the flakes
    // are listed as open work, not hidden.
    retry: process.env.CI ? 1 : 0,
    hookTimeout: 60_000,
    // The retry reporter prints the error of an attempt that a retry then passed (test/helpers/retry-reporter.ts).
    reporters: ['default', './test/helpers/retry-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts', '!test/integration/**'] },
      },
      {
        // Every integration file imports the same heavy graph (@atproto/pds alone is ~3 s of CPU):
        // in a fresh worker per file that was 4-7 s per file, ~45 times. These files share no
        // state (each starts and closes its own devnet, containers and chains carry its own
        // names) and mock nothing, so a worker runs one after another and evaluates it once.
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], isolate: false },
      },
    ],
  },
})
