// Owner actions on the web view (issue 15 part 2, contract §10): a person signs in with their handle
// through atproto OAuth and publishes or deletes their own workloads from the page. The meshlet is a
// loopback OAuth client (client_id http://localhost?redirect_uri=...): fine for a page opened on the
// machine itself, which is what a meshlet's web view is (it listens on loopback by default). The
// OAuth session's Agent writes to the OWNER's repo; app passwords never reach a browser. Sessions
// live in memory: a restarted meshlet asks its owners to sign in again.
//   GET  /oauth/login?handle=   -> the owner's authorization server (PAR, PKCE, DPoP by the client)
//   GET  /oauth/callback        <- back from it; sets the session cookie
//   POST /oauth/logout
//   POST /oauth/publish         name, image, command, replicas, cpuMillis, memoryMb
//   POST /oauth/delete          uri of one of the signed-in owner's workloads
import crypto from 'node:crypto'
import { Agent } from '@atproto/api'
import { buildAtprotoLoopbackClientMetadata, NodeOAuthClient, requestLocalLock, type NodeSavedSession, type NodeSavedState, type OAuthSession } from '@atproto/oauth-client-node'
import express from 'express'
import { NSID } from '../core/types.js'
import { describeError } from '../errors.js'
import type { Logger } from '../logger.js'
import { parseWorkloadFile } from '../client/submit.js'
import { html } from './html.js'

export const OWNER_COOKIE = 'meshlet_owner'
/** The atproto scope that lets the session write records (transition scope: what the dev PDS grants). */
export const OAUTH_SCOPE = 'atproto transition:generic'
const MAX_SESSIONS = 1000

export interface OwnerOAuthOptions {
  /** This server's URL once listening (http://127.0.0.1:port); loopback redirect URIs must use an IP. */
  baseUrl: () => string
  plcUrl: string
  /** A service answering com.atproto.identity.resolveHandle (a PDS); default DNS and /.well-known. */
  handleResolver?: string
  /** Dev only: authorization servers, PDSes and PLC over plain http. */
  allowHttp: boolean
  log: Logger
}

export interface Owner {
  did: string
  handle: string
}

