// The client side of `meshlet <cmd>`: functions that return the text to print and an exit code,
// so the CLI only maps flags and prints, and tests assert on what a person would see.
//
// Where the answers come from:
// - The owner's repo is the source of truth for what workloads exist: `submit` writes a
//   commune.scheduler.workload record there, `rm` deletes it (every meshlet then stops its
//   containers), `ls` lists them.
// - State comes from a meshlet over XRPC. Which one: `--meshlet` if given, else the caller's own
//   linked meshlets (commune.scheduler.meshlet records in the caller's repo), first that answers.
//   Every meshlet of the cluster sees the same public records, so any one of them can say where a
//   workload runs and why each bid won or lost; `logs` then asks the meshlets that hold replicas.
// - Commands taking a workload accept its at:// URI or just its record key (shown by `ls`),
//   which means the caller's own workload.
//
// Exit codes: 0 done, 1 the operation failed (remote error, unreachable, not found),
// 2 the input was wrong (bad file, not a URI). With `json`, output (and errors) are JSON.
import fs from 'node:fs/promises'
import path from 'node:path'
import { AtpAgent } from '@atproto/api'
import { IdResolver } from '@atproto/identity'
import { AtUri, isValidDid } from '@atproto/syntax'
import YAML from 'yaml'
import type { AtUri as AtUriString, Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { listAllRecords as readAllRecords } from '../adapters/atproto/repo-reader.js'
import { describeError, PdsError } from '../errors.js'
import * as WorkloadLexicon from '../lexicons/commune/scheduler/workload.js'
import { MeshletCallError, UsageError, WorkloadFileError } from './errors.js'
import { MeshletClient, type WorkloadStatusOutput } from './meshlet-client.js'
import { formatFields, formatTable } from './table.js'

export interface ClientConfig {
  /** The caller's PDS URL. */
  service: string
  /** The caller's handle or DID. */
  identifier: string
  /** The caller's (app) password. */
  password: string
  /** PLC directory for did:plc resolution. Default: the public directory. */
  plcUrl?: string
  /** Dev networks on loopback: resolve identities and reach meshlets over plain http. */
  allowInsecureHttp?: boolean
  /** The meshlet to ask for state; default: the caller's own linked meshlets. */
  meshlet?: Did
  /** Known meshlet endpoints, skipping profile discovery. */
  endpoints?: Record<Did, string>
}

export interface ClientContext {
  agent: AtpAgent
  /** The logged-in caller. */
  did: Did
  idResolver: IdResolver
  client: MeshletClient
  meshlet?: Did
  now: () => Date
}

export interface CommandResult {
  text: string
  exitCode: number
}

export interface OutputOptions {
  json?: boolean
}

export interface MeshletChoice {
  /** Ask this meshlet instead of the caller's own. */
  meshlet?: Did
}

export { EXIT } from './exit-codes.js'
import { EXIT } from './exit-codes.js'

/**
 * The identity resolver the client uses. `allowInsecureHttp` swaps the SSRF-guarded fetch for the
 * plain one, which loopback dev networks need; never the default.
 */
export function createIdResolver(opts: { plcUrl?: string; allowInsecureHttp?: boolean }): IdResolver {
  return new IdResolver({ plcUrl: opts.plcUrl, ...(opts.allowInsecureHttp ? { fetch: globalThis.fetch } : {}) })
}

/** Logs in to the caller's PDS and builds what the commands need. Throws PdsError on bad credentials. */
export async function createClientContext(cfg: ClientConfig): Promise<ClientContext> {
  const agent = new AtpAgent({ service: cfg.service })
  try {
    await agent.login({ identifier: cfg.identifier, password: cfg.password })
  } catch (err) {
    throw new PdsError(cfg.service, `cannot log in as ${cfg.identifier}: ${describeError(err)}`, { cause: err })
  }
  const idResolver = createIdResolver(cfg)
  return {
    agent,
    did: agent.session!.did,
    idResolver,
    client: new MeshletClient({ agent, idResolver, allowInsecureHttp: cfg.allowInsecureHttp, endpoints: cfg.endpoints }),
    meshlet: cfg.meshlet,
    now: () => new Date(),
  }
}

// ---------------------------------------------------------------------------------------------
// submit

/**
 * Reads a workload from JSON or YAML text, fills `$type` and `createdAt`, and checks it against the
 * commune.scheduler.workload lexicon. Throws WorkloadFileError naming the field that is wrong.
 */
export function parseWorkloadFile(text: string, file: string, now: Date): Record<string, unknown> {
  const ext = path.extname(file).toLowerCase()
  let data: unknown
  try {
    // YAML is a superset of JSON, but JSON.parse gives the better message for .json files.
    data = ext === '.json' ? JSON.parse(text) : YAML.parse(text)
  } catch (err) {
    // yaml's messages carry a code excerpt on later lines; the first line says what and where.
    const why = describeError(err).split('\n')[0]!.replace(/:\s*$/, '')
    throw new WorkloadFileError(file, `not valid ${ext === '.json' ? 'JSON' : 'YAML or JSON'}: ${why}`, undefined, { cause: err })
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new WorkloadFileError(file, 'expected one workload object (name, image, replicas, resources)')
  }
  const record: Record<string, unknown> = { ...(data as Record<string, unknown>) }
  if (record.$type !== undefined && record.$type !== NSID.workload) {
    throw new WorkloadFileError(file, `$type is ${JSON.stringify(record.$type)}, expected ${NSID.workload}`, '$type')
  }
  record.$type = NSID.workload
  record.createdAt ??= now.toISOString()
  const result = WorkloadLexicon.$safeParse(record)
  if (!result.success) {
    // A missing key is reported at its parent; name the key itself, which is what the user must add.
    const issues = result.reason.issues.map((i) => {
      const key = i.code === 'required_key' ? (i as { key?: PropertyKey }).key : undefined
      return key === undefined
        ? { field: fieldPath(i.path), message: i.message }
        : { field: fieldPath([...i.path, key]), message: 'required but missing' }
    })
    const detail = issues.length
      ? issues.map((i) => `${i.field || 'workload'}: ${i.message}`).join('; ')
      : describeError(result.reason)
    throw new WorkloadFileError(file, `invalid workload: ${detail}`, issues[0]?.field || undefined)
  }
  return record
}

function fieldPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '')
}

