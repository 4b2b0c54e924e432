// `meshlet ls | status | logs | rm`: the owner's repo says what workloads exist, a meshlet says
// their state. Failures read as failures: a failed replica with no live one makes the workload
// `failed` with the replica's reason in full, never "waiting".
import { AtUri } from '@atproto/syntax'
import type { Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { MeshletCallError, UsageError } from './errors.js'
import type { WorkloadStatusOutput } from './meshlet-client.js'
import {
  describeCallError,
  EXIT,
  fail,
  listAllRecords,
  mapLimit,
  ok,
  pds,
  recordExists,
  run,
  type ClientContext,
  type CommandResult,
  type MeshletChoice,
  type OutputOptions,
} from './context.js'
import { firstAnswering, resolveWorkload, statusFromCluster } from './resolve.js'
import { logSources } from './log-sources.js'
import { formatFields, formatTable } from './table.js'

interface LsRow {
  uri: string
  rkey: string
  name: string
  image: string
  replicas: number
  state: string
  phase?: string
  running: number
  meshlets: string[]
  problem?: string
  /** Services (issue 12, apps): the live replicas' endpoints. */
  endpoints?: { meshlet: string; name: string; url: string }[]
}

/** `meshlet ls`: the caller's workloads (from its repo) with their state (from one meshlet). */
export async function cmdLs(ctx: ClientContext, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const records = await listAllRecords(ctx, ctx.did, NSID.workload)
    const asked = await firstAnswering(ctx, opts.meshlet, (m) => ctx.client.listWorkloads(m, { owner: ctx.did, limit: 1 }))
    const rows: LsRow[] = await mapLimit(records, 8, async (r) => {
      const v = r.value as { name?: unknown; image?: unknown; replicas?: unknown }
      const row: LsRow = {
        uri: r.uri,
        rkey: new AtUri(r.uri).rkey,
        name: typeof v.name === 'string' ? v.name : '?',
        image: typeof v.image === 'string' ? v.image : '?',
        replicas: typeof v.replicas === 'number' ? v.replicas : 0,
        state: 'unknown',
        running: 0,
        meshlets: [],
      }
      if (!asked.meshlet) return row
      try {
        const s = await ctx.client.getWorkloadStatus(asked.meshlet, r.uri)
        const live = liveReplicas(s)
        Object.assign(row, { state: overallState(s), phase: s.phase, running: Math.min(live.length, row.replicas), meshlets: live.map((p) => p.meshlet), problem: problemOf(s) })
        const endpoints = live.flatMap((p) => (p.endpoints ?? []).map((e) => ({ meshlet: p.meshlet, name: e.name, url: e.url })))
        if (endpoints.length) row.endpoints = endpoints
      } catch (err) {
        const unseen = err instanceof MeshletCallError && err.error === 'WorkloadNotFound'
        row.state = unseen ? 'unseen' : 'error'
        row.problem = unseen ? 'not seen by this meshlet yet' : describeCallError(err)
      }
      return row
    })
    if (opts.json) return { ...ok({ meshlet: asked.meshlet ?? null, note: asked.note, workloads: rows }), exitCode: asked.meshlet || rows.length === 0 ? EXIT.ok : EXIT.failed }
    if (rows.length === 0) return ok('no workloads in your repo; submit one with `meshlet submit <file>`')
    // PROBLEM is last and never cut: the reason is what a person needs to act on.
    // ENDPOINTS (issue 12) only when some workload publishes ports: other listings stay as they were.
    const withEndpoints = rows.some((r) => r.endpoints?.length)
    const table = formatTable(
      ['ID', 'NAME', 'STATE', 'RUNNING', 'IMAGE', ...(withEndpoints ? ['ENDPOINTS'] : []), 'PROBLEM'],
      rows.map((r) => [r.rkey, r.name, r.state, `${r.running}/${r.replicas}`, r.image, ...(withEndpoints ? [endpointsText(r.endpoints)] : []), r.problem]),
      { align: ['left', 'left', 'left', 'right'], maxWidth: [undefined, 32, undefined, undefined, 48, undefined, undefined] },
    )
    // The records are known, the state is not: show what there is, but it is a failure (exit 1).
    if (!asked.meshlet) return { text: `${table}\nerror: no meshlet answered, so the state is unknown: ${asked.note}`, exitCode: EXIT.failed }
    return ok(`${table}\n(state as seen by ${asked.meshlet})`)
  })
}

/**
 * Replicas that really run: state running, one per meshlet, and not held by a meshlet the
 * decision no longer counts (a dead holder's last record still says running until it is replaced).
 */
