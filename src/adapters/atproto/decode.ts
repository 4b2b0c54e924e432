// The edge: an untrusted AT record becomes a core value or a rejection with a reason a person
// can act on. Lexicon validation first (generated validators), then what lexicons cannot say
// (record keys, $type vs collection, URL and image syntax, strongRef targets). Never throws.
import { AtUri, isValidDid, isValidRecordKey, isValidTid } from '@atproto/syntax'
import {
  COLLECTIONS,
  NSID,
  type Bid,
  type CapacitySnapshot,
  type Cid,
  type Collection,
  type Did,
  type KeyValue,
  type Privacy,
  type RecordEvent,
  type RestartPolicyName,
  type SchedulerRecord,
  type StatusState,
  type StrongRef,
  type Thermal,
  type Workload,
  type WorkloadKind,
  type Delivery,
} from '../../core/types.js'
import { truncateUtf8 } from '../../core/decide.js'
import type { WireRecord } from '../../ports/record-decoder.js'
import { statusRkey } from '../../core/hash.js'
import * as bidLex from '../../lexicons/commune/scheduler/bid.js'
import * as membershipLex from '../../lexicons/commune/scheduler/membership.js'
import * as meshletLex from '../../lexicons/commune/scheduler/meshlet.js'
import * as meshletOwnerLex from '../../lexicons/commune/scheduler/meshletOwner.js'
import * as profileLex from '../../lexicons/commune/scheduler/profile.js'
import * as workloadLex from '../../lexicons/commune/scheduler/workload.js'
import * as workloadStatusLex from '../../lexicons/commune/scheduler/workloadStatus.js'

export const DEFAULT_BID_WINDOW_MS = 5000
/** Records bigger than this (as JSON) are rejected before validation: no lexicon of ours comes close. */
export const MAX_RECORD_BYTES = 64 * 1024
export const MAX_IMAGE_LENGTH = 512
/**
 * A rejection reason is kept in memory, logged, and written into the owner's status record
 * (message max 2048 bytes): cap it in UTF-8 bytes, since validators echo hostile values verbatim.
 */
export const MAX_REASON_BYTES = 1000

export interface DecodeOptions {
  /** bidWindowMs for workloads that do not set one. */
  defaultBidWindowMs?: number
  maxRecordBytes?: number
}

export type RecordInput = WireRecord

const COLLECTION_SET: ReadonlySet<string> = new Set(COLLECTIONS)

export function isSchedulerCollection(collection: string): collection is Collection {
  return COLLECTION_SET.has(collection)
}

export function recordUri(did: Did, collection: string, rkey: string): string {
  return `at://${did}/${collection}/${rkey}`
}

/** Thrown inside decoding only; turned into a `rejected` event before leaving this module. */
class Reject extends Error {}

function reject(reason: string): never {
  throw new Reject(reason)
}

/**
 * Decodes one record of our collections. Returns undefined for any other collection (not ours),
 * `{op:'put'}` with the core value, or `{op:'rejected'}` with a human reason.
 */
export function decodeRecord(input: RecordInput, opts: DecodeOptions = {}): RecordEvent | undefined {
  const { collection, cid } = input
  if (!isSchedulerCollection(collection)) return undefined
  // A repo DID or record key that is not even valid cannot be addressed by any at-uri: the event
  // that reports it carries a bounded copy, so a hostile key cannot bloat what is kept about it.
  const did = isValidDid(input.did) ? input.did : flatClip(String(input.did), MAX_KEY_CHARS)
  const rkey = isValidRecordKey(input.rkey) ? input.rkey : flatClip(String(input.rkey), MAX_KEY_CHARS)
  const key = { did, collection, rkey, uri: recordUri(did, collection, rkey) }
  try {
    const record = decodeValue(input, collection, opts)
    return { ...key, op: 'put', cid, record }
  } catch (err) {
    const reason = err instanceof Reject ? err.message : `unexpected error while decoding: ${errorText(err)}`
    return { ...key, op: 'rejected', cid, reason: boundReason(reason) }
  }
}

function errorText(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err)
  } catch {
    return '(unprintable error)' // a hostile value's toString may itself throw
  }
}