/** `meshlet submit <file>`: validate locally, then write the record to the caller's repo. */
export async function cmdSubmit(ctx: ClientContext, file: string, opts: OutputOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    let text: string
    try {
      text = await fs.readFile(file, 'utf8')
    } catch (err) {
      throw new WorkloadFileError(file, `cannot read it: ${describeError(err)}`, undefined, { cause: err })
    }
    const record = parseWorkloadFile(text, file, ctx.now())
    const res = await pds(ctx, 'write the workload record', () =>
      ctx.agent.com.atproto.repo.createRecord({ repo: ctx.did, collection: NSID.workload, record }),
    )
    const { uri, cid } = res.data
    if (opts.json) return ok({ uri, cid, name: record.name })
    return ok(`submitted ${JSON.stringify(record.name)}: ${uri}`)
  })
}

// ---------------------------------------------------------------------------------------------
// ls

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
        const live = s.replicas.filter((p) => p.state === 'running')
        Object.assign(row, { state: overallState(s), phase: s.phase, running: live.length, meshlets: live.map((p) => p.meshlet), problem: s.problem })
      } catch (err) {
        const unseen = err instanceof MeshletCallError && err.error === 'WorkloadNotFound'
        row.state = unseen ? 'unseen' : 'error'
        row.problem = unseen ? 'not seen by this meshlet yet' : describeCallError(err)
      }
      return row
    })
    if (opts.json) return ok({ meshlet: asked.meshlet ?? null, note: asked.note, workloads: rows })
    if (rows.length === 0) return ok('no workloads in your repo; submit one with `meshlet submit <file>`')
    const table = formatTable(
      ['ID', 'NAME', 'STATE', 'RUNNING', 'IMAGE', 'PROBLEM'],
      rows.map((r) => [r.rkey, r.name, r.state, `${r.running}/${r.replicas}`, r.image, r.problem]),
      { align: ['left', 'left', 'left', 'right'], maxWidth: [undefined, 32, undefined, undefined, 48, 80] },
    )
    const footer = asked.meshlet ? `(state as seen by ${asked.meshlet})` : `(no meshlet answered: ${asked.note})`
    return ok(`${table}\n${footer}`)
  })
}

