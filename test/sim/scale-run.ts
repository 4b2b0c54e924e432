// The full-size scale simulation (issue 16 part 5), too slow for CI: figures for bench/measured.md §17.
//   node --expose-gc --import tsx test/sim/scale-run.ts --peers 100 --workloads 10000 [--policy sampled|all-bid|both] [--check-peers 10]
import { REPORT_HEADER, reportLine, runScale, scaleDefaults, type ScaleReport } from './scale.js'

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}

const peers = Number(arg('peers', '100'))
const workloads = Number(arg('workloads', '10000'))
const policy = arg('policy', 'both')
const checkPeers = arg('check-peers', '')
// A peer's view bound in records (core/view.ts DEFAULT_MAX_RECORDS when not given): lower it to see
// a full view, raise it past ~20,000 live workloads at ~16-22 records each.
const viewMaxRecords = arg('view-max-records', '')
const gc = (globalThis as { gc?: () => void }).gc

function heap(): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

console.log(REPORT_HEADER)
for (const allBid of policy === 'both' ? [false, true] : [policy === 'all-bid']) {
  const before = heap()
  const { sim, report } = runScale(scaleDefaults(peers, workloads, { allBid, ...(checkPeers ? { checkPeers: Number(checkPeers) } : {}), ...(viewMaxRecords ? { viewMaxRecords: Number(viewMaxRecords) } : {}) }))
  const used = heap() - before
  const r: ScaleReport & { heapPerTracked?: number } = report
  console.log(reportLine(r))
  // Every peer tracks every workload (its own CommuneView): bytes per (peer, workload).
  console.log(`  heap after run: ${(used / 2 ** 20).toFixed(1)} MiB${gc ? '' : ' (no --expose-gc: rough)'}, ${Math.round(used / (peers * workloads))} B per tracked workload per peer (${sim.decisions} decisions)`)
  if (r.disagreements.length > 0) console.log(`  first disagreements: ${r.disagreements.slice(0, 3).join(' ; ')}`)
  // A full view drops records (a rejection says so): that, not the protocol, is then what the disagreements show.
  const full = [...sim.peers.values()].filter((p) => p.view.rejections().some((x) => /holds its limit/.test(x.reason)))
  const sizes = [...sim.peers.values()].map((p) => p.view.size().records)
  console.log(`  view records per peer: max ${Math.max(...sizes)}; peers whose view hit its bound: ${full.length}${full.length ? ` (first: ${full[0]!.view.rejections().find((x) => /holds its limit/.test(x.reason))!.reason.slice(0, 160)})` : ''}`)
}