/** One line, no control characters (log and terminal safety), at most MAX_REASON_BYTES of UTF-8. */
export function boundReason(reason: string): string {
  const line = String(reason).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/ {2,}/g, ' ').trim()
  if (!line) return 'record is invalid (no reason given)'
  const bounded = Buffer.byteLength(line, 'utf8') <= MAX_REASON_BYTES ? line : `${truncateUtf8(line, MAX_REASON_BYTES - 3)}...`
  // A fresh flat copy: a reason built from slices of a hostile 60 KB value would otherwise keep
  // that whole value alive for as long as the rejection is remembered.
  return Buffer.from(bounded, 'utf8').toString('utf8')
}

function decodeValue(input: RecordInput, collection: Collection, opts: DecodeOptions): SchedulerRecord {
  const { did, rkey, value } = input
  if (!isValidDid(did)) reject(`repo DID "${clip(String(did))}" is not a valid DID`)
  if (!isValidRecordKey(rkey)) reject(`record key "${clip(String(rkey))}" is not a valid record key`)
  checkSize(value, opts.maxRecordBytes ?? MAX_RECORD_BYTES)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) reject('record is not a JSON object')
  const type = (value as { $type?: unknown }).$type
  if (type === undefined) reject(`record has no $type (expected "${collection}")`)
  if (type !== collection) reject(`$type is ${typeof type === 'string' ? JSON.stringify(clip(type)) : clip(preview(type))} but the record is in collection "${collection}"`)

  const uri = recordUri(did, collection, rkey)
  switch (collection) {
    case NSID.meshlet: {
      const v = parse(meshletLex.$safeParse(value))
      if (rkey !== v.meshletDid) reject(`record key must be the meshlet's DID (got "${rkey}", meshletDid is "${v.meshletDid}")`)
      return { collection, value: { owner: did, meshlet: v.meshletDid } }
    }
    case NSID.meshletOwner: {
      requireSelf(rkey)
      const v = parse(meshletOwnerLex.$safeParse(value))
      return { collection, value: { meshlet: did, owner: v.ownerDid } }
    }
    case NSID.membership: {
      requireSelf(rkey)
      const v = parse(membershipLex.$safeParse(value))
      return { collection, value: { meshlet: did, members: dedupe(v.members) } }
    }
    case NSID.profile: {
      requireSelf(rkey)
      const v = parse(profileLex.$safeParse(value))
      checkHttpUrl(v.endpoint, 'endpoint')
      return {
        collection,
        value: omitUndefined({
          meshlet: did,
          endpoint: v.endpoint,
          roles: [...v.roles],
          labels: keyValues(v.labels),
          capabilities: [...(v.capabilities ?? [])],
          cpuMillis: v.cpuMillis,
          memoryMb: v.memoryMb,
          storageMb: v.storageMb,
          version: v.version,
          leaseMs: v.leaseMs,
          minOwnerBalance: v.minOwnerBalance,
          updatedAt: v.updatedAt,
        }),
      }
    }
    case NSID.workload: {
      requireTid(rkey)
      const v = parse(workloadLex.$safeParse(value))
      const imageProblem = checkImageReference(v.image)
      if (imageProblem) reject(`image ${JSON.stringify(clip(v.image))} ${imageProblem}`)
      const kind = oneOf<WorkloadKind>(v.kind ?? 'service', ['service', 'batch'], 'kind')
      const policy = oneOf<RestartPolicyName>(v.restart?.policy ?? (kind === 'batch' ? 'never' : 'always'), ['always', 'on-failure', 'never'], 'restart.policy')
      const privacy = oneOf<Privacy>(v.constraints?.privacy ?? 'shared', ['shared', 'owner-only'], 'constraints.privacy')
      const env = (v.env ?? []).map((e, i) => {
        if (e.name.includes('=') || e.name.includes('\0')) reject(`env[${i}].name ${JSON.stringify(clip(e.name))} cannot contain "=" or NUL`)
        return { name: e.name, value: e.value }
      })
      const workload: Workload = omitUndefined({
        uri,
        cid: input.cid,
        owner: did,
        rkey,
        name: v.name,
        image: v.image,
        replicas: v.replicas,
        resources: omitUndefined({ cpuMillis: v.resources.cpuMillis, memoryMb: v.resources.memoryMb, storageMb: v.resources.storageMb }),
        command: v.command ? [...v.command] : undefined,
        env,
        kind,
        restart: omitUndefined({ policy, maxRetries: v.restart?.maxRetries }),
        constraints: {
          roles: [...(v.constraints?.roles ?? [])],
          labels: keyValues(v.constraints?.labels),
          capabilities: [...(v.constraints?.capabilities ?? [])],
          members: dedupe(v.constraints?.members ?? []),
          privacy,
        },
        bidWindowMs: v.bidWindowMs ?? opts.defaultBidWindowMs ?? DEFAULT_BID_WINDOW_MS,
        delivery: oneOf<Delivery>(v.delivery ?? 'at-most-once', ['at-most-once', 'at-least-once'], 'delivery'),
        createdAt: v.createdAt,
      })
      return { collection, value: workload }
    }
    case NSID.bid: {
      requireTid(rkey)
      const v = parse(bidLex.$safeParse(value))
      const bid: Bid = omitUndefined({
        uri,
        cid: input.cid,
        meshlet: did,
        rkey,
        workload: strongRef(v.workload, NSID.workload, 'workload'),
        priority: v.priority,
        capacity: v.capacity ? capacity(v.capacity) : undefined,
        epoch: v.epoch,
        resources: v.resources ? omitUndefined({ cpuMillis: v.resources.cpuMillis, memoryMb: v.resources.memoryMb, storageMb: v.resources.storageMb }) : undefined,
        acks: v.acks ? v.acks.map((a) => ({ replica: a.replica, meshlet: a.meshlet })) : undefined,
        decline: v.decline,
        createdAt: v.createdAt,
      })
      return { collection, value: bid }
    }
    case NSID.workloadStatus: {
      const v = parse(workloadStatusLex.$safeParse(value))
      const state = oneOf<StatusState>(v.state, ['pending', 'pulling', 'starting', 'running', 'exited', 'failed', 'stopped'], 'state')
      const workload = strongRef(v.workload, NSID.workload, 'workload')
      const bid = v.bid ? strongRef(v.bid, NSID.bid, 'bid') : undefined
      // One status per (meshlet, workload), at a key nobody can search a collision for.
      const expected = statusRkey(workload.uri)
      if (rkey !== expected) reject(`invalid: status at rkey ${clip(rkey)}, expected ${expected}`)
      return {
        collection,
        value: omitUndefined({
          uri,
          cid: input.cid,
          meshlet: did,
          workload,
          state,
          bid,
          priority: v.priority,
          replica: v.replica,
          containerId: v.containerId,
          exitCode: v.exitCode,
          oomKilled: v.oomKilled,
          message: v.message,
          leaseMs: v.leaseMs,
          startedAt: v.startedAt,
          updatedAt: v.updatedAt,
        }),
      }
    }
  }
}