// ---------------------------------------------------------------------------------------------
// status

/** `meshlet status <uri>`: state, where replicas run, and every bid with why it won or lost. */
export async function cmdStatus(ctx: ClientContext, uri: string, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = workloadUri(ctx, uri)
    const { meshlet, status } = await statusFromCluster(ctx, target, opts.meshlet)
    if (opts.json) return ok({ meshlet, ...status })
    return ok(renderStatus(meshlet, status))
  })
}

/**
 * The workload's state across the commune, from its replicas: a meshlet's own `state` is only its
 * view ("elsewhere" on a meshlet that lost the bid), which is not what a person asks about.
 */
export function overallState(s: WorkloadStatusOutput): string {
  if (s.valid === false) return s.state
  const states = new Set(s.replicas.map((r) => r.state))
  for (const st of ['running', 'paused', 'starting', 'pulling', 'pending']) if (states.has(st)) return st
  if (s.phase === 'queued' || s.phase === 'bidding') return s.phase
  for (const st of ['exited', 'failed']) if (states.has(st)) return st
  return s.state
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
      ['problem', s.problem],
      ['asked', meshlet],
      ['its state', s.state],
      ['its bid', s.self ? (s.self.reason.startsWith(`${s.self.outcome}:`) ? s.self.reason : `${s.self.outcome}: ${s.self.reason}`) : undefined],
    ]),
  )
  parts.push('')
  parts.push('REPLICAS')
  parts.push(
    s.replicas.length
      ? formatTable(
          ['MESHLET', 'STATE', 'CONTAINER', 'UPDATED', 'MESSAGE'],
          s.replicas.map((r) => [r.meshlet, r.state, r.containerId?.slice(0, 12), r.updatedAt, r.message]),
        )
      : '(none placed)',
  )
  parts.push('')
  parts.push('BIDS')
  parts.push(
    s.bids.length
      ? formatTable(
          ['MESHLET', 'PRIORITY', 'OUTCOME', 'REASON'],
          s.bids.map((b) => [b.meshlet, b.priority, b.outcome, b.reason]),
          { align: ['left', 'right'] },
        )
      : '(no bids yet)',
  )
  return parts.join('\n')
}

// ---------------------------------------------------------------------------------------------
// logs

export interface LogsOptions extends OutputOptions, MeshletChoice {
  /** Lines per replica (1..10000). Default 200. */
  tail?: number
}

