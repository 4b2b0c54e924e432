// Finding things for the client commands: which workload a person means (URI, record key or
// name) and which meshlet to ask (--meshlet, else the caller's own linked meshlets).
import { AtUri, isValidDid } from '@atproto/syntax'
import type { AtUri as AtUriString, Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { MeshletCallError, MeshletDiscoveryError, UsageError } from './errors.js'
import type { WorkloadStatusOutput } from './meshlet-client.js'
import { describeCallError, listAllRecords, type ClientContext } from './context.js'

const RKEY = /^[A-Za-z0-9._:~-]{1,512}$/

/** A full at:// URI, or a bare record key meaning one of the caller's own workloads. */
export function workloadUri(ctx: Pick<ClientContext, 'did'>, input: string): AtUriString {
  const s = input.trim()
  if (RKEY.test(s) && !s.startsWith('at:')) return `at://${ctx.did}/${NSID.workload}/${s}`
  let parsed: AtUri
  try {
    parsed = new AtUri(s)
  } catch {
    throw new UsageError(`${JSON.stringify(input.slice(0, 120))} is not a workload: give its name, its ID from \`meshlet ls\` or its at:// URI`)
  }
  if (parsed.collection !== NSID.workload || !parsed.rkey) {
    throw new UsageError(`${s} is not a workload record (expected at://<did>/${NSID.workload}/<id>)`)
  }
  return parsed.toString()
}

/**
 * What `input` names among the caller's workloads: an at:// URI as is; else a record key of one
 * of them, else its name (names are unique per owner: two workloads with one name are an error
 * that lists both). Unknown input keeps the rkey reading, so a record not listed yet still works.
 */
export async function resolveWorkload(ctx: ClientContext, input: string): Promise<AtUriString> {
  const s = input.trim()
  if (s.startsWith('at:') || !RKEY.test(s)) return workloadUri(ctx, s)
  const records = await listAllRecords(ctx, ctx.did, NSID.workload)
  const byKey = records.find((r) => new AtUri(r.uri).rkey === s)
  if (byKey) return byKey.uri as AtUriString
  const named = records.filter((r) => (r.value as { name?: unknown }).name === s)
  if (named.length === 1) return named[0]!.uri as AtUriString
  if (named.length > 1) {
    throw new UsageError(`${named.length} of your workloads are named ${JSON.stringify(s)}: give one ID (${named.map((r) => new AtUri(r.uri).rkey).join(', ')}); names should be unique`)
  }
  // Shaped like a record key (a TID is 13 base32 characters): the record may be one the meshlet
  // knows and the listing does not show (yet, or any more); the meshlet then says whether it exists.
  if (/^[a-z2-7][a-z0-9]{12}$/.test(s)) return workloadUri(ctx, s)
  const names = records.map((r) => (r.value as { name?: unknown }).name).filter((n): n is string => typeof n === 'string')
  throw new UsageError(
    records.length === 0
      ? `no workload named or with ID ${JSON.stringify(s)}: you have no workloads (meshlet submit <file>)`
      : `no workload named or with ID ${JSON.stringify(s)}; yours: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''} (see \`meshlet ls\`)`,
  )
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

/**
 * Why a meshlet named with --meshlet did not answer, in words that say what to do: an owner DID
 * (the caller's own, or one that lists meshlets) is not a meshlet; an unknown DID is not one either.
 */
export async function explainMeshlet(ctx: ClientContext, did: Did, err: unknown): Promise<string> {
  const why = describeCallError(err)
  if (!(err instanceof MeshletDiscoveryError)) return why
  if (did === ctx.did) {
    const own = await ownMeshlets(ctx).catch(() => [])
    return `${did} is you (an owner), not a meshlet; ${own.length ? `your meshlets: ${own.join(', ')}` : 'you have no linked meshlet yet'}`
  }
  const listed = await foreignMeshlets(ctx, did).catch(() => undefined)
  if (listed && listed.length > 0) return `${did} is an owner, not a meshlet: pass one of its meshlets with --meshlet (${listed.join(', ')})`
  return `${why}\n(check the DID: \`meshlet ls\` without --meshlet asks your own meshlets)`
}

/** The meshlets another owner lists, read from its PDS (found from its DID document). */
async function foreignMeshlets(ctx: ClientContext, owner: Did): Promise<Did[]> {
  const data = await ctx.idResolver.did.resolveAtprotoData(owner)
  const url = `${data.pds.replace(/\/+$/, '')}/xrpc/com.atproto.repo.listRecords?${new URLSearchParams({ repo: owner, collection: NSID.meshlet, limit: '20' })}`
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) return []
  const body = (await res.json()) as { records?: { uri: string }[] }
  return (body.records ?? []).map((r) => new AtUri(r.uri).rkey).filter((d) => isValidDid(d))
}

/**
 * The first candidate meshlet for which `probe` succeeds; notes why the others did not. A meshlet
 * the person named explicitly that does not answer is an error (exit 1), not a table of unknowns.
 */
export async function firstAnswering(
  ctx: ClientContext,
  explicit: Did | undefined,
  probe: (m: Did) => Promise<unknown>,
): Promise<{ meshlet?: Did; note?: string }> {
  const notes: string[] = []
  const named = explicit ?? ctx.meshlet
  for (const m of await candidates(ctx, explicit)) {
    try {
      await probe(m)
      return { meshlet: m }
    } catch (err) {
      if (named) throw new Error(`meshlet ${m} did not answer: ${await explainMeshlet(ctx, m, err)}`, { cause: err })
      notes.push(describeCallError(err))
    }
  }
  return { note: notes.join('; ') }
}

/** Status from the first meshlet that knows the workload. */
export async function statusFromCluster(ctx: ClientContext, uri: AtUriString, explicit: Did | undefined): Promise<{ meshlet: Did; status: WorkloadStatusOutput }> {
  const errors: unknown[] = []
  const list = await candidates(ctx, explicit)
  for (const m of list) {
    try {
      return { meshlet: m, status: await ctx.client.getWorkloadStatus(m, uri) }
    } catch (err) {
      errors.push(err)
    }
  }
  // One error says it best when there was one meshlet; otherwise list them.
  if (errors.length === 1) {
    const err = errors[0]
    if (err instanceof MeshletCallError && err.error === 'WorkloadNotFound') throw err
    if (explicit ?? ctx.meshlet) throw new Error(`meshlet ${list[0]} did not answer: ${await explainMeshlet(ctx, list[0]!, err)}`, { cause: err })
    throw err
  }
  throw new Error(`no meshlet could tell the status of ${uri}: ${errors.map(describeCallError).join('; ')}`)
}
