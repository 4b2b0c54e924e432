// Core values -> wire records. Every record is checked against its lexicon before it leaves,
// so a bug upstream fails here with a reason instead of landing in a public repo. Pure (the
// generated validators are pure), so it lives in core: services build records here and hand them
// to the RecordPublisher port, and every peer encodes the protocol's records the same way.
import {
  NSID,
  type Bid,
  type Did,
  type MeshletLink,
  type MeshletOwnerClaim,
  type Membership,
  type Profile,
  type Workload,
  type WorkloadStatus,
  type RecordValue,
  type Resources,
} from './types.js'
import * as bidLex from '../lexicons/commune/scheduler/bid.js'
import * as membershipLex from '../lexicons/commune/scheduler/membership.js'
import * as meshletLex from '../lexicons/commune/scheduler/meshlet.js'
import * as meshletOwnerLex from '../lexicons/commune/scheduler/meshletOwner.js'
import * as suspicionLex from '../lexicons/commune/scheduler/suspicion.js' // liveness (issue 16 part 3)
import * as profileLex from '../lexicons/commune/scheduler/profile.js'
import * as workloadLex from '../lexicons/commune/scheduler/workload.js'
import * as workloadStatusLex from '../lexicons/commune/scheduler/workloadStatus.js'
import { fnv1a64Hex, statusRkey } from './hash.js'
import { truncateUtf8 } from './decide.js'
import { RecordEncodeError } from '../errors.js'

// statusRkey is the core's SHA-256 key (docs/protocol.md, Hashes and record keys): one definition for writer and checker.
export { fnv1a64Hex, statusRkey }

/** Record key of the one-per-repo records (meshletOwner, membership, profile). */
export const SELF_RKEY = 'self'

export type BidInput = Pick<Bid, 'workload' | 'priority' | 'createdAt'> & Partial<Pick<Bid, 'capacity' | 'decline' | 'epoch' | 'resources' | 'acks' | 'renounced'>>
export type StatusInput = Omit<WorkloadStatus, 'uri' | 'cid' | 'meshlet'>
export type WorkloadInput = Omit<Workload, 'uri' | 'cid' | 'owner' | 'rkey'>

type SafeResult = { success: true } | { success: false; reason: { message: string } }

function finish(collection: string, value: Record<string, unknown>, check: (v: unknown) => SafeResult): RecordValue {
  const record = stripUndefined({ $type: collection, ...value }) as RecordValue
  const result = check(record)
  if (!result.success) throw new RecordEncodeError(collection, result.reason.message)
  return record
}

/** The AT data model has no floats: round, and refuse what is not a finite number. */
function int(collection: string, field: string, n: number): number
function int(collection: string, field: string, n: number | undefined): number | undefined
function int(collection: string, field: string, n: number | undefined): number | undefined {
  if (n === undefined) return undefined
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new RecordEncodeError(collection, `${field} must be a finite number (got ${String(n)})`)
  const r = Math.round(n)
  if (!Number.isSafeInteger(r)) throw new RecordEncodeError(collection, `${field} is out of range (got ${n})`)
  return r
}

function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v)
    return out
  }
  return value
}

/** `commune.scheduler.meshlet` in the OWNER's repo; its rkey must be `link.meshlet`. */
export function encodeMeshletLink(link: Pick<MeshletLink, 'meshlet'>, createdAt: string): RecordValue {
  return finish(NSID.meshlet, { meshletDid: link.meshlet, createdAt }, (v) => meshletLex.$safeParse(v))
}

/** `commune.scheduler.meshletOwner` (rkey `self`) in the meshlet's repo. */
export function encodeMeshletOwner(claim: Pick<MeshletOwnerClaim, 'owner'>, createdAt: string): RecordValue {
  return finish(NSID.meshletOwner, { ownerDid: claim.owner, createdAt }, (v) => meshletOwnerLex.$safeParse(v))
}

/** `commune.scheduler.membership` (rkey `self`); duplicate members are dropped. */
export function encodeMembership(membership: Pick<Membership, 'members'>, createdAt: string): RecordValue {
  return finish(NSID.membership, { members: [...new Set(membership.members)], createdAt }, (v) => membershipLex.$safeParse(v))
}

