// What bounds the cost of a caller: per-client rate limits (by remote address before any check,
// by issuer DID once the cheap checks passed), at most one forced key refresh per DID per interval,
// and the jti replay cache of procedures. All in memory and bounded.
import { LRUCache } from 'lru-cache'
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { ResponseType, XRPCError } from '@atproto/xrpc-server'
import type { Did } from '../core/types.js'
import { XRPC_ERROR } from './errors.js'

export interface RateLimit {
  /** Requests allowed per window. */
  points: number
  windowSec: number
}

export interface AuthLimitOptions {
  /** Every XRPC call from one remote address, counted before the token is read. */
  perAddress?: RateLimit
  /** Calls by one issuer (a member), counted after the cheap checks and before the key lookup. */
  perIssuer?: RateLimit
  /** A DID's key is re-fetched because of a bad signature at most once per this many ms. */
  forcedRefreshIntervalMs?: number
  /** Procedure token ids remembered at most (each until its token expires). */
  replayCacheMax?: number
}

export const DEFAULT_AUTH_LIMITS = {
  perAddress: { points: 1200, windowSec: 60 },
  perIssuer: { points: 600, windowSec: 60 },
  forcedRefreshIntervalMs: 60_000,
  replayCacheMax: 50_000,
} as const satisfies Required<AuthLimitOptions>

export function rateLimited(message: string, retryAfterSec: number): XRPCError {
  const err = new XRPCError(ResponseType.RateLimitExceeded, message, XRPC_ERROR.rateLimitExceeded)
  ;(err as XRPCError & { retryAfterSec?: number }).retryAfterSec = retryAfterSec
  return err
}

export class AuthLimits {
  private readonly byAddress: RateLimiterMemory
  private readonly byIssuer: RateLimiterMemory
  private readonly forced: LRUCache<Did, number>
  private readonly used: LRUCache<string, true>
  private readonly opts: Required<AuthLimitOptions>

  constructor(opts: AuthLimitOptions = {}, private readonly now: () => number = Date.now) {
    this.opts = { ...DEFAULT_AUTH_LIMITS, ...opts }
    this.byAddress = new RateLimiterMemory({ points: this.opts.perAddress.points, duration: this.opts.perAddress.windowSec })
    this.byIssuer = new RateLimiterMemory({ points: this.opts.perIssuer.points, duration: this.opts.perIssuer.windowSec })
    // Keys of forced refreshes are member DIDs only (the cheap checks ran first), so this stays small.
    this.forced = new LRUCache({ max: 4096 })
    this.used = new LRUCache({ max: this.opts.replayCacheMax })
  }

  /** Throws RateLimitExceeded (429) when `address` made too many calls in the window. */
  async consumeAddress(address: string): Promise<void> {
    await consume(this.byAddress, address, (s) => `too many requests from ${address}; try again in ${s} s`)
  }

  /** Throws RateLimitExceeded (429) when `did` made too many calls in the window. */
  async consumeIssuer(did: Did): Promise<void> {
    await consume(this.byIssuer, did, (s) => `too many requests by ${did}; try again in ${s} s`)
  }

  /**
   * May `did`'s key be fetched again, bypassing the cache? Once per interval: a stream of badly
   * signed tokens from a member's DID must not turn into a stream of directory fetches.
   */
  allowForcedRefresh(did: Did): boolean {
    const last = this.forced.get(did)
    const now = this.now()
    if (last !== undefined && now - last < this.opts.forcedRefreshIntervalMs) return false
    this.forced.set(did, now)
    return true
  }

  /**
   * Records a procedure token as used. False when it was used before (a replay). Remembered
   * until it expires: after that the expiry check refuses it anyway.
   */
  firstUse(did: Did, jti: string, expSec: number, clockSkewSec: number): boolean {
    const key = `${did} ${jti}`
    if (this.used.has(key)) return false
    const ttl = Math.max(1000, (expSec + clockSkewSec) * 1000 - this.now())
    this.used.set(key, true, { ttl })
    return true
  }
}

async function consume(limiter: RateLimiterMemory, key: string, message: (retrySec: number) => string): Promise<void> {
  try {
    await limiter.consume(key)
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err
    const retry = Math.max(1, Math.ceil(err.msBeforeNext / 1000))
    throw rateLimited(message(retry), retry)
  }
}