export function liveReplicas(s: WorkloadStatusOutput): WorkloadStatusOutput['replicas'] {
  const notWinning = new Set(s.bids.filter((b) => b.outcome !== 'won').map((b) => b.meshlet))
  const winning = new Set(s.bids.filter((b) => b.outcome === 'won').map((b) => b.meshlet))
  const seen = new Set<string>()
  return s.replicas.filter((r) => {
    if (r.state !== 'running' || seen.has(r.meshlet)) return false
    if (notWinning.has(r.meshlet) && !winning.has(r.meshlet)) return false
    seen.add(r.meshlet)
    return true
  })
}

/**
 * The workload's state across the commune, from its replicas: a meshlet's own `state` is only its
 * view ("elsewhere" on a meshlet that lost the bid), which is not what a person asks about. A
 * failed replica with nothing live or on its way is `failed`, not `queued`: nobody is coming.
 */
export function overallState(s: WorkloadStatusOutput): string {
  if (s.valid === false) return s.state
  if (liveReplicas(s).length > 0) return 'running'
  // A replica retrying after a failed pull/create is failing, not on its way: it shows as failed.
  const trying = new Set(s.replicas.filter((r) => failureOf(r) === undefined).map((r) => r.state))
  for (const st of ['paused', 'starting', 'pulling', 'pending']) if (trying.has(st)) return st
  if (s.replicas.some((r) => failureOf(r) !== undefined)) return 'failed'
  if (s.phase === 'queued' || s.phase === 'bidding') return s.phase
  if (trying.has('exited')) return 'exited'
  return s.state
}

/** The start-retry messages of a peer (core/restart.ts prestartDecision): the reason follows them. */
const RETRYING = /^retrying (?:pull|create) in [^:]*: /
const START_FAILED = /^start failed: (?:pull|create) failed \d+ times: /

/**
 * Why a replica failed, when it did: a failed replica's message; or, for a pull/create that failed
 * and is being retried here or was handed to the next meshlet ("start failed: ..."), the error itself.
 */
export function failureOf(r: { state: string; message?: string }): string | undefined {
  const m = r.message ?? ''
  if (r.state === 'failed') return m || 'failed without a message'
  if (r.state === 'stopped' && START_FAILED.test(m)) return `${m.replace(START_FAILED, '')} (given up here; other meshlets try in turn)`
  if ((r.state === 'pulling' || r.state === 'starting') && RETRYING.test(m)) return `${m.replace(RETRYING, '')} (retrying)`
  return undefined
}

/** The reason to show: a failed replica's message first (pull error, crash loop, refused create). */
export function problemOf(s: WorkloadStatusOutput): string | undefined {
  if (overallState(s) === 'failed') {
    const reasons = [...new Set(s.replicas.map(failureOf).filter((x): x is string => x !== undefined))]
    if (reasons.length > 0) return reasons.join('; ')
  }
  return s.problem
}

/** `meshlet status <uri|id|name>`: state, where replicas run, and every bid with why it won or lost. */
export async function cmdStatus(ctx: ClientContext, input: string, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = await resolveWorkload(ctx, input)
    const { meshlet, status } = await statusFromCluster(ctx, target, opts.meshlet)
    if (opts.json) return ok({ meshlet, ...status })
    return ok(renderStatus(meshlet, status))
  })
}

function renderStatus(meshlet: Did, s: WorkloadStatusOutput): string {
  const parts: string[] = []
  parts.push(
    formatFields([
      ['workload', s.uri],
      ['name', s.local?.name],
      ['state', overallState(s)],
      ['phase', s.phase],
      ['valid', s.valid === undefined ? undefined : s.valid ? 'yes' : 'no'],
      ['problem', problemOf(s)],
      ['asked', meshlet],
      ['its state', s.state],
      ['its bid', s.self ? (s.self.reason.startsWith(`${s.self.outcome}:`) ? s.self.reason : `${s.self.outcome}: ${s.self.reason}`) : undefined],
    ]),
  )
  parts.push('', 'REPLICAS')
  parts.push(
    s.replicas.length
      ? formatTable(
          // ENDPOINTS (issue 12) only when a replica has some.
          ['MESHLET', 'STATE', 'CONTAINER', 'UPDATED', ...(s.replicas.some((r) => r.endpoints?.length) ? ['ENDPOINTS'] : []), 'MESSAGE'],
          s.replicas.map((r) => [r.meshlet, r.state, r.containerId?.slice(0, 12), r.updatedAt, ...(s.replicas.some((x) => x.endpoints?.length) ? [endpointsText(r.endpoints)] : []), r.message]),
        )
      : '(none placed)',
  )
  parts.push('', 'BIDS')
  parts.push(
    s.bids.length
      ? formatTable(
          ['MESHLET', 'PRIORITY', 'OUTCOME', 'REASON'],
          s.bids.map((b) => [b.meshlet, b.priority, b.outcome, b.reason]),
          { align: ['left', 'right'] },
        )
      : '(no bids yet)',
  )
  // when (issue 14): a scheduled workload's latest runs
  if (s.runs) {
    parts.push('', 'RUNS')
    parts.push(s.runs.length ? formatTable(['INSTANT', 'STATE', 'MESHLET', 'EXIT', 'MESSAGE'], s.runs.map((r) => [r.instant, r.state, r.meshlet, r.exitCode, r.message])) : '(no instant has come yet)')
  }
  return parts.join('\n')
}