export class OwnerOAuthError extends Error {
  constructor(
    message: string,
    readonly status = 400,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** Map-backed store: the client's state (PKCE verifiers, DPoP keys) and sessions, in memory. */
function memoryStore<V>() {
  const m = new Map<string, V>()
  return {
    get: async (k: string) => m.get(k),
    set: async (k: string, v: V) => {
      if (m.size >= MAX_SESSIONS && !m.has(k)) m.delete(m.keys().next().value!)
      m.set(k, v)
    },
    del: async (k: string) => void m.delete(k),
  }
}

/** The web server's side of owner sign-in: the OAuth client, and which browser is which owner. */
export class OwnerOAuth {
  private client?: NodeOAuthClient
  /** Cookie value -> owner; random 256-bit ids, only ever set by the callback. */
  private readonly cookies = new Map<string, Owner>()

  constructor(private readonly opts: OwnerOAuthOptions) {}

  /** Loopback redirect URIs must name 127.0.0.1 (RFC 8252): http://localhost:P becomes http://127.0.0.1:P. */
  origin(): string {
    const u = new URL(this.opts.baseUrl())
    if (u.hostname === 'localhost') u.hostname = '127.0.0.1'
    return u.origin
  }

  private oauth(): NodeOAuthClient {
    if (this.client) return this.client
    const redirect = `${this.origin()}/oauth/callback`
    this.client = new NodeOAuthClient({
      // client_id http://localhost?redirect_uri=...&scope=...: the metadata the server derives from it.
      clientMetadata: buildAtprotoLoopbackClientMetadata({ scope: OAUTH_SCOPE, redirect_uris: [redirect] }),
      stateStore: memoryStore<NodeSavedState>(),
      sessionStore: memoryStore<NodeSavedSession>(),
      plcDirectoryUrl: this.opts.plcUrl,
      ...(this.opts.handleResolver ? { handleResolver: this.opts.handleResolver } : {}),
      allowHttp: this.opts.allowHttp,
      requestLock: requestLocalLock,
    })
    return this.client
  }

  whoIs(req: express.Request): Owner | undefined {
    const sid = cookie(req, OWNER_COOKIE)
    return sid ? this.cookies.get(sid) : undefined
  }

  async loginUrl(handle: string): Promise<URL> {
    if (!/^[a-zA-Z0-9.:-]{3,253}$/.test(handle)) throw new OwnerOAuthError('enter your handle (like alice.example.com) or DID')
    try {
      return await this.oauth().authorize(handle, { scope: OAUTH_SCOPE })
    } catch (err) {
      throw new OwnerOAuthError(`cannot sign in as ${handle}: ${describeError(err)}`, 400, { cause: err })
    }
  }

  /** Completes the flow; returns the cookie value for the new browser session. */
  async callback(params: URLSearchParams): Promise<{ sid: string; owner: Owner }> {
    let session: OAuthSession
    try {
      ;({ session } = await this.oauth().callback(params))
    } catch (err) {
      throw new OwnerOAuthError(`sign-in failed: ${describeError(err)}`, 400, { cause: err })
    }
    // The handle shown is the one the DID document claims and that resolves back (bi-directional).
    const id = await this.oauth().identityResolver.resolve(session.did).catch(() => undefined)
    const owner = { did: session.did, handle: id?.handle && id.handle !== 'handle.invalid' ? id.handle : session.did }
    const sid = crypto.randomBytes(32).toString('base64url')
    if (this.cookies.size >= MAX_SESSIONS) this.cookies.delete(this.cookies.keys().next().value!)
    this.cookies.set(sid, owner)
    this.opts.log.info({ owner: owner.did }, 'owner signed in on the web view')
    return { sid, owner }
  }

  async logout(req: express.Request): Promise<void> {
    const sid = cookie(req, OWNER_COOKIE)
    const owner = sid ? this.cookies.get(sid) : undefined
    if (sid) this.cookies.delete(sid)
    if (owner && ![...this.cookies.values()].some((o) => o.did === owner.did)) await this.oauth().revoke(owner.did).catch(() => {})
  }

  /** An Agent writing to the owner's repo with the OAuth session (tokens refreshed as needed). */
  async agentFor(owner: Owner): Promise<Agent> {
    try {
      return new Agent(await this.oauth().restore(owner.did))
    } catch (err) {
      throw new OwnerOAuthError(`your session has ended (${describeError(err)}); sign in again`, 401, { cause: err })
    }
  }

  async publish(owner: Owner, form: Record<string, unknown>): Promise<string> {
    const record = workloadFromForm(form)
    const agent = await this.agentFor(owner)
    const res = await agent.com.atproto.repo.createRecord({ repo: owner.did, collection: NSID.workload, record })
    return res.data.uri
  }

  async deleteWorkload(owner: Owner, uri: unknown): Promise<void> {
    const m = typeof uri === 'string' ? /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri) : null
    if (!m || m[2] !== NSID.workload) throw new OwnerOAuthError('uri must be the at:// URI of a workload')
    if (m[1] !== owner.did) throw new OwnerOAuthError('that workload is not yours: only its owner may delete it', 403)
    const agent = await this.agentFor(owner)
    await agent.com.atproto.repo.deleteRecord({ repo: owner.did, collection: NSID.workload, rkey: m[3]! })
  }
}

/** The page's small form as a workload record, checked like `meshlet submit` checks a file. */
export function workloadFromForm(form: Record<string, unknown>): Record<string, unknown> {
  const str = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : '')
  const int = (k: string, dflt: number) => {
    const s = str(k)
    if (s === '') return dflt
    if (!/^\d{1,9}$/.test(s)) throw new OwnerOAuthError(`${k} must be a whole number, got ${JSON.stringify(s)}`)
    return Number(s)
  }
  const command = str('command')
  const data = {
    name: str('name'),
    image: str('image'),
    ...(command ? { command: command.split(/\s+/) } : {}),
    replicas: int('replicas', 1),
    resources: { cpuMillis: int('cpuMillis', 100), memoryMb: int('memoryMb', 64) },
  }
  try {
    return parseWorkloadFile(JSON.stringify(data), 'form.json', new Date())
  } catch (err) {
    throw new OwnerOAuthError(describeError(err).replace(/^form\.json:\s*/, ''), 400, { cause: err })
  }
}

