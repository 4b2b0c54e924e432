// BENCHMARKS.md from one run's results: the figures, the ratios against the baselines measured in
// the same run, the targets, and for every missed target the stage that costs the time.
import { renderBatch } from './batch-report.js'
import { renderEndpoint } from './endpoint-report.js'
import type { BenchResults, BurstRun } from './harness.js'
import type { LatencySample } from './meshlet-phases.js'
import { fmtMs, fmtRatio, ratio, summarize, type Summary } from './stats.js'

type At = LatencySample['at']
type Point = keyof At | 't0'

interface StageDef {
  key: string
  label: string
  from: Point
  to: Point
  what: string
  /** What would remove or shrink this stage. */
  remedy: string
}

/** The path of one workload, in order; each stage runs from the previous milestone to the next. */
export const STAGE_DEFS: StageDef[] = [
  {
    key: 'firehose',
    label: 'publish + firehose',
    from: 't0',
    to: 'seen',
    what: "createRecord commits on the owner's PDS, the PDS firehose delivers the commit, the winner verifies and decodes it",
    remedy:
      "the stock PDS finds new commits by polling its database and, while idle, backs off to one poll per second, so on a quiet PDS a commit reaches the firehose 0-1000 ms after it was written (compare the 'PDS woken on commit' rows). A hint removes it (issue 16: `meshlet submit` tells the owner's meshlets, which fetch and verify the record at once; compare the 'createRecord + notify' rows), as would a PDS that woke its firehose when a commit is sequenced; a relay would add a hop, not remove one",
  },
  {
    key: 'bid',
    label: 'bid written',
    from: 'seen',
    to: 'bid',
    what: "eligibility + feasibility + priority, then the bid record written to the winner's own PDS (batched applyWrites)",
    remedy:
      "one write round trip to the peer's own PDS plus one scheduling pass; a burst's bids already share one applyWrites commit per tick",
  },
  {
    key: 'close',
    label: 'window close',
    from: 'bid',
    to: 'closed',
    what: "waiting for every other eligible peer's bid to arrive over the firehose (early close)",
    remedy:
      "the other peers' bids each cross their own PDS's firehose (with the same idle back-off on a stock PDS). The window already closes the moment the last bid arrives; only a direct peer-to-peer hint beside the bid record could shorten this, and the protocol keeps bids as public records only",
  },
  {
    key: 'claim',
    label: 'claim written',
    from: 'closed',
    to: 'claimed',
    what: 'the winner writes its claim (status record, state pending)',
    remedy:
      "one write round trip to the peer's own PDS. Starting the container while the claim is still in flight (and stopping it if the write fails) would take it off the path; not done here, because the claim fields must survive the status updates that follow, which needs the status reporter to track claims in flight",
  },
  {
    key: 'dispatch',
    label: 'runner: dispatch + create',
    from: 'claimed',
    to: 'created',
    what: "runner pass: list this meshlet's containers, check the image (pull when missing), create the container",
    remedy:
      "engine round trips (list, image inspect, create); the 'starting' status is written only when 'running' does not follow within 1 s",
  },
  {
    key: 'start',
    label: 'container start',
    from: 'created',
    to: 'started',
    what: 'the engine starts the container (runc, bridge network, docker-init)',
    remedy:
      "the engine's own cost (compare the raw dockerode floor); under a burst the engine serialises much of it on 2 cores. Small CPU limits no longer stretch it (see Notes)",
  },
]

/** After the container runs: not part of the latency, shown for completeness. */
const AFTER: StageDef = { key: 'status', label: 'running status written', from: 'started', to: 'reported', what: "status record 'running'", remedy: '' }

function pointOf(at: At, p: Point): number | undefined {
  return p === 't0' ? 0 : at[p]
}

