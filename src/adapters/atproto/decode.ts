// The edge: an untrusted AT record becomes a core value or a rejection with a reason a person
// can act on. Lexicon validation first (generated validators), then what lexicons cannot say
// (record keys, $type vs collection, URL and image syntax, strongRef targets: record-checks.ts).
// Never throws.
import { isValidDid, isValidRecordKey } from '@atproto/syntax'
import {
  COLLECTIONS,
  NSID,
  type Bid,
  type Collection,
  type Did,
  type Privacy,
  type RecordEvent,
  type RestartPolicyName,
  type SchedulerRecord,
  type StatusState,
  type Workload,
  type WorkloadKind,
  type Delivery,
  type WorkloadNetwork,
} from '../../core/types.js'
import { truncateUtf8 } from '../../core/decide.js'
import type { WireRecord } from '../../ports/record-decoder.js'
import {
  MAX_KEY_CHARS,
  Reject,
  capacity,
  checkHttpUrl,
  checkSize,
  clip,
  dedupe,
  flatClip,
  keyValues,
  omitUndefined,
  oneOf,
  isolationOf,
  parse,
  preview,
  reject,
  requireSelf,
  requireTid,
  strongRef,
} from './record-checks.js'
import { statusRkey } from '../../core/hash.js'
import { appFields, endpointsOf, heldVolumesOf } from './decode-apps.js'
import { imageRefProblem } from '../../core/image-ref.js'
import { healthCheckOf, healthReportOf, updatePolicyOf } from './decode-health.js'
import * as bidLex from '../../lexicons/commune/scheduler/bid.js'
import * as membershipLex from '../../lexicons/commune/scheduler/membership.js'
import * as meshletLex from '../../lexicons/commune/scheduler/meshlet.js'
import * as meshletOwnerLex from '../../lexicons/commune/scheduler/meshletOwner.js'
import * as profileLex from '../../lexicons/commune/scheduler/profile.js'
import * as workloadLex from '../../lexicons/commune/scheduler/workload.js'
import * as workloadStatusLex from '../../lexicons/commune/scheduler/workloadStatus.js'
import { decodeSecret, sealingKeyProblem, workloadSecrets } from './decode-secrets.js'
import { guestPolicyOf, whenFields } from './decode-when.js' // when (issue 14)
import { decodeSuspicion, pingKeyOf } from './decode-liveness.js' // liveness (issue 16 part 3)

export const DEFAULT_BID_WINDOW_MS = 5000
const STATUS_STATES: readonly StatusState[] = ['pending', 'pulling', 'starting', 'running', 'exited', 'failed', 'stopped']
/** Records bigger than this (as JSON) are rejected before validation: no lexicon of ours comes close. */
export const MAX_RECORD_BYTES = 64 * 1024
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
          guestQuota: v.guestQuota && { maxContainers: v.guestQuota.maxContainers, cpuMillis: v.guestQuota.cpuMillis, memoryMb: v.guestQuota.memoryMb },
          isolation: v.isolation ? isolationOf(v.isolation) : undefined,
          sealingKey: v.sealingKey !== undefined && !sealingKeyProblem(v.sealingKey) ? v.sealingKey : undefined,
          guestPolicy: v.guestPolicy ? guestPolicyOf(v.guestPolicy) : undefined, // when (issue 14)
          updatedAt: v.updatedAt,
          // Services (issue 12, apps): the workload volumes it holds.
          volumes: heldVolumesOf(v.volumes),
          pingKey: pingKeyOf(v.pingKey), // liveness (issue 16 part 3)
        }),
      }
    }
    case NSID.workload: {
      requireTid(rkey)
      const v = parse(workloadLex.$safeParse(value))
      // The grammar the engine edge applies too (core/image-ref.ts): no peer accepts a record the engine would refuse.
      const imageProblem = imageRefProblem(v.image)
      if (imageProblem) reject(`image ${JSON.stringify(clip(v.image))}: ${imageProblem}`)
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
        // Defaults are left out, so a record without them decodes as before.
        network: v.network === undefined || v.network === 'owner' ? undefined : oneOf<WorkloadNetwork>(v.network, ['owner', 'none'], 'network'),
        writableRoot: v.writableRoot === true ? true : undefined,
        requires: v.requires?.isolation === true ? { isolation: true } : undefined,
        ...whenFields(v, kind), // when (issue 14): priority, window, when, schedule
        createdAt: v.createdAt,
        ...workloadSecrets(v),
        // issue 12 (health): bounds and shape checked in core/health.ts
        health: v.health ? healthCheckOf(v.health) : undefined,
        // issue 12 (rollout): services only
        update: v.update ? updatePolicyOf(v.update, kind) : undefined,
        // Services (issue 12, apps): ports and volumes.
        ...appFields(v),
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
        renounced: v.renounced ? [...v.renounced] : undefined,
        decline: v.decline,
        createdAt: v.createdAt,
      })
      return { collection, value: bid }
    }
    case NSID.workloadStatus: {
      const v = parse(workloadStatusLex.$safeParse(value))
      const state = oneOf<StatusState>(v.state, STATUS_STATES, 'state')
      const workload = strongRef(v.workload, NSID.workload, 'workload')
      const bid = v.bid ? strongRef(v.bid, NSID.bid, 'bid') : undefined
      // One status per (meshlet, workload), at a key nobody can search a collision for.
      const expected = statusRkey(workload.uri)
      if (rkey !== expected) reject(`invalid: status at rkey ${clip(rkey)}, expected ${expected}`)
      // Earlier versions' claims (docs/protocol.md, "Status history"); the lexicon caps their number.
      const history = v.history?.map((h, i) => {
        const ref = strongRef(h.bid, NSID.bid, `history[${i}].bid`)
        if (!ref.uri.startsWith(`at://${did}/`)) reject(`history[${i}].bid must be this meshlet's own bid (got ${JSON.stringify(clip(ref.uri))})`)
        return { cid: h.cid, bid: ref, priority: h.priority, replica: h.replica, state: oneOf<StatusState>(h.state, STATUS_STATES, `history[${i}].state`), startedAt: h.startedAt, updatedAt: h.updatedAt }
      })
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
          imageDigest: v.imageDigest,
          exitCode: v.exitCode,
          oomKilled: v.oomKilled,
          message: v.message,
          leaseMs: v.leaseMs,
          startedAt: v.startedAt,
          updatedAt: v.updatedAt,
          history,
          // issue 12 (health)
          health: v.health ? healthReportOf(v.health) : undefined,
          // Services (issue 12, apps): where its published ports answer.
          endpoints: endpointsOf(v.endpoints),
        }),
      }
    }
    // Secrets (issue 13)
    case NSID.secret:
      return { collection, value: decodeSecret(did, rkey, uri, value) }
    // liveness (issue 16 part 3)
    case NSID.suspicion:
      return { collection, value: decodeSuspicion(did, rkey, value) }
  }
}