export interface LogsOptions extends OutputOptions, MeshletChoice {
  /** Lines per replica (1..10000). Default 200. */
  tail?: number
}

/**
 * `meshlet logs <uri|id|name>`: finds the meshlets holding replicas (from status) and asks each
 * for its tail. When there is nothing to show it says why, and exits 1 unless a container runs
 * (a running container that has printed nothing yet is not a failure).
 */
export async function cmdLogs(ctx: ClientContext, input: string, opts: LogsOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 1 || opts.tail > 10_000)) {
      throw new UsageError(`tail must be a whole number from 1 to 10000, got ${opts.tail}`)
    }
    const target = await resolveWorkload(ctx, input)
    const { status } = await statusFromCluster(ctx, target, opts.meshlet)
    // Only replicas that have (or had) a container: a claim still pulling or one that lost its race gets a note, not an empty section.
    const { holders, notes: skipped } = logSources(status.replicas)
    if (holders.length === 0) {
      const state = overallState(status)
      const why = problemOf(status)
      const what = state === 'failed' ? `${input} failed before any container ran: ${why ?? 'no reason given'}` : `no replica of ${input} has a container yet (state: ${state}${why ? `: ${why}` : ''})`
      return fail(`no logs: ${what}; \`meshlet status ${input}\` shows each replica and bid`, opts)
    }
    const results = await Promise.all(
      holders.map(async ({ meshlet: m, state }) => {
        try {
          return { meshlet: m, state, logs: await ctx.client.getLogs(m, target, opts.tail) }
        } catch (err) {
          return { meshlet: m, state, error: describeCallError(err) }
        }
      }),
    )
    const failed = results.filter((r) => r.error !== undefined)
    const exitCode = failed.length === results.length ? EXIT.failed : EXIT.ok
    if (opts.json) return { text: JSON.stringify({ uri: target, replicas: results }, null, 2), exitCode, warnings: skipped }
    const many = results.length > 1
    const out: string[] = []
    const notes: string[] = [...skipped]
    for (const r of results) {
      if (many) out.push(`==> ${r.meshlet}${r.logs?.containerId ? ` (${r.logs.containerId.slice(0, 12)})` : ''} <==`)
      if (r.error !== undefined) out.push(`error: ${r.error}`)
      else if (r.logs!.lines.length === 0) notes.push(`(no output yet from the container on ${r.meshlet}; it is ${r.state})`)
      else for (const line of r.logs!.lines) out.push(line.text.replace(/\n$/, ''))
    }
    return { text: out.join('\n'), exitCode, warnings: notes }
  })
}

/** `meshlet rm <uri|id|name>`: deletes the workload record; every meshlet stops its containers on seeing that. */
export async function cmdRm(ctx: ClientContext, input: string, opts: OutputOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = await resolveWorkload(ctx, input)
    const parsed = new AtUri(target)
    if (parsed.host !== ctx.did) {
      throw new UsageError(`${target} is in ${parsed.host}'s repo; you (${ctx.did}) can only remove your own workloads`)
    }
    const exists = await recordExists(ctx, parsed)
    if (!exists) return fail(`no workload ${target} in your repo (already removed?)`, opts)
    await pds(ctx, 'delete the workload record', () =>
      ctx.agent.com.atproto.repo.deleteRecord({ repo: ctx.did, collection: NSID.workload, rkey: parsed.rkey }),
    )
    if (opts.json) return ok({ uri: target, deleted: true })
    return ok(`removed ${target}; every meshlet stops its containers when it sees the delete`)
  })
}

/** "http=http://desk:24001 dns=udp://desk:24002": a replica's endpoints in one cell (Services, issue 12). */
export function endpointsText(endpoints: readonly { name: string; url: string }[] | undefined): string | undefined {
  return endpoints?.length ? endpoints.map((e) => `${e.name}=${e.url}`).join(' ') : undefined
}
