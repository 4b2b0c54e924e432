// Failover with the DEFAULT lease (15 s), for docs/reliability.md: too slow for the test suite, so a
// script. Writes its figures to bench/results/failover.json.
//   npx tsx test/helpers/measure-failover.ts [runs per variant, default 2]
import { RUN_OPTIONS } from '../../src/config.js'
import { runFailoverScenario } from './failover-scenario.js'
import { recordFigures } from './faults.js'

process.env.MESHLET_FIGURES = '1'
const DEFAULTS = { leaseMs: Number(RUN_OPTIONS.leaseMs.default) }
const runs = Number(process.argv[2] ?? 2)
for (const keepStaleCopy of [false, true]) {
  const results = []
  for (let i = 0; i < runs; i++) {
    const r = await runFailoverScenario({ leaseMs: DEFAULTS.leaseMs, keepStaleCopy, settleMs: 10_000 })
    console.log(`${keepStaleCopy ? 'laptop sleeps' : 'machine dies'} #${i + 1}: failover ${r.failoverMs} ms (claim ${r.claimMs} ms), peak copies ${r.peakCopies}, final ${r.finalCopies}`)
    results.push({ deathReason: r.deathReason, failoverMs: r.failoverMs, claimMs: r.claimMs, peakCopies: r.peakCopies, transientDuplicates: r.transientDuplicates, staleCopyGoneMs: r.staleCopyGoneMs, finalCopies: r.finalCopies, peakAfterReturn: r.peakAfterReturn })
  }
  const f = results.map((x) => x.failoverMs).sort((a, b) => a - b)
  await recordFigures(`failover-${keepStaleCopy ? 'laptop-sleeps' : 'machine-dies'}-default-lease`, {
    leaseMs: DEFAULTS.leaseMs,
    // liveness (issue 16 part 3): an idle or service-only peer beats every third of the fallback lease
    fallbackLeaseMs: Number(RUN_OPTIONS.fallbackLeaseMs.default),
    heartbeatEveryMs: Math.floor(Number(RUN_OPTIONS.fallbackLeaseMs.default) / 3),
    probeMs: Number(RUN_OPTIONS.probeMs.default),
    probeTimeoutMs: Number(RUN_OPTIONS.probeTimeoutMs.default),
    suspicionConfirmMs: Number(RUN_OPTIONS.suspicionConfirmMs.default),
    runs: results,
    failoverMinMs: f[0],
    failoverMaxMs: f[f.length - 1],
    maxTransientDuplicates: Math.max(...results.map((x) => x.transientDuplicates)),
    lost: results.filter((x) => x.finalCopies !== 1).length,
  })
}
process.exit(0)