/** `meshlet logs <uri>`: finds the meshlets holding replicas (from status) and asks each for its tail. */
export async function cmdLogs(ctx: ClientContext, uri: string, opts: LogsOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = workloadUri(ctx, uri)
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 1 || opts.tail > 10_000)) {
      throw new UsageError(`tail must be a whole number from 1 to 10000, got ${opts.tail}`)
    }
    const { status } = await statusFromCluster(ctx, target, opts.meshlet)
    const holders = [...new Set(status.replicas.filter((r) => r.containerId || r.state !== 'pending').map((r) => r.meshlet))]
    if (holders.length === 0) return fail(`no replica of ${target} has a container yet (state: ${status.state})`, opts)
    const results = await Promise.all(
      holders.map(async (m) => {
        try {
          return { meshlet: m, logs: await ctx.client.getLogs(m, target, opts.tail) }
        } catch (err) {
          return { meshlet: m, error: describeCallError(err) }
        }
      }),
    )
    const failed = results.filter((r) => r.error !== undefined)
    const exitCode = failed.length === results.length ? EXIT.failed : EXIT.ok
    if (opts.json) return { text: JSON.stringify({ uri: target, replicas: results }, null, 2), exitCode }
    const many = results.length > 1
    const out: string[] = []
    for (const r of results) {
      if (many) out.push(`==> ${r.meshlet}${r.logs?.containerId ? ` (${r.logs.containerId.slice(0, 12)})` : ''} <==`)
      if (r.error !== undefined) out.push(`error: ${r.error}`)
      else for (const line of r.logs!.lines) out.push(line.text.replace(/\n$/, ''))
    }
    return { text: out.join('\n'), exitCode }
  })
}

// ---------------------------------------------------------------------------------------------
// rm

/** `meshlet rm <uri>`: deletes the workload record; every meshlet stops its containers on seeing that. */
export async function cmdRm(ctx: ClientContext, uri: string, opts: OutputOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = workloadUri(ctx, uri)
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

// ---------------------------------------------------------------------------------------------
// pause, resume, stop

export type ReplicaAction = 'pause' | 'resume' | 'stop'

const REPLICA_ACTIONS: Record<ReplicaAction, { targets: readonly string[]; past: string; call: (c: MeshletClient, m: Did, uri: AtUriString) => Promise<{ state: string }> }> = {
  pause: { targets: ['running'], past: 'paused', call: (c, m, uri) => c.pauseWorkload(m, uri) },
  resume: { targets: ['paused'], past: 'resumed', call: (c, m, uri) => c.resumeWorkload(m, uri) },
  stop: { targets: ['pending', 'pulling', 'starting', 'running', 'paused'], past: 'stopped', call: (c, m, uri) => c.stopWorkload(m, uri) },
}

/**
 * `meshlet pause|resume|stop <uri>`: acts on the meshlets holding a replica (from the workload's
 * status), or only on `--meshlet`. These act on containers, not on the record: a stopped replica
 * goes to the next meshlet that bid; `meshlet rm` is how a workload stops everywhere.
 */
export async function cmdReplicaAction(ctx: ClientContext, action: ReplicaAction, uri: string, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = workloadUri(ctx, uri)
    const a = REPLICA_ACTIONS[action]
    let on: Did[]
    if (opts.meshlet) on = [opts.meshlet]
    else {
      const { status } = await statusFromCluster(ctx, target, undefined)
      on = [...new Set(status.replicas.filter((r) => a.targets.includes(r.state)).map((r) => r.meshlet))]
      if (on.length === 0) {
        const states = status.replicas.map((r) => `${r.state} on ${r.meshlet}`).join(', ') || 'none placed'
        return fail(`no replica of ${target} to ${action} (replicas: ${states})`, opts)
      }
    }
    const results = await Promise.all(
      on.map(async (m) => {
        try {
          return { meshlet: m, state: (await a.call(ctx.client, m, target)).state }
        } catch (err) {
          return { meshlet: m, error: describeCallError(err) }
        }
      }),
    )
    const exitCode = results.every((r) => r.error !== undefined) ? EXIT.failed : EXIT.ok
    if (opts.json) return { text: JSON.stringify({ uri: target, action, results }, null, 2), exitCode }
    const lines = results.map((r) => (r.error !== undefined ? `error: ${r.error}` : `${a.past} on ${r.meshlet} (now ${r.state})`))
    if (action === 'stop' && exitCode === EXIT.ok) lines.push('the next meshlet that bid takes the replica over; `meshlet rm` stops the workload everywhere')
    return { text: lines.join('\n'), exitCode }
  })
}

// ---------------------------------------------------------------------------------------------
// shutdown

