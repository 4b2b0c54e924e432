// liveness (issue 16 part 3): what an IDLE peer writes to its PDS at the default flags, for
// bench/measured.md: a commune of three peers with no workloads, watched for a few minutes after
// start-up; every write each peer's record writer made, by kind, extrapolated per hour and per day
// against bsky.social's 35,000 points a day (an update costs 2, a create 3).
//   npx tsx test/helpers/measure-idle-writes.ts [minutes, default 4]
import { DevCommune } from '../../src/devnet/commune.js'
import { NSID } from '../../src/core/types.js'
import { memoryLogger, recordFigures } from './faults.js'

process.env.MESHLET_FIGURES = '1'
const minutes = Number(process.argv[2] ?? 4)
const mem = memoryLogger()
// Defaults: no leaseMs or bidWindowMs given (the devnet's defaults are the CLI's).
const c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], logger: mem.logger })
try {
  await c.startAll()
  // Start-up writes (linkage, membership, first profile) are not idle: count from here.
  await new Promise((r) => setTimeout(r, 10_000))
  const peers = c.peers()
  const counts = peers.map(() => new Map<string, number>())
  const points = peers.map(() => 0)
  const seen = peers.map(() => new Set<string>())
  // Count each write that lands: wrap the writer's put (the one path profiles and suspicions take).
  peers.forEach((p, i) => {
    const put = p.writer.put.bind(p.writer)
    p.writer.put = (collection, rkey, value, opts) => {
      const key = `${collection}/${rkey}`
      const create = !seen[i]!.has(key) && collection === NSID.suspicion && !opts?.isNew ? true : Boolean(opts?.isNew)
      seen[i]!.add(key)
      counts[i]!.set(collection, (counts[i]!.get(collection) ?? 0) + 1)
      points[i]! += create ? 3 : 2
      return put(collection, rkey, value, opts)
    }
  })
  const t0 = Date.now()
  await new Promise((r) => setTimeout(r, minutes * 60_000))
  const ms = Date.now() - t0
  const perPeer = peers.map((p, i) => {
    const writes = [...counts[i]!.values()].reduce((a, b) => a + b, 0)
    const pointsPerDay = Math.round((points[i]! * 86_400_000) / ms)
    return {
      meshlet: p.settings.did,
      writes,
      byCollection: Object.fromEntries(counts[i]!),
      writesPerHour: Math.round((writes * 3_600_000) / ms),
      pointsPerDay,
      shareOfDailyBudgetPermille: Math.round((pointsPerDay * 1000) / 35_000),
      probes: p.liveness?.prober?.probes,
      suspicions: p.liveness?.prober?.suspicions,
      refutations: p.liveness?.service.refutations,
    }
  })
  for (const r of perPeer) console.log(`${r.meshlet}: ${r.writes} writes in ${Math.round(ms / 1000)} s (${JSON.stringify(r.byCollection)}), ${r.writesPerHour}/hour, ${r.pointsPerDay} points/day = ${r.shareOfDailyBudgetPermille / 10} % of 35,000; probes ${r.probes}, suspicions ${r.suspicions}, refutations ${r.refutations}`)
  await recordFigures('idle-writes-defaults', { watchedMs: ms, peers: perPeer, maxPointsPerDay: Math.max(...perPeer.map((r) => r.pointsPerDay)) })
} finally {
  await c.close()
}
process.exit(0)