export function stageSummaries(samples: At[], defs: StageDef[] = [...STAGE_DEFS, AFTER]): { def: StageDef; s: Summary }[] {
  return defs.map((def) => {
    const xs: number[] = []
    for (const at of samples) {
      const a = pointOf(at, def.from)
      const b = pointOf(at, def.to)
      if (a !== undefined && b !== undefined) xs.push(b - a)
    }
    return { def, s: summarize(xs) }
  })
}

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`
}

function check(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'met' : '**missed**'
}

function medianOf(runs: BurstRun[] | undefined): number {
  return runs && runs.length ? summarize(runs.map((r) => r.allMs)).p50 : Number.NaN
}

interface Target {
  what: string
  value: string
  target: string
  ok: boolean | undefined
  /** Anchor of the section that explains a miss. */
  see: string
}

function targets(r: BenchResults): Target[] {
  const out: Target[] = []
  if (r.latency) {
    const s = summarize(r.latency.swarm)
    // notify (issue 16): the row `meshlet submit` gives (createRecord + notify), on the stock PDS
    for (const [label, samples] of [['', r.latency.meshlet], [' (createRecord + notify, as meshlet submit; stock PDS)', r.latency.meshletNotify ?? []], [' (PDS woken on commit)', r.latency.meshletWoken]] as const) {
      if (!samples.length) continue
      const m = summarize(samples.map((x) => x.totalMs))
      const p50 = ratio(m.p50, s.p50)
      const p95 = ratio(m.p95, s.p95)
      out.push({ what: `latency p50 vs Swarm p50${label}`, value: `${fmtMs(m.p50)} vs ${fmtMs(s.p50)} = ${fmtRatio(p50)}`, target: '<= 0.80x', ok: Number.isFinite(p50) ? p50 <= 0.8 : undefined, see: '#6-where-the-time-goes-stages-of-the-latency-path' })
      out.push({ what: `latency p95 vs Swarm p95${label}`, value: `${fmtMs(m.p95)} vs ${fmtMs(s.p95)} = ${fmtRatio(p95)}`, target: '<= 1.00x', ok: Number.isFinite(p95) ? p95 <= 1.0 : undefined, see: '#6-where-the-time-goes-stages-of-the-latency-path' })
    }
    // Not a target: the engine's own create + start of meshlet's hardened container, the floor under the latency targets (section 1).
    if (r.latency.rawHardened?.length) {
      const h = summarize(r.latency.rawHardened)
      out.push({ what: "(floor) raw dockerode starting meshlet's hardened container, p50 vs Swarm's whole p50", value: `${fmtMs(h.p50)} vs ${fmtMs(s.p50)} = ${fmtRatio(ratio(h.p50, s.p50))}`, target: 'none: the engine alone', ok: undefined, see: '#1-latency' })
    }
  }
  if (r.burst) {
    const m = medianOf(r.burst.meshlet)
    const s = medianOf(r.burst.swarm)
    const raw = medianOf(r.burst.raw)
    out.push({ what: `burst of ${r.options.burst} vs Swarm`, value: `${fmtMs(m)} vs ${fmtMs(s)} = ${fmtRatio(ratio(m, s))}`, target: '<= 1.00x', ok: Number.isFinite(ratio(m, s)) ? ratio(m, s) <= 1.0 : undefined, see: '#2-burst' })
    out.push({ what: `burst of ${r.options.burst} vs raw dockerode`, value: `${fmtMs(m)} vs ${fmtMs(raw)} = ${fmtRatio(ratio(m, raw))}`, target: '<= 1.20x', ok: Number.isFinite(ratio(m, raw)) ? ratio(m, raw) <= 1.2 : undefined, see: '#2-burst' })
  }
  for (const w of r.window ?? []) {
    const s = summarize(w.samples.map((x) => x.totalMs))
    out.push({ what: `window path p50, window ${fmtMs(w.windowMs)}${w.woken ? ' (PDS woken on commit)' : ''}`, value: fmtMs(s.p50), target: `<= ${fmtMs(w.windowMs + 500)}`, ok: s.n ? s.p50 <= w.windowMs + 500 : undefined, see: '#3-window-path' })
  }
  const floor = r.cli?.rows.find((x) => !x.tsx)?.compiled.p50
  for (const c of (r.cli?.rows ?? []).filter((x) => x.tsx)) {
    const over = floor === undefined ? '' : ` (bare \`node -e 0\`: ${fmtMs(floor)})`
    out.push({ what: `CLI start p50: \`${c.command}\``, value: `${fmtMs(c.compiled.p50)}${over}`, target: '<= 300 ms', ok: c.compiled.n ? c.compiled.p50 <= 300 : undefined, see: '#8-cli-start' })
  }
  if (r.footprint?.rows[0]) {
    out.push({ what: 'idle peer RSS', value: `${r.footprint.rows[0].idleRssMb.toFixed(0)} MB`, target: '<= 150 MB', ok: r.footprint.rows[0].idleRssMb <= 150, see: '#5-footprint' })
  }
  return out
}