interface LexIssue {
  path?: readonly PropertyKey[]
  message?: unknown
}
type SafeResult<T> = { success: true; value: T } | { success: false; reason: { message: string; issues?: readonly LexIssue[] } }

function parse<T>(result: SafeResult<T>): T {
  if (!result.success) reject(lexReason(result.reason))
  return result.value
}

/**
 * "<problem> at <path>" for each issue. Built from the issues rather than the validator's own
 * message, which echoes a bad value in full (an object with a 40 KB key): the value is clipped
 * so the path, the part a person needs, survives any later truncation.
 */
function lexReason(reason: { message: string; issues?: readonly LexIssue[] }): string {
  const issues = Array.isArray(reason.issues) ? reason.issues.filter((i) => typeof i?.message === 'string') : []
  if (issues.length === 0) return clip(String(reason.message), 400)
  const parts = issues.slice(0, 4).map((i) => `${clip(i.message as string, 200)} at ${clip(jsonPath(i.path ?? []), 200)}`)
  return parts.join(', ') + (issues.length > 4 ? ` (and ${issues.length - 4} more)` : '')
}

function jsonPath(path: readonly PropertyKey[]): string {
  return `$${path.map((k) => (typeof k === 'string' ? (/^[a-zA-Z_$][a-zA-Z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`) : `[${String(k)}]`)).join('')}`
}

function checkSize(value: unknown, limit: number): void {
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

function requireSelf(rkey: string): void {
  if (rkey !== 'self') reject(`record key must be "self" (got "${clip(rkey)}")`)
}

function requireTid(rkey: string): void {
  if (!isValidTid(rkey)) reject(`record key must be a TID (got "${clip(rkey)}")`)
}

function oneOf<T extends string>(value: string, allowed: readonly T[], field: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    reject(`unknown ${field} ${JSON.stringify(clip(value))} (expected ${allowed.map((a) => `"${a}"`).join(', ')})`)
  }
  return value as T
}

function checkHttpUrl(value: string, field: string): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    reject(`${field} ${JSON.stringify(clip(value))} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') reject(`${field} must be an http(s) URL (got ${JSON.stringify(clip(value))})`)
  if (!url.hostname) reject(`${field} ${JSON.stringify(clip(value))} has no host`)
}

