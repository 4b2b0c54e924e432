// atproto inter-service auth, in one place (PROTOCOL §5). Authentication: a bearer JWT minted by
// the caller's PDS (com.atproto.server.getServiceAuth), verified against the signing key in the
// caller's DID document, with aud = this meshlet and lxm = the method. Authorisation: who may call
// what, decided from the verified issuer only.
import type { IdResolver } from '@atproto/identity'
import { AtUri, isValidDid } from '@atproto/syntax'
import { verifyJwt, XRPCError, type MethodAuthContext } from '@atproto/xrpc-server'
import type { AtUri as AtUriString, Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { describeError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { ControlPlane } from '../ports/control-plane.js'
import { authRequired, forbidden, invalidRequest, workloadNotFound } from './errors.js'

/** Who called, once the token checked out. */
export interface ServiceCaller {
  /** The issuer's DID, without any `#service` fragment: what authorisation compares. */
  did: Did
  /** The `iss` claim as sent. */
  iss: string
  lxm: string
  /** Expiry, seconds since the epoch. */
  exp: number
}

export interface ServiceAuthResult {
  credentials: ServiceCaller
}

export interface ServiceAuthOptions {
  idResolver: IdResolver
  /** This meshlet's DID: the only accepted `aud`. */
  serviceDid: Did
  logger?: Logger
  /** How long a resolved signing key is trusted before the DID document is read again. */
  keyCacheTtlMs?: number
}

interface CachedKey {
  key: string
  at: number
}

const KEY_CACHE_MAX = 1024

export class ServiceAuth {
  private readonly keys = new Map<Did, CachedKey>()
  private readonly keyTtlMs: number

  constructor(private readonly opts: ServiceAuthOptions) {
    this.keyTtlMs = opts.keyCacheTtlMs ?? 5 * 60_000
  }

  get serviceDid(): Did {
    return this.opts.serviceDid
  }

  /** An xrpc-server `auth` option for method `nsid`. */
  verifier(nsid: string): (ctx: MethodAuthContext) => Promise<ServiceAuthResult> {
    return async ({ req }) => ({ credentials: await this.authenticate(req.headers.authorization, nsid) })
  }

  /** Verifies an `Authorization` header for method `nsid`. Throws AuthRequired (401) with the reason. */
  async authenticate(authorization: string | undefined, nsid: string): Promise<ServiceCaller> {
    const token = bearerToken(authorization)
    if (!token) {
      throw authRequired(
        `${nsid} needs atproto service auth: send "Authorization: Bearer <token>" with a token from ` +
          `com.atproto.server.getServiceAuth (aud=${this.serviceDid}, lxm=${nsid})`,
      )
    }
    const claims = peekClaims(token)
    if (!claims) throw authRequired('malformed service auth token: expected a JWT (header.payload.signature)')
    try {
      const payload = await verifyJwt(token, this.serviceDid, nsid, (iss, force) => this.signingKey(iss, force))
      return { did: issuerDid(payload.iss), iss: payload.iss, lxm: nsid, exp: payload.exp }
    } catch (err) {
      throw this.explain(err, claims, nsid)
    }
  }

  private async signingKey(iss: string, forceRefresh: boolean): Promise<string> {
    const did = issuerDid(iss)
    const cached = this.keys.get(did)
    if (!forceRefresh && cached && Date.now() - cached.at < this.keyTtlMs) return cached.key
    let key: string
    try {
      key = await this.opts.idResolver.did.resolveAtprotoKey(did, forceRefresh)
    } catch (err) {
      throw new IssuerResolutionError(did, describeError(err), { cause: err })
    }
    if (this.keys.size >= KEY_CACHE_MAX) this.keys.delete(this.keys.keys().next().value as Did)
    this.keys.set(did, { key, at: Date.now() })
    return key
  }

  /** Turns verifyJwt's terse codes into sentences naming the claim that is wrong. */
  private explain(err: unknown, claims: Claims, nsid: string): XRPCError {
    if (err instanceof IssuerResolutionError) {
      return authRequired(`cannot check the token: the issuer ${err.did} cannot be resolved (${err.reason})`, err)
    }
    const code = err instanceof XRPCError ? err.customErrorName : undefined
    switch (code) {
      case 'JwtExpired':
        return authRequired(`service auth token expired at ${isoSeconds(claims.exp)}; ask your PDS for a fresh one`, err)
      case 'BadJwtAudience':
        return authRequired(`token is for ${claims.aud ?? '(no aud)'}, this meshlet is ${this.serviceDid}`, err)
      case 'BadJwtLexiconMethod':
        return authRequired(
          claims.lxm === undefined
            ? `token has no lxm (method) claim; ask for one with lxm=${nsid}`
            : `token is for method ${claims.lxm}, not ${nsid}`,
          err,
        )
      case 'BadJwtIss':
        return authRequired(`token issuer ${JSON.stringify(truncate(claims.iss ?? '', 100))} is not a DID`, err)
      case 'BadJwtSignature':
        return authRequired(
          `token signature does not match the signing key in ${issuerDid(claims.iss ?? '')}'s DID document`,
          err,
        )
      case 'BadJwtType':
        return authRequired(`not a service auth token: ${describeError(err)}`, err)
      default:
        this.opts.logger?.debug({ err }, 'service auth token rejected')
        return authRequired('malformed service auth token', err)
    }
  }
}

/**
 * Members of this meshlet's active cluster (and its own owner) may read it. `what` names the
 * thing read, for the message.
 */
export function assertClusterMember(control: ControlPlane, caller: ServiceCaller, what: string): void {
  if (!control.isClusterMember(caller.did)) {
    throw forbidden(`${caller.did} is not in this meshlet's cluster: only members of this meshlet's cluster may read ${what}`)
  }
}

/**
 * The workload's owner only. The owner is the repo the record lives in, so a caller who is not
 * that DID is refused before the workload is looked up: non-owners cannot probe what exists here.
 * Returns the normalised URI. `verb` completes "may ... it".
 */
export function assertWorkloadOwner(control: ControlPlane, caller: ServiceCaller, uri: AtUriString, verb: string): AtUriString {
  const { owner } = parseWorkloadUri(uri)
  if (owner !== caller.did) throw forbidden(`only the workload's owner ${owner} may ${verb} it`)
  const known = control.workloadOwner(uri)
  if (known === undefined) throw workloadNotFound(uri)
  if (known !== caller.did) throw forbidden(`only the workload's owner ${known} may ${verb} it`)
  return uri
}

/** The meshlet's owner only. `action` completes "may ...", e.g. "shut it down". */
export function assertMeshletOwner(control: ControlPlane, caller: ServiceCaller, action: string): void {
  if (caller.did !== control.ownerDid) {
    throw forbidden(`only this meshlet's owner ${control.ownerDid} may ${action}`)
  }
}

/**
 * A workload URI must name the owner by DID and point at a commune.scheduler.workload record.
 * Throws InvalidRequest saying what is off.
 */
export function parseWorkloadUri(uri: unknown): { uri: AtUriString; owner: Did; rkey: string } {
  if (typeof uri !== 'string' || uri.length === 0) throw invalidRequest('uri is required: the at:// URI of a workload record')
  const expected = `expected at://<owner did>/${NSID.workload}/<rkey>`
  let parsed: AtUri
  try {
    parsed = new AtUri(uri)
  } catch (err) {
    throw invalidRequest(`uri ${JSON.stringify(truncate(uri, 120))} is not an at:// URI; ${expected}`, err)
  }
  if (!isValidDid(parsed.host)) {
    throw invalidRequest(`uri ${JSON.stringify(truncate(uri, 120))} names its repo by handle; ${expected}`)
  }
  if (parsed.collection !== NSID.workload || !parsed.rkey) {
    throw invalidRequest(`uri ${JSON.stringify(truncate(uri, 120))} is not a workload record; ${expected}`)
  }
  return { uri, owner: parsed.host, rkey: parsed.rkey }
}

/** `did:plc:abc#atproto_labeler` -> `did:plc:abc`: authorisation is about the account. */
export function issuerDid(iss: string): Did {
  const hash = iss.indexOf('#')
  return hash === -1 ? iss : iss.slice(0, hash)
}

class IssuerResolutionError extends Error {
  constructor(
    readonly did: string,
    readonly reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`cannot resolve ${did}: ${reason}`, opts)
    this.name = 'IssuerResolutionError'
  }
}

interface Claims {
  iss?: string
  aud?: string
  lxm?: string
  exp?: number
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** Reads the claims without trusting them, only to word error messages. */
function peekClaims(token: string): Claims | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'))
    if (typeof payload !== 'object' || payload === null) return undefined
    const p = payload as Record<string, unknown>
    return {
      iss: typeof p.iss === 'string' ? p.iss : undefined,
      aud: typeof p.aud === 'string' ? p.aud : undefined,
      lxm: typeof p.lxm === 'string' ? p.lxm : undefined,
      exp: typeof p.exp === 'number' ? p.exp : undefined,
    }
  } catch {
    return undefined
  }
}

function isoSeconds(exp: number | undefined): string {
  if (exp === undefined || !Number.isFinite(exp)) return '(unknown time)'
  const d = new Date(exp * 1000)
  return Number.isNaN(d.getTime()) ? String(exp) : d.toISOString()
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}...`
}
