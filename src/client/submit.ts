// `meshlet submit <file>`: read a workload file, check it against the lexicon (and for keys the
// lexicon does not have: a typo there would otherwise be dropped in silence), write the record.
import { appFields } from '../adapters/atproto/decode-apps.js'
import fs from 'node:fs/promises'
import path from 'node:path'
import YAML from 'yaml'
import { NSID } from '../core/types.js'
import { describeError } from '../errors.js'
import * as WorkloadLexicon from '../lexicons/commune/scheduler/workload.js'
import type { AtUri as AtUriString } from '../core/types.js'
import { MeshletCallError, WorkloadFileError } from './errors.js'
import { statusFromCluster } from './resolve.js'
import { liveReplicas, overallState, problemOf } from './workload-commands.js'
import { EXIT, listAllRecords, ok, pds, run, type ClientContext, type CommandResult, type OutputOptions } from './context.js'
import { unknownKeys } from './lexicon-schema.js'
import { nearest } from '../suggest.js'
import { parseHealthCheck, type HealthCheckInput } from '../core/health.js'
import { prepareHints } from './submit-notify.js'

export interface SubmitOptions extends OutputOptions {
  /** Refuse keys the lexicon does not define (default: warn and submit). */
  strict?: boolean
  /** Wait until the workload runs (exit 0) or fails (exit 1), at most this many ms. */
  waitMs?: number
  /** notify (issue 16): tell the own meshlets directly (default true). */
  notify?: boolean
}

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
  // issue 12 (health): what the lexicon cannot say (core/health.ts), as every peer checks it
  const health = record.health === undefined ? undefined : parseHealthCheck(record.health as HealthCheckInput)
  if (health && !health.ok) throw new WorkloadFileError(file, `invalid workload: ${health.reason}`, 'health')
  // Services (issue 12, apps): the rules peers apply to ports and volumes beyond the lexicon.
  try {
    appFields(result.value as Parameters<typeof appFields>[0])
  } catch (err) {
    throw new WorkloadFileError(file, `invalid workload: ${describeError(err)}`, /^(ports|volumes)/.exec(describeError(err))?.[1])
  }
  return record
}

function fieldPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '')
}

/**
 * One line per key of the workload that the lexicon does not define, with the nearest known key
 * when it looks like a typo. Peers ignore such keys, so what the person meant would not happen.
 */
export function unknownKeyWarnings(record: Record<string, unknown>): string[] {
  return unknownKeys(record, NSID.workload).map((u) => {
    const near = nearest(u.key, u.known)
    return `unknown key ${u.path}: ${near ? `did you mean ${JSON.stringify(near)}? ` : ''}(known here: ${u.known.join(', ')}; see docs/cli.md, "Workload fields")`
  })
}

/** `meshlet submit <file>`: validate locally, then write the record to the caller's repo. */
export async function cmdSubmit(ctx: ClientContext, file: string, opts: SubmitOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    let text: string
    try {
      text = await fs.readFile(file, 'utf8')
    } catch (err) {
      throw new WorkloadFileError(file, `cannot read it: ${describeError(err)}`, undefined, { cause: err })
    }
    const record = parseWorkloadFile(text, file, ctx.now())
    const warnings = unknownKeyWarnings(record)
    if (warnings.length && opts.strict) {
      throw new WorkloadFileError(file, `refused (--strict): ${warnings.join('; ')}`, warnings[0]!.split(' ')[2]!.replace(/:$/, ''))
    }
    // notify (issue 16): find the own meshlets and mint their tokens while the record is checked and written.
    const hints = opts.notify === false ? undefined : prepareHints(ctx)
    // Names are how people point at workloads (`meshlet logs web`): one per owner.
    const same = (await listAllRecords(ctx, ctx.did, NSID.workload)).filter((r) => (r.value as { name?: unknown }).name === record.name)
    if (same.length > 0) {
      const ids = same.map((r) => r.uri.split('/').pop()).join(', ')
      throw new WorkloadFileError(file, `you already have a workload named ${JSON.stringify(record.name)} (ID ${ids}): remove it first (meshlet rm ${String(record.name)}) or choose another name`, 'name')
    }
    const res = await pds(ctx, 'write the workload record', () =>
      ctx.agent.com.atproto.repo.createRecord({ repo: ctx.did, collection: NSID.workload, record }),
    )
    const { uri, cid } = res.data
    // Best-effort and bounded: a hint that fails only means the firehose brings the record.
    const hinted = await hints?.send({ uri, cid })
    if (opts.json) return ok({ uri, cid, name: record.name, warnings, ...(hinted ? { notified: hinted.notified } : {}) })
    const lines = [`submitted ${JSON.stringify(record.name)}: ${uri}`]
    let exitCode: number = EXIT.ok
    if (opts.waitMs) {
      const outcome = await waitForOutcome(ctx, uri as AtUriString, opts.waitMs)
      lines.push(outcome.text)
      exitCode = outcome.ok ? EXIT.ok : EXIT.failed
    }
    if (warnings.length) lines.push(`(${warnings.length} unknown key${warnings.length === 1 ? '' : 's'} ignored by every peer; --strict refuses them)`)
    return { text: lines.join('\n'), exitCode, warnings: warnings.map((w) => `warning: ${file}: ${w}`) }
  })
}

/** Polls the workload's status until it runs, fails or the time is up (`submit --wait`). */
async function waitForOutcome(ctx: ClientContext, uri: AtUriString, waitMs: number): Promise<{ ok: boolean; text: string }> {
  const deadline = Date.now() + waitMs
  let last = 'not seen by a meshlet yet'
  while (Date.now() < deadline) {
    try {
      const { status } = await statusFromCluster(ctx, uri, undefined)
      const state = overallState(status)
      const live = liveReplicas(status)
      if (state === 'running' && live.length >= (status.local?.replicas ?? 1)) return { ok: true, text: `running on ${live.map((r) => r.meshlet).join(', ')}` }
      if (state === 'failed' || state === 'exited') return { ok: state === 'exited', text: `${state}: ${problemOf(status) ?? 'no reason given'}` }
      last = `${state}${problemOf(status) ? `: ${problemOf(status)}` : ''}`
    } catch (err) {
      if (!(err instanceof MeshletCallError && err.error === 'WorkloadNotFound')) last = describeError(err)
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  return { ok: false, text: `not running after ${Math.round(waitMs / 1000)} s (last: ${last}); \`meshlet status\` shows the bids` }
}
