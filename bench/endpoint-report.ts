// BENCHMARKS.md section for the endpoint phase (issue 12): record -> a healthy endpoint answering,
// meshlet beside Swarm's service with a published port, as medians, p95s and ratios measured in the
// same run (never absolute pass/fail).
import { ENDPOINT_HEALTH, type EndpointResult, type EndpointSample } from './endpoint-phase.js'
import { fmtMs, fmtRatio, ratio, summarize } from './stats.js'

const row = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`

export function renderEndpoint(e: EndpointResult): string[] {
  const L: string[] = []
  const n = Math.max(e.meshlet.length, e.swarm.length)
  L.push('## 15. Record to a healthy endpoint (issue 12)', '')
  L.push(
    `One web service at a time, n = ${n} per contender, interleaved (the order rotates every round): busybox httpd serving a page on container port 8080, replicas 1, ` +
      `an http health check every ${fmtMs(ENDPOINT_HEALTH.intervalMs)} (timeout ${fmtMs(ENDPOINT_HEALTH.timeoutMs)}, retries ${ENDPOINT_HEALTH.retries}, no start period). ` +
      'meshlet: a workload record with `ports` and `health` published by a plain AtpAgent `createRecord`; a client reads the status record ' +
      '(`getRecord` in each runner\'s repo, the rkey derived from the workload URI) until it says `running` with an endpoint (a checked replica is running only once healthy), then GETs that URL. ' +
      'Swarm: `docker service create --publish mode=host,... --health-cmd "wget ..." --health-interval ...` (the CLI); the task container\'s health is polled until `healthy`, then the published port is GET. ' +
      'End point for both: the first HTTP 200 on loopback after healthy (polled every 50 ms).',
    '',
  )
  const parts: [string, (s: EndpointSample) => number][] = [
    ['record -> container started', (s) => s.startedMs],
    ['record -> healthy', (s) => s.healthyMs],
    ['**record -> first 200 from the healthy endpoint**', (s) => s.totalMs],
  ]
  L.push(row(['contender', 'measure', 'n', 'p50', 'p95', 'min', 'max']), row(['---', '---', '---:', '---:', '---:', '---:', '---:']))
  for (const [who, xs] of [['meshlet', e.meshlet], ['Swarm', e.swarm]] as const) {
    if (!xs.length) continue
    for (const [label, f] of parts) {
      const s = summarize(xs.map(f))
      L.push(row([who, label, s.n, fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.min), fmtMs(s.max)]))
    }
  }
  L.push('')
  if (e.meshlet.length && e.swarm.length) {
    const m = summarize(e.meshlet.map((s) => s.totalMs))
    const w = summarize(e.swarm.map((s) => s.totalMs))
    const mh = summarize(e.meshlet.map((s) => s.healthyMs - s.startedMs))
    const wh = summarize(e.swarm.map((s) => s.healthyMs - s.startedMs))
    L.push(`Ratios, record -> first 200 from the healthy endpoint: meshlet / Swarm p50 **${fmtRatio(ratio(m.p50, w.p50))}**, p95 **${fmtRatio(ratio(m.p95, w.p95))}**. Container started -> healthy, p50: meshlet ${fmtMs(mh.p50)}, Swarm ${fmtMs(wh.p50)}.`, '')
  }
  const stages = stageRows(e.meshlet)
  if (stages.length) {
    L.push("Where meshlet's time goes (the holder's stage marks, `Meshlet.timeline`, against t0 = the `createRecord` call; each stage from the previous mark to the next):", '')
    L.push(row(['stage', 'p50', 'p95']), row(['---', '---:', '---:']))
    for (const [label, xs] of stages) {
      const s = summarize(xs)
      L.push(row([label, fmtMs(s.p50), fmtMs(s.p95)]))
    }
    L.push('')
  }
  const winners: Record<string, number> = {}
  for (const s of e.meshlet) winners[s.winner] = (winners[s.winner] ?? 0) + 1
  if (e.meshlet.length) L.push(`meshlet holders: ${Object.entries(winners).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '')
  return L
}

/** Stage durations of meshlet's samples that carry every mark: publish to seen, bid, window close, claim, runner, engine start, first healthy read, first 200. */
function stageRows(xs: EndpointSample[]): [string, number[]][] {
  const full = xs.filter((s) => ['seen', 'bid', 'closed', 'claimed', 'created', 'started'].every((k) => typeof s.at?.[k as keyof typeof s.at] === 'number'))
  if (!full.length) return []
  const d = (f: (s: EndpointSample) => number): number[] => full.map(f)
  return [
    ['publish + firehose (t0 -> seen)', d((s) => s.at!.seen!)],
    ['bid written (seen -> bid)', d((s) => s.at!.bid! - s.at!.seen!)],
    ['window close (bid -> closed)', d((s) => s.at!.closed! - s.at!.bid!)],
    ['claim written (closed -> claimed)', d((s) => s.at!.claimed! - s.at!.closed!)],
    ['runner: image check, host ports, create (claimed -> created)', d((s) => s.at!.created! - s.at!.claimed!)],
    ['container start, ports published (created -> started)', d((s) => s.at!.started! - s.at!.created!)],
    ['health check passes, running status read by the client (started -> healthy)', d((s) => s.healthyMs - s.at!.started!)],
    ['first 200 from the URL (healthy -> 200)', d((s) => s.totalMs - s.healthyMs)],
  ]
}
