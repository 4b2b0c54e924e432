// Unauthenticated reads from any PDS: listRecords (paginated) and the repo head. Used for backfill,
// so it speaks plain fetch with a timeout and turns failures into readable PdsErrors.
import type { Cid, Did } from '../../core/types.js'
import { PdsError } from '../../errors.js'
import { PdsRequestError, PdsUnreachableError } from './errors.js'
import { networkCode } from './identity.js'

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

/**
 * A listRecords page holds at most 100 of our records (64 KB each at most): a bigger answer is a
 * hostile or broken PDS, and reading it whole could exhaust this peer's memory.
 */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024

async function readText(res: Response, limit: number, base: string, method: string): Promise<string> {
  const tooLarge = (bytes: number) => new PdsError(base, `${method} answered with more than ${limit} bytes (${bytes}); refusing to read it`)
  const declared = Number(res.headers?.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => {})
    throw tooLarge(declared)
  }
  if (!res.body) return typeof res.text === 'function' ? res.text() : ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(total)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function getJson(pdsUrl: string, method: string, params: Record<string, string>, opts: RepoReadOptions): Promise<unknown> {
  const base = pdsUrl.replace(/\/+$/, '')
  const url = `${base}/xrpc/${method}?${new URLSearchParams(params).toString()}`
  const fetchImpl = opts.fetch ?? globalThis.fetch
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 15_000)
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout
  let res: Response
  try {
    res = await fetchImpl(url, { headers: { accept: 'application/json' }, signal })
  } catch (err) {
    throw new PdsUnreachableError(base, networkCode(err) ?? (err instanceof Error ? err.message : String(err)), { cause: err })
  }
  const text = await readText(res, opts.maxResponseBytes ?? MAX_RESPONSE_BYTES, base, method)
  let body: unknown
  try {
    body = text ? JSON.parse(text) : undefined
  } catch (err) {
    throw new PdsError(base, `${method} returned invalid JSON (HTTP ${res.status})`, { cause: err })
  }
  if (!res.ok) {
    const b = (body ?? {}) as { error?: unknown; message?: unknown }
    const error = typeof b.error === 'string' ? b.error : undefined
    const message = typeof b.message === 'string' ? b.message : res.statusText
    throw new PdsRequestError(base, method, res.status, error, message)
  }
  return body
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
