// Core domain types. Pure data: what every peer reasons about. Adapters decode AT records
// into these (validated at the edge), so nothing in core ever sees an unchecked value.
import type { HealthCheck, HealthReport } from './health-types.js'

export type Did = string
export type AtUri = string
export type Cid = string

export interface StrongRef {
  uri: AtUri
  cid: Cid
}

/** A record as it goes on the wire: plain JSON with `$type`. Built by core/encode.ts. */
export type RecordValue = { $type: string } & Record<string, unknown>

export interface KeyValue {
  key: string
  value: string
}

export interface Resources {
  cpuMillis: number
  memoryMb: number
  storageMb?: number
}

export type WorkloadKind = 'service' | 'batch'
export type RestartPolicyName = 'always' | 'on-failure' | 'never'
export type Privacy = 'shared' | 'owner-only'

export interface Constraints {
  roles: string[]
  labels: KeyValue[]
  capabilities: string[]
  /** Owner DIDs whose meshlets may run it; empty = any eligible member. */
  members: Did[]
  privacy: Privacy
}

/** A validated `commune.scheduler.workload` record, with defaults applied. */
export interface Workload {
  uri: AtUri
  cid: Cid
  owner: Did
  rkey: string
  name: string
  image: string
  replicas: number
  resources: Resources
  command?: string[]
  env: { name: string; value: string }[]
  kind: WorkloadKind
  restart: { policy: RestartPolicyName; maxRetries?: number }
  constraints: Constraints
  bidWindowMs: number
  /** Batch only: 'at-most-once' (default) never starts one replica of a version twice; 'at-least-once' re-runs a replica lost with its holder. */
  delivery: Delivery
  /** 'owner' (default): a bridge of the owner's own, cut off from the host and the LAN; 'none': no network at all. */
  network?: WorkloadNetwork
  /** The root filesystem is writable (default read-only); its writes count against resources.storageMb. */
  writableRoot?: boolean
  /** What a meshlet must enforce to run it: isolation = owner bridge with host and LAN blocked. */
  requires?: { isolation?: boolean }
  // when (issue 14): priority class, run window, idle-only, cron schedule (core/when.ts, core/schedule.ts)
  /** Orders preemption among guests (low first); absent = normal. */
  priority?: PriorityClass
  /** Run only inside these local hours. */
  window?: TimeWindow
  /** 'idle': only on meshlets whose person is not using them; absent = any. */
  when?: 'idle'
  /** Batch only: one run per cron instant after createdAt. */
  schedule?: Schedule
  /** Set on a run of a scheduled workload (core/runs.ts): the workload it is a run of, and its instant (epoch ms). */
  runOf?: { uri: AtUri; instant: number }
  /** A run's overlap policy (its workload's schedule.overlap). */
  runOverlap?: OverlapPolicy
  createdAt: string
  // Secrets (issue 13): names of the owner's secret records mounted at /run/secrets/<name>, and the one holding registry credentials.
  secrets?: string[]
  registryAuth?: string
  /** Binaries from a URL: a static binary run (at /meshlet/artifact, read-only) in a container of `image`. */
  artifact?: Artifact
  // issue 12 (health): the check that makes a replica running (core/health.ts)
  health?: HealthCheck
  // issue 12 (rollout): a new version rolls in, old replicas stop in turn (core/rollout.ts)
  update?: { maxParallel: number; minHealthyMs: number; autoRevert: boolean }
  // Services (issue 12, apps): published ports and workload-scoped volumes.
  ports?: PortSpec[]
  volumes?: VolumeSpec[]
}

/** A container port the holder publishes on its host (docs/protocol.md, Ports and endpoints). */
export interface PortSpec {
  name: string
  containerPort: number
  protocol: 'tcp' | 'udp'
}

/** A named volume, local to the meshlet and scoped to the workload (owner + rkey + name). */
export interface VolumeSpec {
  name: string
  target: string
  readOnly?: boolean
}

/** Where a published port answers: `http://<advertised host>:<host port>` (udp: `udp://`). */
export interface Endpoint {
  name: string
  url: string
}

/** A workload volume a meshlet holds, as its profile publishes it. */
export interface HeldVolume {
  workload: AtUri
  name: string
}

export interface Artifact {
  url: string
  /** Lowercase hex. */
  sha256: string
  args: string[]
}

export type PriorityClass = 'low' | 'normal' | 'high'

export type WorkloadNetwork = 'owner' | 'none'

/** What a meshlet enforces on the containers it runs (published in its profile, docs/protocol.md Execution defaults). */
export interface Isolation {
  /** 'owner-bridge': a bridge per owner; 'shared-bridge': the engine's default bridge (every container on it). */
  network: 'owner-bridge' | 'shared-bridge'
  /** Containers cannot open connections to the host's own addresses. */
  hostBlocked: boolean
  /** Containers cannot reach the configured LAN, CGNAT and link-local/metadata ranges. */
  lanBlocked: boolean
  readOnlyRoot: boolean
  /** How container root maps to the host: rootless engine, userns-remap, or plain root ('none'). */
  userns: 'rootless' | 'userns-remap' | 'none'
  /** How resources.storageMb is held: an engine quota, or a watcher that stops containers over it. */
  storage: 'quota' | 'watched'
  /** Why something is not enforced (e.g. no iptables rights). */
  note?: string
}

