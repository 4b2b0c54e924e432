// Deterministic hashing shared by every peer. FNV-1a 64 is tiny, stable across languages and good
// enough to spread ties, but NOT cryptographic: keys a member must not be able to collide use SHA-256.
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import type { Cid, Did } from './types.js'

// 64-bit FNV-1a split into two 32-bit halves: the same result as the BigInt definition
// (offset 0xcbf29ce484222325, prime 0x100000001b3, mod 2^64) but ~20x faster, which matters
// because selection hashes every bid on every evaluation.
const OFFSET_HI = 0xcbf29ce4
const OFFSET_LO = 0x84222325
const PRIME_LO = 0x1b3 // prime = 2^40 + 0x1b3

/**
 * FNV-1a 64-bit over the UTF-8 bytes of `s`, as 16 lowercase hex digits (zero-padded).
 * Equal to the BigInt reference: h = 0xcbf29ce484222325; for each byte b: h = ((h ^ b) * 0x100000001b3) mod 2^64.
 */
export function fnv1a64Hex(s: string): string {
  let hi = OFFSET_HI
  let lo = OFFSET_LO
  const step = (b: number): void => {
    lo = (lo ^ b) >>> 0
    // (hi*2^32 + lo) * (2^40 + 0x1b3) mod 2^64; every partial product stays below 2^53.
    const loProd = lo * PRIME_LO
    const carry = Math.floor(loProd / 0x100000000)
    const newHi = (hi * PRIME_LO + carry + ((lo << 8) >>> 0)) >>> 0
    lo = loProd >>> 0
    hi = newHi
  }
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i)
    // Combine a valid surrogate pair into one code point; a lone surrogate encodes as U+FFFD (as TextEncoder does).
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
      } else c = 0xfffd
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd
    if (c < 0x80) step(c)
    else if (c < 0x800) {
      step(0xc0 | (c >> 6))
      step(0x80 | (c & 0x3f))
    } else if (c < 0x10000) {
      step(0xe0 | (c >> 12))
      step(0x80 | ((c >> 6) & 0x3f))
      step(0x80 | (c & 0x3f))
    } else {
      step(0xf0 | (c >> 18))
      step(0x80 | ((c >> 12) & 0x3f))
      step(0x80 | ((c >> 6) & 0x3f))
      step(0x80 | (c & 0x3f))
    }
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')
}

/**
 * The selection tiebreak key of a meshlet for one workload version: `fnv1a64Hex(`${cid}|${did}`)`.
 * Lower sorts first. Seeding with the workload cid means equal priorities do not always favour
 * the same DID across workloads.
 */
export function tiebreak(cid: Cid, did: Did): string {
  return memo(tiebreaks, `${cid}|${did}`, fnv1a64Hex)
}

// Selection re-ranks the same bids and re-checks the same status keys on every evaluation (a
// profile of the batch simulation: 25 % of its CPU was these two hashes). Both are pure functions
// of a string, so a bounded memo returns the same answer faster; emptied whole when full, which
// keeps it simple and its memory bounded.
const MEMO_MAX = 50_000
const tiebreaks = new Map<string, string>()
const statusRkeys = new Map<string, string>()
function memo(cache: Map<string, string>, key: string, f: (k: string) => string): string {
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  // Stryker disable next-line EqualityOperator,ConditionalExpression: when the memo is emptied changes only speed
  if (cache.size >= MEMO_MAX) cache.clear()
  const v = f(key)
  cache.set(key, v)
  return v
}

/** SHA-256 of the UTF-8 bytes of `s`, as 64 lowercase hex digits. For keys another member must not be able to collide. */
export function sha256Hex(s: string): string {
  return bytesToHex(sha256(utf8ToBytes(s)))
}

/** The one record key of a meshlet's status for a workload (docs/protocol.md, Verifiability): "s" + sha256Hex(uri). */
export function statusRkey(workloadUri: string): string {
  return memo(statusRkeys, workloadUri, (u) => `s${sha256Hex(u)}`)
}
