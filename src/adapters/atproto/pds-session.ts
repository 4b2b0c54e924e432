// A logged-in session with one PDS: createSession, refreshSession when the access token expires,
// and JSON XRPC calls, all through the one XRPC client (xrpc-client.ts).
import { XrpcCallError, xrpcCall } from './xrpc-client.js'

export { XrpcCallError } from './xrpc-client.js'

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

function send(
  fetchImpl: typeof globalThis.fetch,
  base: string,
  nsid: string,
  method: 'GET' | 'POST',
  params: Record<string, string> | undefined,
  body: unknown,
  token?: string,
): Promise<unknown> {
  return xrpcCall({ service: base, nsid, method, params, body, token, fetch: fetchImpl })
}