/** `meshlet shutdown <meshlet-did>`: its owner stops a meshlet; by default it drains first (hands its replicas over). */
export async function cmdShutdown(ctx: ClientContext, did: string, opts: OutputOptions & { drain?: boolean } = {}): Promise<CommandResult> {
  return run(opts, async () => {
    if (!isValidDid(did)) throw new UsageError(`${JSON.stringify(did)} is not a DID (expected did:plc:... or did:web:...)`)
    const drain = opts.drain ?? true
    const res = await ctx.client.shutdown(did, { drain })
    if (opts.json) return ok({ meshlet: did, drain, ...res })
    if (!res.accepted) return fail(`meshlet ${did} did not accept the shutdown`, opts)
    const n = res.handedOver ?? 0
    return ok(
      drain
        ? `meshlet ${did} is shutting down: ${n} replica${n === 1 ? '' : 's'} handed over to other meshlets`
        : `meshlet ${did} is shutting down without draining: its containers keep running until it is back`,
    )
  })
}

// ---------------------------------------------------------------------------------------------
// capacity

/** `meshlet capacity <meshlet-did>`: the meshlet's total and free resources and host condition. */
export async function cmdCapacity(ctx: ClientContext, did: string, opts: OutputOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    if (!isValidDid(did)) throw new UsageError(`${JSON.stringify(did)} is not a DID (expected did:plc:... or did:web:...)`)
    const c = await ctx.client.getCapacity(did)
    if (opts.json) return ok(c)
    return ok(
      formatFields([
        ['meshlet', c.meshlet],
        ['cpu', `${c.cpuMillisFree} of ${c.cpuMillis} millicores free`],
        ['memory', `${c.memoryMbFree} of ${c.memoryMb} MiB free`],
        ['committed', c.cpuMillisCommitted !== undefined || c.memoryMbCommitted !== undefined ? `${c.cpuMillisCommitted ?? '?'} millicores, ${c.memoryMbCommitted ?? '?'} MiB` : undefined],
        ['load', c.loadPermille !== undefined ? `${(c.loadPermille / 1000).toFixed(2)} per core` : undefined],
        ['power', c.onBattery === undefined ? undefined : c.onBattery ? `battery${c.batteryPermille !== undefined ? ` ${Math.round(c.batteryPermille / 10)}%` : ''}` : 'mains'],
        ['thermal', c.thermal],
        ['running', c.running],
        ['accepting', c.accepting ? 'yes' : 'no (draining)'],
      ]),
    )
  })
}

// ---------------------------------------------------------------------------------------------
// helpers

/** A full at:// URI, or a bare record key meaning one of the caller's own workloads. */
export function workloadUri(ctx: Pick<ClientContext, 'did'>, input: string): AtUriString {
  const s = input.trim()
  if (/^[A-Za-z0-9._:~-]{1,512}$/.test(s) && !s.startsWith('at:')) return `at://${ctx.did}/${NSID.workload}/${s}`
  let parsed: AtUri
  try {
    parsed = new AtUri(s)
  } catch {
    throw new UsageError(`${JSON.stringify(input.slice(0, 120))} is not a workload: give its at:// URI or its ID from \`meshlet ls\``)
  }
  if (parsed.collection !== NSID.workload || !parsed.rkey) {
    throw new UsageError(`${s} is not a workload record (expected at://<did>/${NSID.workload}/<id>)`)
  }
  return parsed.toString()
}

/** The caller's own linked meshlets: commune.scheduler.meshlet records (rkey = meshlet DID). */
export async function ownMeshlets(ctx: ClientContext): Promise<Did[]> {
  const records = await listAllRecords(ctx, ctx.did, NSID.meshlet)
  const dids = records.map((r) => {
    const v = (r.value as { meshletDid?: unknown }).meshletDid
    return typeof v === 'string' && isValidDid(v) ? v : new AtUri(r.uri).rkey
  })
  return [...new Set(dids.filter((d) => isValidDid(d)))]
}