function cookie(req: express.Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}

export const PLAIN_PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
}

export function problemPage(res: express.Response, err: unknown): void {
  const status = err instanceof OwnerOAuthError ? err.status : 500
  const msg = err instanceof OwnerOAuthError ? err.message : `unexpected error: ${describeError(err)}`
  res
    .status(status)
    .set(PLAIN_PAGE_HEADERS)
    .type('text/html; charset=utf-8')
    .send(html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>meshlet · sign-in</title><link rel="stylesheet" href="/assets/app.css"></head><body><main><p class="bad" id="problem">${msg}</p><p><a href="/">← commune</a></p></main></body></html>`.value)
}

// Same-origin check for every state-changing request (CSRF): browsers send Origin on POST (as
// "null" under Referrer-Policy no-referrer) and Sec-Fetch-Site, and another page can forge
// neither. A request with neither header is refused. SameSite=Lax on the cookie is the second line.
export function sameOriginCheck(oauth: OwnerOAuth): express.RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin
    const site = req.headers['sec-fetch-site']
    const ok = site !== undefined ? site === 'same-origin' && (origin === undefined || origin === 'null' || origin === oauth.origin()) : origin === oauth.origin()
    if (!ok) return problemPage(res, new OwnerOAuthError(`refused: this form must be sent from a page of ${oauth.origin()} (Origin ${origin ?? 'missing'}, Sec-Fetch-Site ${String(site ?? 'missing')})`, 403))
    next()
  }
}

export function signedInOwner(oauth: OwnerOAuth, req: express.Request): Owner {
  const owner = oauth.whoIs(req)
  if (!owner) throw new OwnerOAuthError('sign in first', 401)
  return owner
}

export function mountOwnerOAuth(app: express.Express, oauth: OwnerOAuth): void {
  const form = express.urlencoded({ extended: false, limit: '16kb' })
  const cookieAttrs = (maxAge?: number) => `Path=/; HttpOnly; SameSite=Lax${maxAge === undefined ? '' : `; Max-Age=${maxAge}`}`

  const sameOrigin = sameOriginCheck(oauth)
  const signedIn = (req: express.Request): Owner => signedInOwner(oauth, req)

  app.get('/oauth/login', async (req, res) => {
    try {
      const url = await oauth.loginUrl(typeof req.query.handle === 'string' ? req.query.handle.trim() : '')
      // A page that moves on, rather than a 302: the web view's CSP allows forms to post to itself
      // only, and browsers apply form-action to a form's redirects as well.
      res.set(PLAIN_PAGE_HEADERS).type('text/html; charset=utf-8').send(html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${url.href}"><title>meshlet · sign-in</title></head><body><p>Continue to <a id="continue" href="${url.href}">your PDS to sign in</a>.</p></body></html>`.value)
    } catch (err) {
      problemPage(res, err)
    }
  })

  app.get('/oauth/callback', async (req, res) => {
    try {
      const q = new URL(req.originalUrl, oauth.origin()).searchParams
      const { sid } = await oauth.callback(q)
      res.set('Set-Cookie', `${OWNER_COOKIE}=${sid}; ${cookieAttrs()}`).redirect(303, '/')
    } catch (err) {
      problemPage(res, err)
    }
  })

  app.post('/oauth/logout', sameOrigin, async (req, res) => {
    await oauth.logout(req)
    res.set('Set-Cookie', `${OWNER_COOKIE}=; ${cookieAttrs(0)}`).redirect(303, '/')
  })

  app.post('/oauth/publish', sameOrigin, form, async (req, res) => {
    try {
      const uri = await oauth.publish(signedIn(req), (req.body ?? {}) as Record<string, unknown>)
      res.redirect(303, `/?published=${encodeURIComponent(uri)}`)
    } catch (err) {
      problemPage(res, err)
    }
  })

  app.post('/oauth/delete', sameOrigin, form, async (req, res) => {
    try {
      await oauth.deleteWorkload(signedIn(req), (req.body as Record<string, unknown> | undefined)?.uri)
      res.redirect(303, '/')
    } catch (err) {
      problemPage(res, err)
    }
  })
}
