// Unauthenticated reads from any PDS: listRecords (paged, to the end, with a bound), the repo head
// and record existence. Used for backfill and by the CLI; requests go through the one XRPC client
// (xrpc-client.ts) and failures become readable PdsErrors.
import type { Cid, Did } from '../../core/types.js'
import { PdsError } from '../../errors.js'
import { PdsRequestError, PdsUnreachableError } from './errors.js'
import { networkCode } from './identity.js'
import { XrpcCallError, xrpcCall } from './xrpc-client.js'

export interface ListedRecord {
  uri: string
  cid: Cid
  rkey: string
  value: unknown
}

export interface RepoReadOptions {
  fetch?: typeof globalThis.fetch
  timeoutMs?: number
  /** listRecords page size (the PDS caps it at 100). */
  pageSize?: number
  /** Refuse to read more than this many records of one collection (a runaway repo). */
  maxRecords?: number
  /** Refuse a response body bigger than this (default MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number
  signal?: AbortSignal
}

export { MAX_RESPONSE_BYTES } from './xrpc-client.js'

/** One unauthenticated read, with the XRPC client's errors turned into PdsErrors a person can read. */
async function getJson(pdsUrl: string, method: string, params: Record<string, string>, opts: RepoReadOptions): Promise<unknown> {
  const base = pdsUrl.replace(/\/+$/, '')
  try {
    return await xrpcCall({
      service: base,
      nsid: method,
      params,
      fetch: opts.fetch,
      timeoutMs: opts.timeoutMs ?? 15_000,
      signal: opts.signal,
      maxResponseBytes: opts.maxResponseBytes,
    })
  } catch (err) {
    if (!(err instanceof XrpcCallError)) throw err
    if (err.unanswered) throw new PdsUnreachableError(base, networkCode(err.cause) ?? (err.cause instanceof Error ? err.cause.message : err.message), { cause: err.cause })
    if (err.error === 'ResponseTooLarge' || err.error === 'InvalidResponse') throw new PdsError(base, err.message, { cause: err })
    throw new PdsRequestError(base, method, err.status, err.error, err.message, { cause: err })
  }
}

/** Every record of `collection` in `did`'s repo, following the cursor to the end. */
export async function listAllRecords(pdsUrl: string, did: Did, collection: string, opts: RepoReadOptions = {}): Promise<ListedRecord[]> {
  const out: ListedRecord[] = []
  const limit = String(Math.min(100, Math.max(1, opts.pageSize ?? 100)))
  const max = opts.maxRecords ?? 100_000
  let cursor: string | undefined
  for (;;) {
    const params: Record<string, string> = { repo: did, collection, limit }
    if (cursor) params.cursor = cursor
    const body = (await getJson(pdsUrl, 'com.atproto.repo.listRecords', params, opts)) as { records?: unknown; cursor?: unknown }
    if (!body || !Array.isArray(body.records)) throw new PdsError(pdsUrl, `listRecords for ${did} ${collection} returned no records array`)
    for (const r of body.records as { uri?: unknown; cid?: unknown; value?: unknown }[]) {
      if (typeof r?.uri !== 'string' || typeof r.cid !== 'string') continue
      const rkey = r.uri.slice(r.uri.lastIndexOf('/') + 1)
      out.push({ uri: r.uri, cid: r.cid, rkey, value: r.value })
    }
    if (out.length > max) throw new PdsError(pdsUrl, `${did} has more than ${max} ${collection} records; refusing to read them all`)
    const next = typeof body.cursor === 'string' && body.cursor !== '' ? body.cursor : undefined
    // Stop on an empty page or a cursor that does not move (a misbehaving server must not loop us forever).
    if (!next || body.records.length === 0 || next === cursor) break
    cursor = next
  }
  return out
}

/** The repo's current head: its rev orders every commit of the repo. */
export async function getLatestCommit(pdsUrl: string, did: Did, opts: RepoReadOptions = {}): Promise<{ cid: Cid; rev: string }> {
  const body = (await getJson(pdsUrl, 'com.atproto.sync.getLatestCommit', { did }, opts)) as { cid?: unknown; rev?: unknown }
  if (typeof body?.cid !== 'string' || typeof body.rev !== 'string') throw new PdsError(pdsUrl, `getLatestCommit for ${did} returned no cid/rev`)
  return { cid: body.cid, rev: body.rev }
}

/**
 * Whether the record at `uri` exists on `pdsUrl` (the PDS that hosts its repo). False only when the
 * PDS says the record (or the whole repo) is not there; any other failure throws, so callers never
 * mistake an outage for a deletion.
 */
export async function recordExists(pdsUrl: string, uri: string, opts: RepoReadOptions = {}): Promise<boolean> {
  const m = /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri)
  if (!m) throw new PdsError(pdsUrl, `"${uri}" is not a record URI (at://<did>/<collection>/<rkey>)`)
  const [, repo, collection, rkey] = m as unknown as [string, string, string, string]
  try {
    await getJson(pdsUrl, 'com.atproto.repo.getRecord', { repo, collection, rkey }, opts)
    return true
  } catch (err) {
    if (err instanceof PdsRequestError && (err.status === 400 || err.status === 404)) {
      if (err.error === 'RecordNotFound' || /could not locate record|could not find repo/i.test(err.message)) return false
    }
    throw err
  }
}
