// The one XRPC client over fetch, for the publisher's PDS session, the repo reader and the CLI's
// meshlet client: one request path (URL, auth header, timeout), one response path (a size-capped
// read, JSON), one error (XrpcCallError). Callers turn that error into their own domain errors.
// @atproto/api's AtpAgent would load the whole generated API for a handful of methods (~66 MB of
// RSS, BENCHMARKS.md §5).

/**
 * An XRPC call that failed. `status` 1 means it never got an HTTP answer (as in @atproto/xrpc),
 * with `error` 'Timeout' or 'Unknown' and the network failure as `cause`. 'InvalidResponse' and
 * 'ResponseTooLarge' are answers this client refused to use.
 */
export class XrpcCallError extends Error {
  constructor(
    readonly status: number,
    readonly error: string | undefined,
    message: string,
    readonly headers: Record<string, string> = {},
    opts?: { cause?: unknown },
  ) {
    super(message, opts)
    this.name = 'XrpcCallError'
  }

  /** True when no HTTP answer came back (refused, DNS, reset, timeout). */
  get unanswered(): boolean {
    return this.status === 1
  }
}

/**
 * No answer we read is bigger than this: a listRecords page holds at most 100 of our records (64 KB
 * each at most), so a bigger one is a hostile or broken server, and reading it whole could exhaust
 * this peer's memory.
 */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024

export type XrpcParams = Record<string, string | number | boolean | undefined>

export interface XrpcCall {
  /** The server's base URL (a PDS, a meshlet endpoint). */
  service: string
  nsid: string
  /** Query string parameters; undefined values are left out. */
  params?: XrpcParams
  /** A JSON body makes it a POST (a procedure). */
  body?: unknown
  method?: 'GET' | 'POST'
  /** Bearer token (session access/refresh JWT, or a service auth token). */
  token?: string
  fetch?: typeof globalThis.fetch
  /** Per-request timeout; none when unset (the caller's fetch may carry one). */
  timeoutMs?: number
  signal?: AbortSignal
  maxResponseBytes?: number
}

export function xrpcUrl(service: string, nsid: string, params?: XrpcParams): string {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined) qs.set(k, String(v))
  return `${service.replace(/\/+$/, '')}/xrpc/${nsid}${qs.size ? `?${qs}` : ''}`
}

/** One XRPC request; the parsed JSON answer, or an XrpcCallError. */
export async function xrpcCall<T = unknown>(call: XrpcCall): Promise<T> {
  const method = call.method ?? (call.body === undefined ? 'GET' : 'POST')
  const headers: Record<string, string> = { accept: 'application/json' }
  if (call.token) headers.authorization = `Bearer ${call.token}`
  if (call.body !== undefined) headers['content-type'] = 'application/json'
  const timeout = call.timeoutMs !== undefined ? AbortSignal.timeout(call.timeoutMs) : undefined
  const signal = timeout && call.signal ? AbortSignal.any([call.signal, timeout]) : (timeout ?? call.signal)
  let res: Response
  try {
    res = await (call.fetch ?? globalThis.fetch)(xrpcUrl(call.service, call.nsid, call.params), {
      method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal,
    })
  } catch (err) {
    const timedOut = err instanceof Error && err.name === 'TimeoutError'
    throw new XrpcCallError(1, timedOut ? 'Timeout' : 'Unknown', `${call.nsid}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err })
  }
  const text = await readCapped(res, call.maxResponseBytes ?? MAX_RESPONSE_BYTES, call.nsid)
  let json: unknown
  let parsed = true
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    parsed = false
  }
  if (res.ok) {
    if (!parsed) throw new XrpcCallError(res.status, 'InvalidResponse', `${call.nsid} returned invalid JSON (HTTP ${res.status})`)
    return json as T
  }
  const hdrs: Record<string, string> = {}
  res.headers?.forEach((v, k) => (hdrs[k] = v))
  const body = (parsed && json && typeof json === 'object' ? json : {}) as { error?: unknown; message?: unknown }
  const error = typeof body.error === 'string' ? body.error : undefined
  const message = typeof body.message === 'string' ? body.message : (!parsed && text.slice(0, 200)) || `HTTP ${res.status} ${res.statusText}`.trim()
  throw new XrpcCallError(res.status, error, message, hdrs)
}

async function readCapped(res: Response, limit: number, nsid: string): Promise<string> {
  const tooLarge = (bytes: number) => new XrpcCallError(res.status, 'ResponseTooLarge', `${nsid} answered with more than ${limit} bytes (${bytes}); refusing to read it`)
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