/** `commune.scheduler.profile` (rkey `self`). */
export function encodeProfile(p: Omit<Profile, 'meshlet'>): RecordValue {
  const c = NSID.profile
  return finish(
    c,
    {
      endpoint: p.endpoint,
      roles: [...p.roles],
      labels: p.labels.map((l) => ({ key: l.key, value: l.value })),
      capabilities: [...p.capabilities],
      cpuMillis: int(c, 'cpuMillis', p.cpuMillis),
      memoryMb: int(c, 'memoryMb', p.memoryMb),
      storageMb: int(c, 'storageMb', p.storageMb),
      version: p.version,
      leaseMs: int(c, 'leaseMs', p.leaseMs),
      minOwnerBalance: int(c, 'minOwnerBalance', p.minOwnerBalance),
      guestQuota: p.guestQuota && {
        maxContainers: int(c, 'guestQuota.maxContainers', p.guestQuota.maxContainers),
        cpuMillis: int(c, 'guestQuota.cpuMillis', p.guestQuota.cpuMillis),
        memoryMb: int(c, 'guestQuota.memoryMb', p.guestQuota.memoryMb),
      },
      isolation: p.isolation && { ...p.isolation },
      sealingKey: p.sealingKey,
      // when (issue 14)
      guestPolicy: p.guestPolicy && {
        ...p.guestPolicy,
        window: p.guestPolicy.window && { ...p.guestPolicy.window },
        activeLoadPermille: int(c, 'guestPolicy.activeLoadPermille', p.guestPolicy.activeLoadPermille),
        activeMinutes: int(c, 'guestPolicy.activeMinutes', p.guestPolicy.activeMinutes),
      },
      updatedAt: p.updatedAt,
      // Services (issue 12, apps): held volumes.
      volumes: p.volumes?.length ? p.volumes.map((h) => ({ workload: h.workload, name: h.name })) : undefined,
      pingKey: p.pingKey, // liveness (issue 16 part 3)
    },
    (v) => profileLex.$safeParse(v),
  )
}

/** liveness (issue 16 part 3): `commune.scheduler.suspicion` (rkey = the subject's DID). */
export function encodeSuspicion(subject: Did, createdAt: string): RecordValue {
  return finish(NSID.suspicion, { subject, createdAt }, (v) => suspicionLex.$safeParse(v))
}

/** `commune.scheduler.bid` (rkey: a TID, i.e. created). */
export function encodeBid(b: BidInput): RecordValue {
  const c = NSID.bid
  const cap = b.capacity
  return finish(
    c,
    {
      workload: { uri: b.workload.uri, cid: b.workload.cid },
      priority: int(c, 'priority', b.priority),
      capacity: cap && {
        cpuMillisFree: int(c, 'capacity.cpuMillisFree', Math.max(0, cap.cpuMillisFree)),
        memoryMbFree: int(c, 'capacity.memoryMbFree', Math.max(0, cap.memoryMbFree)),
        cpuMillisTotal: int(c, 'capacity.cpuMillisTotal', cap.cpuMillisTotal),
        memoryMbTotal: int(c, 'capacity.memoryMbTotal', cap.memoryMbTotal),
        loadPermille: int(c, 'capacity.loadPermille', cap.loadPermille),
        onBattery: cap.onBattery,
        batteryPermille: int(c, 'capacity.batteryPermille', cap.batteryPermille),
        thermal: cap.thermal,
        pendingReplicas: int(c, 'capacity.pendingReplicas', cap.pendingReplicas), // burst spread (issue 16)
      },
      epoch: int(c, 'epoch', b.epoch),
      resources: b.resources && encodeResources(c, b.resources),
      acks: b.acks && b.acks.map((a) => ({ replica: int(c, 'acks.replica', a.replica), meshlet: a.meshlet })),
      renounced: b.renounced && b.renounced.map((r) => int(c, 'renounced', r)),
      decline: b.decline,
      createdAt: b.createdAt,
    },
    (v) => bidLex.$safeParse(v),
  )
}

/** `resources` as the workload and bid lexicons share it (commune.scheduler.defs#resources). */
function encodeResources(c: string, r: Resources) {
  return {
    cpuMillis: int(c, 'resources.cpuMillis', r.cpuMillis),
    memoryMb: int(c, 'resources.memoryMb', r.memoryMb),
    storageMb: int(c, 'resources.storageMb', r.storageMb),
  }
}

