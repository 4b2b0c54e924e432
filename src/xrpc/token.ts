// The cheap half of service auth: read a bearer JWT's claims and check everything that needs no
// key (issuer form, aud, lxm, iat/exp, lifetime, jti) BEFORE anyone's DID document is fetched, so
// a forged token costs this meshlet a JSON parse, never a network request.
import { isValidDid } from '@atproto/syntax'
import type { Did } from '../core/types.js'
import { authRequired } from './errors.js'

export interface TokenPolicy {
  /** exp - iat may be at most this (seconds). A stolen token is worth this long, no longer. */
  maxLifetimeSec: number
  /** Tolerated clock difference between the issuer's PDS and this meshlet, for iat (seconds). */
  clockSkewSec: number
}

export const DEFAULT_TOKEN_POLICY: TokenPolicy = { maxLifetimeSec: 300, clockSkewSec: 30 }

/** Issuer DID methods a meshlet serves: accounts with a PDS. did:key has no document to revoke. */
const ISSUER_METHODS = ['plc', 'web']
/** A jti is an opaque id; getServiceAuth's are 32 hex characters. */
const MAX_JTI_LENGTH = 128

export interface TokenClaims {
  iss: string
  /** The issuer's DID, without any `#service` fragment: what authorisation compares. */
  did: Did
  aud: string
  lxm?: string
  exp: number
  iat: number
  jti?: string
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** `did:plc:abc#atproto_labeler` -> `did:plc:abc`: authorisation is about the account. */
export function issuerDid(iss: string): Did {
  const hash = iss.indexOf('#')
  return hash === -1 ? iss : iss.slice(0, hash)
}

/**
 * Reads the token's claims without trusting them and checks each one that needs no key. Throws
 * AuthRequired naming the claim that is wrong. `nowSec`: this meshlet's wall clock, in seconds.
 */
export function checkToken(
  token: string,
  expect: { aud: Did; lxm: string; procedure: boolean; nowSec: number; policy: TokenPolicy },
): TokenClaims {
  const parts = token.split('.')
  if (parts.length !== 3) throw authRequired('malformed service auth token: expected a JWT (header.payload.signature)')
  const header = parseSegment(parts[0]!)
  const p = parseSegment(parts[1]!)
  if (!header || typeof header.alg !== 'string') throw authRequired('malformed service auth token: the header names no signing algorithm')
  if (!p) throw authRequired('malformed service auth token: the payload is not a JSON object')
  if (typeof p.iss !== 'string' || typeof p.aud !== 'string' || typeof p.exp !== 'number') {
    throw authRequired('malformed service auth token: iss, aud and exp are required')
  }

  const did = issuerDid(p.iss)
  if (!isValidDid(did)) throw authRequired(`token issuer ${JSON.stringify(truncate(p.iss, 100))} is not a DID`)
  const method = did.split(':')[1]!
  if (!ISSUER_METHODS.includes(method)) {
    throw authRequired(`token issuer ${truncate(did, 100)} is a did:${truncate(method, 20)}; only did:plc and did:web accounts can call a meshlet`)
  }
  if (p.aud !== expect.aud) throw authRequired(`token is for ${truncate(p.aud, 200)}, this meshlet is ${expect.aud}`)
  if (p.lxm === undefined) throw authRequired(`token has no lxm (method) claim; ask for one with lxm=${expect.lxm}`)
  if (p.lxm !== expect.lxm) throw authRequired(`token is for method ${truncate(String(p.lxm), 200)}, not ${expect.lxm}`)

  const { nowSec, policy } = expect
  if (!Number.isFinite(p.exp)) throw authRequired('malformed service auth token: exp is not a time')
  if (nowSec > p.exp) throw authRequired(`service auth token expired at ${isoSeconds(p.exp)}; ask your PDS for a fresh one`)
  if (p.iat === undefined) {
    throw authRequired('token has no iat (issued-at) claim; a meshlet accepts only tokens that say when they were issued (getServiceAuth sets it)')
  }
  if (typeof p.iat !== 'number' || !Number.isFinite(p.iat)) throw authRequired('malformed service auth token: iat is not a time')
  if (p.iat > nowSec + policy.clockSkewSec) {
    throw authRequired(
      `token was issued in the future (iat ${isoSeconds(p.iat)}, ${Math.floor(p.iat - nowSec)} s ahead of this meshlet's clock; ` +
        `${policy.clockSkewSec} s of clock skew is tolerated)`,
    )
  }
  const lifetime = p.exp - p.iat
  if (lifetime > policy.maxLifetimeSec) {
    throw authRequired(
      `token is valid for ${Math.floor(lifetime)} s (iat ${isoSeconds(p.iat)} to exp ${isoSeconds(p.exp)}); this meshlet accepts at most ` +
        `${policy.maxLifetimeSec} s: ask your PDS for a shorter-lived one`,
    )
  }

  const jti = p.jti
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)) {
    throw authRequired(`malformed service auth token: jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`)
  }
  if (expect.procedure && jti === undefined) {
    throw authRequired(
      `token has no jti (unique token id); ${expect.lxm} changes things, so each token is accepted once and needs a jti (getServiceAuth sets one)`,
    )
  }
  return { iss: p.iss, did, aud: p.aud, lxm: p.lxm, exp: p.exp, iat: p.iat, ...(jti !== undefined ? { jti } : {}) }
}

function parseSegment(b64: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'))
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

export function isoSeconds(sec: number): string {
  const d = new Date(sec * 1000)
  return Number.isNaN(d.getTime()) ? String(sec) : d.toISOString()
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}...`
}