async function candidates(ctx: ClientContext, explicit: Did | undefined): Promise<Did[]> {
  const chosen = explicit ?? ctx.meshlet
  if (chosen) return [chosen]
  const own = await ownMeshlets(ctx)
  if (own.length === 0) {
    throw new UsageError(`you (${ctx.did}) have no linked meshlet to ask; link one (meshlet link) or name one with --meshlet`)
  }
  return own
}

/** The first candidate meshlet for which `probe` succeeds; notes why the others did not. */
async function firstAnswering(
  ctx: ClientContext,
  explicit: Did | undefined,
  probe: (m: Did) => Promise<unknown>,
): Promise<{ meshlet?: Did; note?: string }> {
  const notes: string[] = []
  for (const m of await candidates(ctx, explicit)) {
    try {
      await probe(m)
      return { meshlet: m }
    } catch (err) {
      notes.push(describeCallError(err))
    }
  }
  return { note: notes.join('; ') }
}

/** Status from the first meshlet that knows the workload. */
async function statusFromCluster(ctx: ClientContext, uri: AtUriString, explicit: Did | undefined): Promise<{ meshlet: Did; status: WorkloadStatusOutput }> {
  const errors: unknown[] = []
  for (const m of await candidates(ctx, explicit)) {
    try {
      return { meshlet: m, status: await ctx.client.getWorkloadStatus(m, uri) }
    } catch (err) {
      errors.push(err)
    }
  }
  // One error says it best when there was one meshlet; otherwise list them.
  if (errors.length === 1) throw errors[0]
  throw new Error(`no meshlet could tell the status of ${uri}: ${errors.map(describeCallError).join('; ')}`)
}

interface RepoRecord {
  uri: string
  cid: string
  value: unknown
}

async function listAllRecords(ctx: ClientContext, repo: Did, collection: string): Promise<RepoRecord[]> {
  // The one paged reader: follows the cursor to the end and fails loudly past its bound.
  return readAllRecords(ctx.agent.serviceUrl.toString(), repo, collection)
}

async function recordExists(ctx: ClientContext, uri: AtUri): Promise<boolean> {
  try {
    await ctx.agent.com.atproto.repo.getRecord({ repo: uri.host, collection: uri.collection, rkey: uri.rkey })
    return true
  } catch (err) {
    if ((err as { error?: unknown }).error === 'RecordNotFound') return false
    throw new PdsError(ctx.agent.serviceUrl.toString(), `cannot read ${uri.toString()}: ${describeError(err)}`, { cause: err })
  }
}

async function pds<T>(ctx: ClientContext, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw new PdsError(ctx.agent.serviceUrl.toString(), `cannot ${what}: ${describeError(err)}`, { cause: err })
  }
}

function describeCallError(err: unknown): string {
  if (err instanceof MeshletCallError) {
    return err.status === 0 ? err.message : `${err.meshlet} answered ${err.error}: ${err.message}`
  }
  return describeError(err)
}

async function run(opts: OutputOptions, fn: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await fn()
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof WorkloadFileError
    const exitCode = usage ? EXIT.usage : EXIT.failed
    if (opts.json) {
      const name = err instanceof MeshletCallError ? err.error : err instanceof Error ? err.name : 'Error'
      return { text: JSON.stringify({ error: name, message: describeCallError(err) }, null, 2), exitCode }
    }
    return { text: `error: ${describeCallError(err)}`, exitCode }
  }
}

function ok(body: string | object): CommandResult {
  return { text: typeof body === 'string' ? body : JSON.stringify(body, null, 2), exitCode: EXIT.ok }
}

function fail(message: string, opts: OutputOptions): CommandResult {
  return { text: opts.json ? JSON.stringify({ error: 'Failed', message }, null, 2) : `error: ${message}`, exitCode: EXIT.failed }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