/** `commune.scheduler.workloadStatus`; publish it at rkey `statusRkey(s.workload.uri)`. */
export function encodeStatus(s: StatusInput): RecordValue {
  const c = NSID.workloadStatus
  return finish(
    c,
    {
      workload: { uri: s.workload.uri, cid: s.workload.cid },
      state: s.state,
      bid: s.bid && { uri: s.bid.uri, cid: s.bid.cid },
      priority: int(c, 'priority', s.priority),
      replica: int(c, 'replica', s.replica),
      containerId: s.containerId,
      imageDigest: s.imageDigest === undefined ? undefined : truncate(s.imageDigest, 256),
      exitCode: int(c, 'exitCode', s.exitCode),
      oomKilled: s.oomKilled,
      message: s.message === undefined ? undefined : truncate(s.message, 2048),
      leaseMs: int(c, 'leaseMs', s.leaseMs),
      startedAt: s.startedAt,
      updatedAt: s.updatedAt,
      history: s.history?.length
        ? s.history.map((h) => ({ cid: h.cid, bid: { uri: h.bid.uri, cid: h.bid.cid }, priority: int(c, 'history.priority', h.priority), replica: int(c, 'history.replica', h.replica), state: h.state, startedAt: h.startedAt, updatedAt: h.updatedAt }))
        : undefined,
      // issue 12 (health)
      health: s.health && { state: s.health.state, failures: int(c, 'health.failures', s.health.failures), restarts: int(c, 'health.restarts', s.health.restarts), lastFailure: s.health.lastFailure === undefined ? undefined : truncate(s.health.lastFailure, 512), lastFailureAt: s.health.lastFailureAt },
      // Services (issue 12, apps): endpoints.
      endpoints: s.endpoints?.length ? s.endpoints.map((e) => ({ name: e.name, url: e.url })) : undefined,
    },
    (v) => workloadStatusLex.$safeParse(v),
  )
}

/** `commune.scheduler.workload` (rkey: a TID). For the CLI, demos and tests: users may publish with any AT client. */
export function encodeWorkload(w: WorkloadInput): RecordValue {
  const c = NSID.workload
  return finish(
    c,
    {
      name: w.name,
      image: w.image,
      replicas: int(c, 'replicas', w.replicas),
      resources: encodeResources(c, w.resources),
      command: w.command && [...w.command],
      env: w.env.map((e) => ({ name: e.name, value: e.value })),
      kind: w.kind,
      restart: { policy: w.restart.policy, maxRetries: int(c, 'restart.maxRetries', w.restart.maxRetries) },
      constraints: {
        roles: [...w.constraints.roles],
        labels: w.constraints.labels.map((l) => ({ key: l.key, value: l.value })),
        capabilities: [...w.constraints.capabilities],
        members: [...new Set<Did>(w.constraints.members)],
        privacy: w.constraints.privacy,
      },
      bidWindowMs: int(c, 'bidWindowMs', w.bidWindowMs),
      // The default is left out, so a service record stays as an AT client would write it.
      delivery: w.delivery === 'at-least-once' ? w.delivery : undefined,
      network: w.network === 'none' ? w.network : undefined,
      writableRoot: w.writableRoot ? true : undefined,
      requires: w.requires?.isolation ? { isolation: true } : undefined,
      // when (issue 14)
      priority: w.priority === undefined || w.priority === 'normal' ? undefined : w.priority,
      window: w.window && { ...w.window },
      when: w.when,
      schedule: w.schedule && { ...w.schedule },
      createdAt: w.createdAt,
      // issue 12 (health)
      health: w.health && { ...w.health, ...(w.health.type === 'exec' ? { command: [...w.health.command] } : {}) },
      update: w.update && { maxParallel: int(c, 'update.maxParallel', w.update.maxParallel), minHealthyMs: int(c, 'update.minHealthyMs', w.update.minHealthyMs), autoRevert: w.update.autoRevert },
      // Services (issue 12, apps): ports and volumes.
      ports: w.ports?.length ? w.ports.map((p) => ({ name: p.name, containerPort: int(c, 'ports.containerPort', p.containerPort), protocol: p.protocol })) : undefined,
      volumes: w.volumes?.length ? w.volumes.map((x) => ({ name: x.name, target: x.target, readOnly: x.readOnly ? true : undefined })) : undefined,
    },
    (v) => workloadLex.$safeParse(v),
  )
}

/** Lexicon maxLength counts UTF-8 bytes, not UTF-16 units: a message of accents must still fit. */
function truncate(s: string, maxBytes: number): string {
  return utf8.encode(s).length > maxBytes ? truncateUtf8(s, maxBytes - 3) + '...' : s
}

const utf8 = new TextEncoder()