function stageTable(samples: At[]): string[] {
  const sums = stageSummaries(samples)
  const total = summarize(samples.map((a) => a.engine))
  const lines = [row(['stage', 'from -> to', 'p50', 'p95', 'share of p50 total', 'what happens']), row(['---', '---', '---:', '---:', '---:', '---'])]
  for (const { def, s } of sums) {
    const share = def === AFTER ? '(after)' : `${Math.round((s.p50 / total.p50) * 100)} %`
    lines.push(row([def.label, `${def.from} -> ${def.to}`, fmtMs(s.p50), fmtMs(s.p95), share, def.what]))
  }
  lines.push(row(['**total** (engine reports the container started)', 't0 -> engine', `**${fmtMs(total.p50)}**`, `**${fmtMs(total.p95)}**`, '', '']))
  return lines
}

/** The stages that cost the most (by p50), with what would remove them. */
function slowest(samples: At[], k = 2): string[] {
  const sums = stageSummaries(samples, STAGE_DEFS)
    .filter((x) => x.s.n > 0)
    .sort((a, b) => b.s.p50 - a.s.p50)
    .slice(0, k)
  return sums.map(({ def, s }) => `- **${def.label}** (p50 ${fmtMs(s.p50)}): ${def.what}. What would remove it: ${def.remedy}.`)
}

function summaryTable(name: string, xs: number[]): string {
  const s = summarize(xs)
  return row([name, s.n, fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.min), fmtMs(s.max)])
}

