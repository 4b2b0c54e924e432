// A logged-in session with one PDS over plain fetch: createSession, refreshSession when the access
// token expires, and JSON XRPC calls. The peer writes with five repo methods; @atproto/api's AtpAgent
// would load the whole generated API for them (~66 MB of RSS, BENCHMARKS.md §5).

/** An XRPC call that failed: `status` 1 means it never got an HTTP answer (as in @atproto/xrpc). */
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
}

interface SessionTokens {
  did: string
  handle?: string
  accessJwt: string
  refreshJwt: string
}

type DidDocLike = { service?: { id?: string; type?: string; serviceEndpoint?: unknown }[] }

export class PdsSession {
  private refreshing: Promise<void> | undefined

  private constructor(
    private service: string,
    private tokens: SessionTokens,
    private readonly fetchImpl: typeof globalThis.fetch,
  ) {}

  get did(): string {
    return this.tokens.did
  }

  get serviceUrl(): string {
    return this.service
  }

  static async login(service: string, identifier: string, password: string, fetchImpl: typeof globalThis.fetch = globalThis.fetch): Promise<PdsSession> {
    const base = service.replace(/\/+$/, '')
    const res = (await send(fetchImpl, base, 'com.atproto.server.createSession', 'POST', undefined, { identifier, password })) as SessionTokens & { didDoc?: DidDocLike }
    // Behind an entryway the account lives on another PDS: talk to the one its DID document names.
    return new PdsSession(pdsFromDidDoc(res.didDoc) ?? base, res, fetchImpl)
  }

  /** Adopts tokens obtained elsewhere (a devnet agent that is already logged in). */
  static fromTokens(service: string, tokens: SessionTokens, fetchImpl: typeof globalThis.fetch = globalThis.fetch): PdsSession {
    return new PdsSession(service.replace(/\/+$/, ''), tokens, fetchImpl)
  }

  async procedure<T>(nsid: string, body: unknown): Promise<T> {
    return this.authed<T>(nsid, 'POST', undefined, body)
  }

  async query<T>(nsid: string, params: Record<string, string>): Promise<T> {
    return this.authed<T>(nsid, 'GET', params, undefined)
  }

  private async authed<T>(nsid: string, method: 'GET' | 'POST', params: Record<string, string> | undefined, body: unknown): Promise<T> {
    try {
      return (await send(this.fetchImpl, this.service, nsid, method, params, body, this.tokens.accessJwt)) as T
    } catch (err) {
      if (!(err instanceof XrpcCallError) || !isExpired(err)) throw err
      await this.refresh()
      return (await send(this.fetchImpl, this.service, nsid, method, params, body, this.tokens.accessJwt)) as T
    }
  }

  private async refresh(): Promise<void> {
    // Concurrent calls that all saw the expired token share one refresh.
    this.refreshing ??= send(this.fetchImpl, this.service, 'com.atproto.server.refreshSession', 'POST', undefined, undefined, this.tokens.refreshJwt)
      .then((res) => {
        this.tokens = { ...this.tokens, ...(res as SessionTokens) }
      })
      .finally(() => {
        this.refreshing = undefined
      })
    return this.refreshing
  }
}

function isExpired(err: XrpcCallError): boolean {
  return (err.status === 400 || err.status === 401) && err.error === 'ExpiredToken'
}

function pdsFromDidDoc(doc: DidDocLike | undefined): string | undefined {
  const svc = doc?.service?.find((s) => s.id === '#atproto_pds' || s.id?.endsWith('#atproto_pds'))
  return typeof svc?.serviceEndpoint === 'string' ? svc.serviceEndpoint.replace(/\/+$/, '') : undefined
}

async function send(
  fetchImpl: typeof globalThis.fetch,
  base: string,
  nsid: string,
  method: 'GET' | 'POST',
  params: Record<string, string> | undefined,
  body: unknown,
  token?: string,
): Promise<unknown> {
  const url = `${base}/xrpc/${nsid}${params ? `?${new URLSearchParams(params)}` : ''}`
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (err) {
    throw new XrpcCallError(1, 'Unknown', `${nsid}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err })
  }
  const text = await res.text()
  let json: { error?: unknown; message?: unknown } | undefined
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const hdrs: Record<string, string> = {}
    res.headers.forEach((v, k) => (hdrs[k] = v))
    const error = typeof json?.error === 'string' ? json.error : undefined
    const message = typeof json?.message === 'string' ? json.message : `HTTP ${res.status} ${res.statusText}`.trim()
    throw new XrpcCallError(res.status, error, message, hdrs)
  }
  return json
}