export type Delivery = 'at-most-once' | 'at-least-once'

/** Owner side of the two-way link: `commune.scheduler.meshlet` in the owner's repo. */
export interface MeshletLink {
  owner: Did
  meshlet: Did
}

/** Meshlet side of the link: `commune.scheduler.meshletOwner` (rkey self). */
export interface MeshletOwnerClaim {
  meshlet: Did
  owner: Did
}

/** `commune.scheduler.membership` (rkey self) in a meshlet's repo. */
export interface Membership {
  meshlet: Did
  members: Did[]
}

/** `commune.scheduler.profile` (rkey self) in a meshlet's repo. */
export interface Profile {
  meshlet: Did
  endpoint: string
  roles: string[]
  labels: KeyValue[]
  capabilities: string[]
  cpuMillis: number
  memoryMb: number
  storageMb?: number
  version?: string
  /** Heartbeat lease: peers treat the meshlet as gone once no record of it arrived for leaseMs. */
  leaseMs?: number
  /** Local policy, published so a refusal is explainable: owners whose ledger balance is below this are declined. */
  minOwnerBalance?: number
  /** Local policy, published so a refusal is explainable: what one guest owner may hold here (core/quota.ts). */
  guestQuota?: { maxContainers: number; cpuMillis: number; memoryMb: number }
  /** What it enforces on containers; absent = nothing is promised. */
  isolation?: Isolation
  /** Secrets (issue 13): X25519 public key (base64) owners seal secrets to. */
  sealingKey?: string
  /** when (issue 14): local policy on guests' work, published so a decline is explainable. */
  guestPolicy?: GuestPolicy
  updatedAt: string
  /** Services (issue 12, apps): workload volumes it holds; placement prefers it for those workloads. */
  volumes?: HeldVolume[]
  /** liveness (issue 16 part 3): Ed25519 public key (base64) signing its ping answers; present = it answers probes. */
  pingKey?: string
}

/** liveness (issue 16 part 3): `accuser`'s direct and indirect probes of `subject` failed (rkey = subject). */
export interface Suspicion {
  accuser: Did
  subject: Did
  createdAt: string
}

export type Thermal = 'nominal' | 'warm' | 'throttled' | 'unknown'

/** Live host readings (HostProbe), in integers as they go on the wire. */
export interface HostSnapshot {
  cpuMillisTotal: number
  memoryMbTotal: number
  /** Memory available to new work (MemAvailable), not merely "free". */
  memoryMbAvailable: number
  storageMbAvailable?: number
  /** 1-minute load average per core, x1000. */
  loadPermille: number
  onBattery: boolean
  batteryPermille?: number
  thermal: Thermal
}

export interface CapacitySnapshot {
  cpuMillisFree: number
  memoryMbFree: number
  /** The totals the snapshot (and a bid's priority) is computed against: the bidder's profile totals when it bid. */
  cpuMillisTotal?: number
  memoryMbTotal?: number
  loadPermille?: number
  onBattery?: boolean
  batteryPermille?: number
  thermal?: Thermal
  /** burst spread (issue 16): replicas the bidder had bid for (open windows) or claimed and not running yet, when it bid. */
  pendingReplicas?: number
}

/** A `commune.scheduler.bid` record (a decline when `decline` is set). */
export interface Bid {
  uri: AtUri
  cid: Cid
  meshlet: Did
  rkey: string
  workload: StrongRef
  priority: number
  capacity?: CapacitySnapshot
  /** Ledger epoch whose balances the priority uses: epochOf(workload.createdAt) (docs/protocol.md, Verifiability). */
  epoch?: number
  /** Copy of the workload's resources the bid was made for, so the ledger survives the workload's deletion. */
  resources?: Resources
  /** Batch at-most-once: which meshlet this member acknowledges for each replica number (one per replica, never changed). */
  acks?: Ack[]
  /** Batch at-most-once: replica numbers this meshlet renounced after a split it did not lead (append-only; see acks.ts). */
  renounced?: number[]
  decline?: string
  createdAt: string
}

/** A member's acknowledgement that `meshlet` holds replica number `replica` of the bid's workload version. */
export interface Ack {
  replica: number
  meshlet: Did
}

export type StatusState = 'pending' | 'pulling' | 'starting' | 'running' | 'exited' | 'failed' | 'stopped'

/** States in which a status record is a live claim on a replica slot. */
export const CLAIM_STATES: readonly StatusState[] = ['pending', 'pulling', 'starting', 'running']