export function renderMarkdown(r: BenchResults, command: string, notes: string[] = []): string {
  const L: string[] = []
  const o = r.options
  const m = r.machine
  L.push('# meshlet benchmarks', '')
  L.push('How fast a published workload becomes a running container, and how well that holds under bursts, against Docker Swarm and raw dockerode on the same engine, measured side by side in one run.', '')
  L.push('```', command, '```', '')
  L.push(`Run ${r.startedAt}, ${r.durationS} s. Regenerate with \`npm run bench\` (or \`bash scripts/bench.sh\`, which installs what is missing first); \`npm run bench -- --quick\` for a smaller n. Percentiles are nearest-rank (every figure is a measured value).`, '')
  L.push('## Machine', '')
  L.push(row(['', '']), row(['---', '---']))
  L.push(row(['CPUs', `${m.cpus} x ${m.cpuModel}`]))
  L.push(row(['memory', `${m.memoryGiB} GiB`]))
  L.push(row(['OS / kernel', `${m.os} / ${m.kernel}`]))
  L.push(row(['Docker', `${m.docker} (API ${m.dockerApi}), ${m.storageDriver}, cgroup ${m.cgroup}`]))
  L.push(row(['Node', m.node]))
  L.push(row(['load average (1/5/15 min) at start / end', `${m.loadAtStart.join(' / ')}  →  ${r.loadAtEnd.join(' / ')}`]))
  L.push('')
  L.push(`The machine is shared: other test runs were using it at the same time (see the load average), which is why every comparison is a ratio of figures measured in the same run, with the contenders interleaved.`, '')
  L.push('Setup: PLC + 2 PDS in the bench process; 3 meshlet peers (ann, ben, cat), each the real binary (`bin/meshlet.mjs run`) in its own process, as on separate machines, with its real firehose subscriptions, Docker runtime and host probe (devnet peers ignore the load-average decline threshold: they all share this one host); the members live on 2 different PDSes; every workload is published with a plain `@atproto/api` AtpAgent `createRecord`. ' +
    `Image \`${r.image}\` for all three contenders (from the loopback registry, present locally, so nobody pulls). Workloads: \`sleep 3600\`, ${o.cpuMillis} millicores, ${o.memoryMb} MiB, replicas 1, bid window ${fmtMs(o.bidWindowMs)}. ` +
    'End point for every contender: the engine\'s `start` event for the container (Docker API state running), received on one event stream.', '')

  if (r.errors.length) {
    L.push('## Errors in this run', '', ...r.errors.map((e) => `- ${e}`), '')
  }

  L.push('## Targets', '')
  L.push(row(['measure', 'this run', 'target', 'result']), row(['---', '---', '---', '---']))
  const ts = targets(r)
  for (const t of ts) L.push(row([t.what, t.value, t.target, `${check(t.ok)}${t.ok === false ? ` ([why](${t.see}))` : ''}`]))
  L.push('')
  L.push('Targets measured by their own commands, further down: failover at defaults and the idle write budget (section 7), records per workload and the scale simulation (section 17), intake from a relay (section 18).', '')

  if (r.latency) {
    const lat = r.latency
    L.push('## 1. Latency', '')
    L.push(`One workload at a time, n = ${o.n} per contender, interleaved (the order rotates every round), after one warm-up of each. meshlet: all 3 peers answer, so the window closes early.`, '')
    L.push(row(['contender', 'n', 'p50', 'p95', 'min', 'max']), row(['---', '---:', '---:', '---:', '---:', '---:']))
    L.push(summaryTable('meshlet: `createRecord` -> container started', lat.meshlet.map((x) => x.totalMs)))
    if (lat.meshletNotify?.length) L.push(summaryTable('meshlet: `createRecord` + notify (as `meshlet submit`) -> container started', lat.meshletNotify.map((x) => x.totalMs))) // notify (issue 16)
    if (lat.meshletWoken.length) L.push(summaryTable('meshlet, PDS woken on commit (experiment, see below)', lat.meshletWoken.map((x) => x.totalMs)))
    if (lat.swarm.length) L.push(summaryTable('Swarm: `docker service create` (CLI) -> task container started', lat.swarm))
    L.push(summaryTable('raw dockerode: create + start -> started', lat.raw))
    if (lat.rawHardened?.length) L.push(summaryTable("raw dockerode, meshlet's hardened container (limits, read-only root, caps dropped, own bridge)", lat.rawHardened))
    L.push(summaryTable('(meshlet: `createRecord` round trip alone)', lat.meshlet.map((x) => x.publishMs)))
    L.push('')
    const ms = summarize(lat.meshlet.map((x) => x.totalMs))
    const ss = summarize(lat.swarm)
    const rs = summarize(lat.raw)
    if (lat.swarm.length) L.push(`Ratios: meshlet / Swarm p50 **${fmtRatio(ratio(ms.p50, ss.p50))}**, p95 **${fmtRatio(ratio(ms.p95, ss.p95))}**; meshlet / raw p50 ${fmtRatio(ratio(ms.p50, rs.p50))}; Swarm / raw p50 ${fmtRatio(ratio(ss.p50, rs.p50))}.`, '')
    else L.push(`Ratio: meshlet / raw p50 ${fmtRatio(ratio(ms.p50, rs.p50))} (Swarm not measured in this run).`, '')
    if (lat.rawHardened?.length) {
      const hs = summarize(lat.rawHardened)
      L.push(
        `The container meshlet starts is not the bare one: the same create + start with meshlet's create options (\`adapters/docker/container-spec.ts\`) on a bridge of its own, like an owner network, takes p50 ${fmtMs(hs.p50)} against the bare ${fmtMs(rs.p50)} (${fmtRatio(ratio(hs.p50, rs.p50))}). ` +
          `That floor alone is ${fmtRatio(ratio(hs.p50, ss.p50))} of Swarm's whole p50, whose task is a bare container; what meshlet adds above its own floor is the path before the start (stages below).`,
        '',
      )
    }
    const winners: Record<string, number> = {}
    for (const s of lat.meshlet) winners[s.winner] = (winners[s.winner] ?? 0) + 1
    L.push(`Winners: ${Object.entries(winners).map(([k, v]) => `${k} ${v}`).join(', ')}. Swarm's end point is the task's container start event, which comes slightly before Swarm reports the task \`running\`: if anything this favours Swarm.`, '')

    L.push('## 6. Where the time goes (stages of the latency path)', '')
    L.push("From the winner's stage timeline (`Meshlet.timeline`, monotonic timestamps taken on the peer) against t0 = the `createRecord` call. Each stage runs from the previous milestone to the next, so the stages add up to the total.", '')
    L.push(...stageTable(lat.meshlet.map((x) => x.at)), '')
    L.push('Slowest stages:', '', ...slowest(lat.meshlet.map((x) => x.at)), '')
    // notify (issue 16)
    if (lat.meshletNotify?.length) {
      const h = summarize(lat.meshletNotify.map((x) => x.totalMs))
      L.push('### The same path with hints (createRecord + notify, as `meshlet submit`)', '')
      L.push(
        "The client tells the owner's meshlets about the record directly (`farm.meshlet.notify`); each fetches it from the PDS with its proof (`com.atproto.sync.getRecord`), checks it and forwards the hint once to the others; every peer hints its bids and claims the same way. The stock PDS, same peers, interleaved with the samples above; the firehose still delivers everything and is deduplicated.",
        '',
      )
      L.push(`p50 ${fmtMs(h.p50)} (${fmtRatio(ratio(h.p50, ms.p50))} of the plain-createRecord p50), p95 ${fmtMs(h.p95)}.`, '')
      L.push(...stageTable(lat.meshletNotify.map((x) => x.at)), '')
      L.push('Slowest stages with hints:', '', ...slowest(lat.meshletNotify.map((x) => x.at)), '')
    }
    if (lat.meshletWoken.length) {
      const w = summarize(lat.meshletWoken.map((x) => x.totalMs))
      L.push('### The same path with the PDS woken on commit', '')
      L.push(
        "The stock PDS (`@atproto/pds` Sequencer) finds new commits by polling its database and backs off while idle (2, 4, 8 ... ms up to 1 s), so on a quiet PDS a commit reaches the firehose 0-1000 ms after it was written. The path crosses the firehose twice (the workload, then the other peers' bids). " +
          'For these samples the bench cuts the back-off short whenever a commit is sequenced (`bench/pds-wake.ts`), as a PDS that woke its firehose on every commit would (a busy PDS, whose poller never backs off, behaves the same). Same peers, same commune, interleaved with the samples above.',
        '',
      )
      L.push(`p50 ${fmtMs(w.p50)} (${fmtRatio(ratio(w.p50, ms.p50))} of the stock-PDS p50), p95 ${fmtMs(w.p95)}.`, '')
      L.push(...stageTable(lat.meshletWoken.map((x) => x.at)), '')
      L.push('Slowest stages with the PDS woken:', '', ...slowest(lat.meshletWoken.map((x) => x.at)), '')
    }
  }

  if (r.burst) {
    const b = r.burst
    L.push('## 2. Burst', '')
    L.push(`${o.burst} at once, ${o.burstReps} repetition(s) each, interleaved. meshlet: ${o.burst} \`createRecord\` calls in parallel spread over the 3 owners; Swarm: ${o.burst} \`createService\` API calls in parallel; raw: ${o.burst} dockerode create + start in parallel. Time from the first call until the engine reports the last container started.`, '')
    L.push(row(['contender', 'runs (all running after)', 'median', 'per-item p50 / p95 (pooled)']), row(['---', '---', '---:', '---']))
    const line = (name: string, runs: BurstRun[]) => {
      if (!runs.length) return
      const each = summarize(runs.flatMap((x) => x.each))
      L.push(row([name, runs.map((x) => fmtMs(x.allMs)).join(', '), `**${fmtMs(medianOf(runs))}**`, `${fmtMs(each.p50)} / ${fmtMs(each.p95)}`]))
    }
    line('meshlet', b.meshlet)
    line('Swarm', b.swarm)
    line('raw dockerode', b.raw)
    line("raw dockerode, meshlet's hardened container", b.rawHardened ?? [])
    L.push('')
    const mb = medianOf(b.meshlet)
    L.push(`Ratios (medians): meshlet / Swarm **${fmtRatio(ratio(mb, medianOf(b.swarm)))}**, meshlet / raw **${fmtRatio(ratio(mb, medianOf(b.raw)))}**, Swarm / raw ${fmtRatio(ratio(medianOf(b.swarm), medianOf(b.raw)))}.`, '')
    if (b.rawHardened?.length) L.push(`Against the floor of meshlet's own container (raw dockerode with meshlet's create options on a bridge of its own): meshlet / hardened raw **${fmtRatio(ratio(mb, medianOf(b.rawHardened)))}**, hardened / bare raw ${fmtRatio(ratio(medianOf(b.rawHardened), medianOf(b.raw)))}.`, '')
    const spread = b.meshlet.map((x) => Object.entries(x.perPeer ?? {}).map(([k, v]) => `${k} ${v}`).join(', '))
    const most = Math.max(...b.meshlet.map((x) => Math.max(...Object.values(x.perPeer ?? { none: 0 }))))
    L.push(
      `Containers per peer, per run: ${spread.map((s) => `(${s})`).join(' ')}. Placement follows the bids' priorities (fair-share balance + fit, where fit drops 10 points per replica a peer already has in hand: the burst spread term), here at most ${most} of ${o.burst} on one peer; each runner starts up to 8 at a time (\`--max-parallel-starts\`) and, with all peers on this one engine, the 'dispatch' stage below is mostly that queue waiting for the engine.`,
      '',
    )
    const at = b.meshlet.flatMap((x) => x.at ?? [])
    if (at.length) {
      L.push('Stages under the burst (all workloads of all meshlet runs, ms since the burst started):', '')
      L.push(...stageTable(at), '')
      L.push('Slowest stages under the burst:', '', ...slowest(at), '')
    }
  }

  if (r.window) {
    L.push('## 3. Window path', '')
    L.push("cat's peer stays up (its heartbeat keeps it eligible) but its scheduler is stopped, so it never answers: the window cannot close early and closes on its timeout. ann and ben bid.", '')
    L.push(row(['bid window', 'PDS', 'n', 'p50', 'p95', 'p50 - window', 'publish + firehose p50', 'close stage p50 (bid -> closed)']), row(['---:', '---', '---:', '---:', '---:', '---:', '---:', '---:']))
    for (const w of r.window) {
      const s = summarize(w.samples.map((x) => x.totalMs))
      const [fh, close] = stageSummaries(w.samples.map((x) => x.at), STAGE_DEFS.filter((d) => d.key === 'firehose' || d.key === 'close'))
      L.push(row([fmtMs(w.windowMs), w.woken ? 'woken on commit' : 'stock', s.n, fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.p50 - w.windowMs), fmtMs(fh!.s.p50), fmtMs(close!.s.p50)]))
    }
    L.push('')
    L.push('The window runs from the moment each peer first saw the record, so the latency is about publish + firehose + window + claim + start.', '')
    const floor = r.latency?.rawHardened?.length ? summarize(r.latency.rawHardened).p50 : undefined
    if (floor !== undefined) L.push(`Of the time past the window, the engine's create + start of meshlet's own container takes ${fmtMs(floor)} p50 in this run (section 1, the hardened raw floor), so a target of window + 500 ms is below what the engine alone needs here.`, '')
  }

  if (r.intake) {
    const i = r.intake
    L.push('## 4. Intake', '')
    L.push(`A peer of the real binary in its own process (dan) follows its PDS's firehose while ${i.commits} commits it does not care about are written there: ${i.commits - i.trackedOtherCollection} from ${i.unrelatedRepos} unrelated accounts, ${i.trackedOtherCollection} from a tracked member's repo in a collection meshlet ignores. Events = firehose sequence numbers the peer handled (its stored cursor). CPU = the peer process's user + system time (/proc, 10 ms ticks), minus its idle rate measured over ${fmtMs(r.options.idleMs)} just before (periodic sweeps included): a rough figure.`, '')
    L.push(row(['pass', 'events', 'seconds', 'events/s', 'CPU per event', 'peer CPU (share of one core)', 'lag after the last commit']), row(['---', '---:', '---:', '---:', '---:', '---:', '---:']))
    L.push(row(['live (peer following the firehose)', i.live.events, i.live.seconds.toFixed(1), Math.round(i.live.eventsPerS), `${Math.round(i.live.cpuMsPerEvent * 1000)} µs`, `${Math.round(i.live.cpuShare * 100)} %`, fmtMs(i.live.lagMs)]))
    L.push(row(['backlog (peer restarted from its cursor)', i.replay.events, i.replay.seconds.toFixed(2), Math.round(i.replay.eventsPerS), '', '', '']))
    L.push('')
    const capacity = i.live.cpuMsPerEvent > 0 ? Math.round(1000 / i.live.cpuMsPerEvent) : Number.NaN
    L.push(`Live, the peer keeps up with everything the PDS produces here (${Math.round(i.live.eventsPerS)} commits/s is the PDS's own write rate in this process, not the peer's limit). At ${Math.round(i.live.cpuMsPerEvent * 1000)} µs of CPU per unrelated event, one core would handle about ${Number.isFinite(capacity) ? capacity.toLocaleString('en') : 'n/a'} such events per second. The backlog pass is the peer's observed ceiling as the PDS serves its history: ${Math.round(i.replay.eventsPerS).toLocaleString('en')} events/s.`, '')
  }

  if (r.footprint) {
    const f = r.footprint
    L.push('## 5. Footprint', '')
    L.push(`VmRSS of the peer process, each the real CLI run as \`run\` in its own process (median of samples over 3 s). "Tracked": ${f.workloads} workloads published that no peer may run (constraint role \`none\`), so every peer tracks and evaluates them without starting ${f.workloads} containers on 2 cores. Both peers below ran side by side in the same commune.`, '')
    L.push(row(['peer', 'idle RSS', 'idle peak (VmHWM)', `RSS, ${f.workloads} tracked`, 'peak (VmHWM)', 'helper processes']), row(['---', '---:', '---:', '---:', '---:', '---:']))
    for (const x of f.rows) {
      L.push(row([x.label, `${x.idleRssMb.toFixed(0)} MB`, `${x.idlePeakMb.toFixed(0)} MB`, `${x.loadedRssMb.toFixed(0)} MB (${x.trackedWorkloads} known)`, `${x.loadedPeakMb.toFixed(0)} MB`, `${x.helperRssMb.toFixed(0)} MB`]))
    }
    L.push('')
  }

  if (r.endpoint) L.push(...renderEndpoint(r.endpoint))

  if (r.batch) L.push(...renderBatch(r.batch, o.batchN, o.batchHoldMs))

  if (r.cli) {
    L.push('## 8. CLI start', '')
    L.push(`Spawn to exit of the real \`meshlet\` binary (\`node bin/meshlet.mjs\`, which runs the compiled \`dist/\`), ${r.cli.n} runs each, interleaved with the same command run from TypeScript through tsx (\`node --import tsx src/cli.ts\`). The client command fails on its input before any network call, so this is the start cost alone. Measure it on its own: \`npm run bench -- --phases cli --no-swarm --out /tmp/cli.md\`.`, '')
    const floor = r.cli.rows.find((x) => !x.tsx)?.compiled.p50 ?? 0
    L.push(`On a loaded machine even \`node -e 0\` takes hundreds of milliseconds, so the last column, what meshlet adds to a bare node start, is the figure that carries over to other machines.`, '')
    L.push(row(['command', 'compiled p50', 'p95', 'through tsx p50', 'p95', 'compiled p50 minus bare node p50']), row(['---', '---:', '---:', '---:', '---:', '---:']))
    for (const c of r.cli.rows) L.push(row([`\`${c.command}\` (${c.label})`, fmtMs(c.compiled.p50), fmtMs(c.compiled.p95), c.tsx ? fmtMs(c.tsx.p50) : '', c.tsx ? fmtMs(c.tsx.p95) : '', c.tsx ? fmtMs(c.compiled.p50 - floor) : '']))
    L.push('')
  }

  if (notes.length) L.push('## Notes', '', ...notes, '')
  return L.join('\n')
}
