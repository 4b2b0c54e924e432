// The checks decoding is made of: lexicon results turned into reasons a person can act on, record
// keys, enums, URLs, strong refs, and clipping so a hostile value never comes back whole. (Image
// references: core/image-ref.ts, the grammar the engine edge uses too.) Each check throws Reject; decodeRecord turns that into a `rejected` event.
import { AtUri, isValidDid, isValidRecordKey, isValidTid } from '@atproto/syntax'
import type { CapacitySnapshot, Isolation, KeyValue, StrongRef, Thermal } from '../../core/types.js'

/** Thrown inside decoding only; turned into a `rejected` event before it leaves decode.ts. */
export class Reject extends Error {}

export function reject(reason: string): never {
  throw new Reject(reason)
}

interface LexIssue {
  path?: readonly PropertyKey[]
  message?: unknown
}
type SafeResult<T> = { success: true; value: T } | { success: false; reason: { message: string; issues?: readonly LexIssue[] } }

export function parse<T>(result: SafeResult<T>): T {
  if (!result.success) reject(lexReason(result.reason))
  return result.value
}

/**
 * "<problem> at <path>" for each issue. Built from the issues rather than the validator's own
 * message, which echoes a bad value in full (an object with a 40 KB key): the value is clipped
 * so the path, the part a person needs, survives any later truncation.
 */
export function lexReason(reason: { message: string; issues?: readonly LexIssue[] }): string {
  const issues = Array.isArray(reason.issues) ? reason.issues.filter((i) => typeof i?.message === 'string') : []
  if (issues.length === 0) return clip(String(reason.message), 400)
  const parts = issues.slice(0, 4).map((i) => `${clip(i.message as string, 200)} at ${clip(jsonPath(i.path ?? []), 200)}`)
  return parts.join(', ') + (issues.length > 4 ? ` (and ${issues.length - 4} more)` : '')
}

export function jsonPath(path: readonly PropertyKey[]): string {
  return `$${path.map((k) => (typeof k === 'string' ? (/^[a-zA-Z_$][a-zA-Z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`) : `[${String(k)}]`)).join('')}`
}

export function checkSize(value: unknown, limit: number): void {
  let json: string | undefined
  try {
    // Firehose records may carry CIDs and bytes: size them as their JSON form would be.
    json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  } catch (err) {
    reject(`record cannot be read as JSON: ${err instanceof Error ? err.message : String(err)}`)
  }
  const bytes = json === undefined ? 0 : Buffer.byteLength(json, 'utf8')
  if (bytes > limit) reject(`record is too large (${bytes} bytes; the limit is ${limit})`)
}

export function requireSelf(rkey: string): void {
  if (rkey !== 'self') reject(`record key must be "self" (got "${clip(rkey)}")`)
}

export function requireTid(rkey: string): void {
  if (!isValidTid(rkey)) reject(`record key must be a TID (got "${clip(rkey)}")`)
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], field: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    reject(`unknown ${field} ${JSON.stringify(clip(value))} (expected ${allowed.map((a) => `"${a}"`).join(', ')})`)
  }
  return value as T
}

export function checkHttpUrl(value: string, field: string): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    reject(`${field} ${JSON.stringify(clip(value))} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') reject(`${field} must be an http(s) URL (got ${JSON.stringify(clip(value))})`)
  if (!url.hostname) reject(`${field} ${JSON.stringify(clip(value))} has no host`)
}

export function strongRef(ref: { uri: string; cid: string }, collection: string, field: string): StrongRef {
  let parsed: AtUri
  try {
    parsed = new AtUri(ref.uri)
  } catch {
    reject(`${field}.uri ${JSON.stringify(clip(ref.uri))} is not a valid at-uri`)
  }
  if (!isValidDid(parsed.host)) reject(`${field}.uri must name its repo by DID (got ${JSON.stringify(clip(ref.uri))})`)
  if (parsed.collection !== collection || !parsed.rkey || !isValidRecordKey(parsed.rkey)) {
    reject(`${field}.uri must point to a ${collection} record (got ${JSON.stringify(clip(ref.uri))})`)
  }
  return { uri: ref.uri, cid: ref.cid }
}

export const THERMAL: readonly Thermal[] = ['nominal', 'warm', 'throttled', 'unknown']

export function capacity(c: {
  cpuMillisFree: number
  memoryMbFree: number
  cpuMillisTotal?: number
  memoryMbTotal?: number
  loadPermille?: number
  onBattery?: boolean
  batteryPermille?: number
  thermal?: string
  pendingReplicas?: number
}): CapacitySnapshot {
  return omitUndefined({
    cpuMillisFree: c.cpuMillisFree,
    memoryMbFree: c.memoryMbFree,
    cpuMillisTotal: c.cpuMillisTotal,
    memoryMbTotal: c.memoryMbTotal,
    loadPermille: c.loadPermille,
    onBattery: c.onBattery,
    batteryPermille: c.batteryPermille,
    // An open enum: a newer peer's value is only a hint, so it reads as "unknown" rather than failing the bid.
    thermal: c.thermal === undefined ? undefined : (THERMAL as readonly string[]).includes(c.thermal) ? (c.thermal as Thermal) : 'unknown',
    pendingReplicas: c.pendingReplicas, // burst spread (issue 16)
  })
}

export function keyValues(list: readonly { key: string; value: string }[] | undefined): KeyValue[] {
  return (list ?? []).map((kv) => ({ key: kv.key, value: kv.value }))
}

export function dedupe<T>(list: readonly T[]): T[] {
  return [...new Set(list)]
}

/** A value as JSON for a message; never throws (null-prototype objects, bigints, cycles). */
export function preview(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** Longest repo DID / record key echoed back for a record whose key is invalid. */
export const MAX_KEY_CHARS = 512

export function flatClip(s: string, max: number): string {
  return s.length > max ? Buffer.from(`${s.slice(0, max)}...`, 'utf8').toString('utf8') : s
}

export function clip(s: string, max = 120): string {
  return s.length > max ? `${s.slice(0, max)}...` : s
}

/** Drops keys whose value is undefined, so decoded values compare equal to what was encoded. */
export function omitUndefined<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v
  return out as T
}

/**
 * A profile's isolation claim in core words. Values a newer meshlet may publish that this one does
 * not know read as the weaker known value, so a requirement is never met by a word we cannot check.
 */
export function isolationOf(v: { network: string; hostBlocked: boolean; lanBlocked: boolean; readOnlyRoot: boolean; userns: string; storage: string; note?: string }): Isolation {
  return omitUndefined({
    network: v.network === 'owner-bridge' ? 'owner-bridge' : 'shared-bridge',
    hostBlocked: v.hostBlocked,
    lanBlocked: v.lanBlocked,
    readOnlyRoot: v.readOnlyRoot,
    userns: v.userns === 'rootless' || v.userns === 'userns-remap' ? v.userns : 'none',
    storage: v.storage === 'quota' ? 'quota' : 'watched',
    note: v.note,
  }) as Isolation
}