/** A `commune.scheduler.workloadStatus` record: one meshlet's claim on / state of its replica. */
export interface WorkloadStatus {
  uri: AtUri
  cid?: Cid
  meshlet: Did
  workload: StrongRef
  state: StatusState
  bid?: StrongRef
  priority?: number
  replica?: number
  containerId?: string
  /** The image this replica runs, pinned (repo@sha256:..., or the local image id for a shared image). */
  imageDigest?: string
  exitCode?: number
  oomKilled?: boolean
  message?: string
  leaseMs?: number
  startedAt?: string
  updatedAt: string
  /** Earlier versions' claims this meshlet ran, oldest first (docs/protocol.md, "Status history"). */
  history?: StatusVersion[]
  // issue 12 (health): the replica's health check state and last failure
  health?: HealthReport
  /** Services (issue 12, apps): where this replica's published ports answer. */
  endpoints?: Endpoint[]
}

/** One earlier version's claim in a status's `history`: what its status said when the next claim replaced it. */
export interface StatusVersion {
  /** The workload version (cid) the claim was for; the workload uri is the status's. */
  cid: Cid
  bid: StrongRef
  priority: number
  replica: number
  state: StatusState
  startedAt: string
  updatedAt: string
}

/** Secrets (issue 13): `commune.scheduler.secret` in an owner's repo, rkey = name. Sealed copies only, never the value. */
export interface SecretRecord {
  uri: AtUri
  owner: Did
  name: string
  version: number
  copies: SealedCopy[]
  createdAt: string
}

export interface SealedCopy {
  meshlet: Did
  /** The meshlet's sealingKey the copy was sealed to (base64). */
  sealingKey: string
  /** base64 of crypto_box_seal(envelope JSON). */
  ciphertext: string
}

/** Why a record was not accepted: shown to its owner and logged. */
export interface Rejection {
  uri: AtUri
  did: Did
  collection: string
  reason: string
}

export const NSID = {
  meshlet: 'commune.scheduler.meshlet',
  meshletOwner: 'commune.scheduler.meshletOwner',
  membership: 'commune.scheduler.membership',
  profile: 'commune.scheduler.profile',
  workload: 'commune.scheduler.workload',
  bid: 'commune.scheduler.bid',
  workloadStatus: 'commune.scheduler.workloadStatus',
  // Secrets (issue 13)
  secret: 'commune.scheduler.secret',
  // liveness (issue 16 part 3): a prober's failed probes of a meshlet (core/suspicion.ts)
  suspicion: 'commune.scheduler.suspicion',
} as const

export type Collection = (typeof NSID)[keyof typeof NSID]
export const COLLECTIONS: readonly Collection[] = Object.values(NSID)

/** A decoded record of one of our collections, or a delete. What intake hands to the rest. */
export type SchedulerRecord =
  | { collection: typeof NSID.meshlet; value: MeshletLink }
  | { collection: typeof NSID.meshletOwner; value: MeshletOwnerClaim }
  | { collection: typeof NSID.membership; value: Membership }
  | { collection: typeof NSID.profile; value: Profile }
  | { collection: typeof NSID.workload; value: Workload }
  | { collection: typeof NSID.bid; value: Bid }
  | { collection: typeof NSID.workloadStatus; value: WorkloadStatus }
  | { collection: typeof NSID.secret; value: SecretRecord }
  | { collection: typeof NSID.suspicion; value: Suspicion } // liveness (issue 16 part 3)

export interface RecordKey {
  did: Did
  collection: string
  rkey: string
  uri: AtUri
}

export type RecordEvent =
  | (RecordKey & { op: 'put'; cid: Cid; record: SchedulerRecord })
  | (RecordKey & { op: 'delete' })
  | (RecordKey & { op: 'rejected'; cid?: Cid; reason: string })

// when (issue 14): windows, schedules and guest policy (logic in core/window.ts, schedule.ts, guest-policy.ts)
export interface TimeWindow {
  /** "HH:MM-HH:MM", local wall-clock time in `tz`; start > end wraps across midnight; start = end is all day. */
  hours: string
  /** IANA time zone (e.g. "Europe/Berlin"); "UTC" when absent. */
  tz?: string
}

export type OverlapPolicy = 'skip' | 'queue'

export interface Schedule {
  /** Cron expression: 5 fields (minute precision) or 6 (a leading seconds field). */
  cron: string
  /** IANA time zone the expression is read in; "UTC" when absent. */
  tz?: string
  /** A run still live when the next instant comes: skip that instant (default) or queue it. */
  overlap?: OverlapPolicy
}

export interface GuestPolicy {
  /** Guest hours: guests' work only inside them. */
  window?: TimeWindow
  /** No guest work while on battery. */
  noBattery?: boolean
  /** No guest work while the person is active (always so for the `interface` role). */
  whenIdle?: boolean
  /** Load per core x1000, besides this meshlet's guests, above which the person counts as active. */
  activeLoadPermille?: number
  /** For how long the load must stay above (or below) the threshold before the state flips. */
  activeMinutes?: number
  /** Published state: the person is not active (as of the profile's updatedAt). */
  idle?: boolean
  /** How input idle time is known, or why it is not. */
  inputIdle?: string
}
