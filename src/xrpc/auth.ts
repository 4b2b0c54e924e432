// atproto inter-service auth, in one place (PROTOCOL §5). Authentication: a bearer JWT minted by
// the caller's PDS (com.atproto.server.getServiceAuth), verified against the signing key in the
// caller's DID document, with aud = this meshlet and lxm = the method. Cheapest checks first, so a
// stranger's token never costs a network fetch (docs/reliability.md, Security):
//   remote-address rate limit -> claims (token.ts: did:plc/did:web issuer, aud, lxm, iat, exp,
//   lifetime, jti for procedures) -> is the issuer someone this meshlet serves? -> per-issuer rate
//   limit -> signing key (cached; forced refreshes limited) + signature -> jti not used before.
// Authorisation (who may call what) is in authorize.ts.
import type { IdResolver } from '@atproto/identity'
import { LRUCache } from 'lru-cache'
import { verifyJwt, XRPCError, type MethodAuthContext } from '@atproto/xrpc-server'
import type { Did } from '../core/types.js'
import { describeError } from '../errors.js'
import type { Logger } from '../logger.js'
import { AuthLimits, type AuthLimitOptions } from './auth-limits.js'
import type { ServiceCaller } from './authorize.js'
import { authRequired, forbidden } from './errors.js'
import { bearerToken, checkToken, DEFAULT_TOKEN_POLICY, issuerDid, type TokenPolicy } from './token.js'

export { assertClusterMember, assertMeshletOwner, assertWorkloadOwner, parseWorkloadUri, type ServiceCaller } from './authorize.js'
export { issuerDid } from './token.js'

export interface ServiceAuthResult {
  credentials: ServiceCaller
}

export interface ServiceAuthOptions {
  idResolver: IdResolver
  /** This meshlet's DID: the only accepted `aud`. */
  serviceDid: Did
  /**
   * Is `did` someone this meshlet serves (its owner, its own DID, members of its cluster and their
   * meshlets)? Asked BEFORE any key is fetched: nobody else's DID document is ever looked up.
   */
  isKnownIssuer: (did: Did) => boolean
  logger?: Logger
  /** How long a resolved signing key is trusted before the DID document is read again. */
  keyCacheTtlMs?: number
  /** Token lifetime cap and clock skew (default 300 s and 30 s). */
  tokens?: Partial<TokenPolicy>
  limits?: AuthLimitOptions
  /** Wall clock in ms (tests). */
  now?: () => number
}

/** What a request brings besides its Authorization header. */
export interface RequestInfo {
  /** Remote address, the key of the first rate limit. */
  address: string
  /** A procedure (POST) whose token is accepted once (all but notify's, see verifier). */
  procedure: boolean
}

const KEY_CACHE_MAX = 1024

export class ServiceAuth {
  private readonly keys: LRUCache<Did, string>
  private readonly limits: AuthLimits
  private readonly policy: TokenPolicy
  private readonly now: () => number

  constructor(private readonly opts: ServiceAuthOptions) {
    this.now = opts.now ?? Date.now
    this.keys = new LRUCache({ max: KEY_CACHE_MAX, ttl: opts.keyCacheTtlMs ?? 5 * 60_000 })
    this.limits = new AuthLimits(opts.limits, this.now)
    this.policy = { ...DEFAULT_TOKEN_POLICY, ...opts.tokens }
  }

  get serviceDid(): Did {
    return this.opts.serviceDid
  }

  /**
   * An xrpc-server `auth` option for method `nsid`. `reusable`: a procedure whose token may be used
   * again until it expires (notify: a hint changes nothing by itself and is idempotent).
   */
  verifier(nsid: string, opts: { reusable?: boolean } = {}): (ctx: MethodAuthContext) => Promise<ServiceAuthResult> {
    return async ({ req, res }) => {
      const info = { address: req.socket?.remoteAddress ?? 'unknown', procedure: req.method === 'POST' && !opts.reusable }
      try {
        return { credentials: await this.authenticate(req.headers.authorization, nsid, info) }
      } catch (err) {
        const retry = (err as { retryAfterSec?: unknown }).retryAfterSec
        if (typeof retry === 'number') res.setHeader('Retry-After', String(retry))
        throw err
      }
    }
  }

  /**
   * Verifies an `Authorization` header for method `nsid`. Throws AuthRequired (401) with the
   * reason, Forbidden (403) for an issuer this meshlet does not serve, RateLimitExceeded (429).
   */
  async authenticate(authorization: string | undefined, nsid: string, info: RequestInfo = { address: 'local', procedure: false }): Promise<ServiceCaller> {
    await this.limits.consumeAddress(info.address)
    const token = bearerToken(authorization)
    if (!token) {
      throw authRequired(
        `${nsid} needs atproto service auth: send "Authorization: Bearer <token>" with a token from ` +
          `com.atproto.server.getServiceAuth (aud=${this.serviceDid}, lxm=${nsid})`,
      )
    }
    const claims = checkToken(token, { aud: this.serviceDid, lxm: nsid, procedure: info.procedure, nowSec: this.now() / 1000, policy: this.policy })
    if (!this.opts.isKnownIssuer(claims.did)) {
      throw forbidden(
        `${claims.did} is not in this meshlet's cluster: only its owner, members of its cluster and their meshlets may call ${nsid} ` +
          `(the token was not checked further)`,
      )
    }
    await this.limits.consumeIssuer(claims.did)
    try {
      await verifyJwt(token, this.serviceDid, nsid, (iss, force) => this.signingKey(iss, force))
    } catch (err) {
      throw this.explain(err, claims.did)
    }
    if (info.procedure && !this.limits.firstUse(claims.did, claims.jti!, claims.exp, this.policy.clockSkewSec)) {
      throw authRequired(`this token was already used (jti ${claims.jti}); a token for ${nsid} works once: ask your PDS for a fresh one`)
    }
    return { did: claims.did, iss: claims.iss, lxm: nsid, exp: claims.exp }
  }

  private async signingKey(iss: string, forceRefresh: boolean): Promise<string> {
    const did = issuerDid(iss)
    const cached = this.keys.get(did)
    // A bad signature asks for a fresh key (the issuer may have rotated it); once per interval per
    // DID, else a member's stream of badly signed tokens becomes a stream of directory fetches.
    const force = forceRefresh && this.limits.allowForcedRefresh(did)
    if (cached && !force) return cached
    let key: string
    try {
      key = await this.opts.idResolver.did.resolveAtprotoKey(did, force)
    } catch (err) {
      throw new IssuerResolutionError(did, describeError(err), { cause: err })
    }
    this.keys.set(did, key)
    return key
  }

  /** Turns verifyJwt's terse codes into sentences (the claims were checked already, by token.ts). */
  private explain(err: unknown, did: Did): XRPCError {
    if (err instanceof IssuerResolutionError) {
      return authRequired(`cannot check the token: the issuer ${err.did} cannot be resolved (${err.reason})`, err)
    }
    const code = err instanceof XRPCError ? err.customErrorName : undefined
    switch (code) {
      case 'JwtExpired':
        return authRequired('service auth token expired; ask your PDS for a fresh one', err)
      case 'BadJwtSignature':
        return authRequired(`token signature does not match the signing key in ${did}'s DID document`, err)
      case 'BadJwtType':
        return authRequired(`not a service auth token: ${describeError(err)}`, err)
      default:
        this.opts.logger?.debug({ err }, 'service auth token rejected')
        return authRequired('malformed service auth token', err)
    }
  }
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