function strongRef(ref: { uri: string; cid: string }, collection: string, field: string): StrongRef {
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

const THERMAL: readonly Thermal[] = ['nominal', 'warm', 'throttled', 'unknown']

function capacity(c: {
  cpuMillisFree: number
  memoryMbFree: number
  loadPermille?: number
  onBattery?: boolean
  batteryPermille?: number
  thermal?: string
}): CapacitySnapshot {
  return omitUndefined({
    cpuMillisFree: c.cpuMillisFree,
    memoryMbFree: c.memoryMbFree,
    loadPermille: c.loadPermille,
    onBattery: c.onBattery,
    batteryPermille: c.batteryPermille,
    // An open enum: a newer peer's value is only a hint, so it reads as "unknown" rather than failing the bid.
    thermal: c.thermal === undefined ? undefined : (THERMAL as readonly string[]).includes(c.thermal) ? (c.thermal as Thermal) : 'unknown',
  })
}

function keyValues(list: readonly { key: string; value: string }[] | undefined): KeyValue[] {
  return (list ?? []).map((kv) => ({ key: kv.key, value: kv.value }))
}

function dedupe<T>(list: readonly T[]): T[] {
  return [...new Set(list)]
}

/** A value as JSON for a message; never throws (null-prototype objects, bigints, cycles). */
function preview(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** Longest repo DID / record key echoed back for a record whose key is invalid. */
const MAX_KEY_CHARS = 512

function flatClip(s: string, max: number): string {
  return s.length > max ? Buffer.from(`${s.slice(0, max)}...`, 'utf8').toString('utf8') : s
}

function clip(s: string, max = 120): string {
  return s.length > max ? `${s.slice(0, max)}...` : s
}

/** Drops keys whose value is undefined, so decoded values compare equal to what was encoded. */
export function omitUndefined<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v
  return out as T
}

// Docker/distribution reference grammar (github.com/distribution/reference), anchored.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
const TAG = '[\\w][\\w.-]{0,127}'
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}'
const REFERENCE_RE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`)

/** Why `image` is not a plausible OCI reference, or undefined when it is. */
export function checkImageReference(image: string): string | undefined {
  if (image.length === 0) return 'is empty'
  if (image.length > MAX_IMAGE_LENGTH) return `is too long (${image.length} characters; the limit is ${MAX_IMAGE_LENGTH})`
  if (/\s/.test(image)) return 'contains whitespace'
  const slash = image.indexOf('/')
  const first = slash === -1 ? '' : image.slice(0, slash)
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')
  const rest = hasDomain ? image.slice(slash + 1) : image
  const repository = rest.split('@')[0]!.replace(/:[^/]*$/, '')
  if (/[A-Z]/.test(repository)) return 'has uppercase letters in the repository name (it must be lowercase)'
  if (!REFERENCE_RE.test(image)) return 'is not a valid OCI image reference (expected [registry/]name[:tag][@digest])'
  return undefined
}
