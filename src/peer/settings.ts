// What a peer is given: its settings (from config) and its ports (real adapters from context.ts,
// or a test's own), and the version it publishes. No code, so every part of the peer can name them
// without importing the peer.
import type { PingKeys } from '../ports/ping-keys.js' // liveness (issue 16 part 3)
import type { RegistryPolicy } from '../core/registry-policy.js'
import type { GuestQuotaPolicy } from '../core/quota.js'
import type { EvictionStore } from '../ports/eviction-store.js'
import type { IdResolver } from '@atproto/identity'
import type { Did, GuestPolicy, KeyValue } from '../core/types.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'
import type { HealthProbe } from '../ports/health-probe.js'
import type { HostProbe } from '../ports/host-probe.js'
import type { RecordPublisher } from '../ports/record-publisher.js'
import type { RecordSource } from '../ports/record-source.js'
import type { CursorStore } from '../ports/cursor-store.js'
import type { IdentityResolver } from '../ports/identity-resolver.js'
import type { PublicRecordReader } from '../ports/public-records.js'
import type { RecordDecoder } from '../ports/record-decoder.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import type { PeerMetrics } from '../ports/metrics.js'
import type { SecretKeys } from '../ports/secret-keys.js'
import type { ArtifactStore } from '../ports/artifact-store.js'
import type { EnergyPrice } from '../core/energy.js'
import type { PeerNotifier, RecordProofs } from '../ports/record-hints.js'

export const VERSION = '0.1.0'

export interface PeerSettings {
  did: Did
  owner: Did
  clusterMembers: Did[]
  port: number
  host: string
  endpoint?: string
  roles: string[]
  labels: KeyValue[]
  capabilities: string[]
  leaseMs: number
  bidWindowMs: number
  /** liveness (issue 16 part 3): probes, suspicions and the rare heartbeat; absent = the lease only, as before. */
  liveness?: LivenessSettings
  /** Local policy: decline owners whose ledger balance is below this (published in the profile). */
  minOwnerBalance?: number
  reserveMemoryMb: number
  maxLoadPermille: number
  allowedBinds: string[]
  allowHttp: boolean
  /** Bound of a writable-root container whose workload names no storageMb (default 1024 MiB). */
  containerStorageMb?: number
  /** How often writable layers are measured (default 30 s). */
  storageCheckMs?: number
  /** burst (issue 16): container starts at once (default DEFAULT_MAX_PARALLEL_STARTS, services/replica-starter.ts). */
  maxParallelStarts?: number
  /** Where guests' images may come from (docs/protocol.md, Images). Default: no local registries, no shared images. */
  registryPolicy?: RegistryPolicy
  /** What one guest owner may hold here (docs/protocol.md, Quotas), published in the profile. */
  guestQuota?: GuestQuotaPolicy
  /** Service auth tokens valid longer than this (exp - iat) are refused (default 300 s). */
  maxTokenLifetimeSec?: number
  // appview (issue 15)
  /** Who may read /metrics: addresses or CIDR ranges (IPv4/IPv6), or 'any' (default loopback only). */
  metricsAllow?: string[]
  /** Owner sign-in on the web view (atproto OAuth): where identities resolve. Absent: no sign-in. */
  oauth?: { plcUrl: string; handleResolver?: string }
  /** Energy cost of each owner's CPU time on the ledger page (--watts-per-core, --kwh-price); absent: none. */
  energy?: EnergyPrice
  // when (issue 14)
  /** When this meshlet takes guests' work (published in the profile); absent = any time. */
  guestPolicy?: GuestPolicy
  /** The wall clock windows are read on (default: the peer's clock); devnet tests move it. */
  windowClock?: () => number
  /** Services (issue 12, apps): the host name endpoints carry (default: the host of the endpoint). */
  advertiseAddress?: string
  // notify (issue 16)
  /** Hint peers directly about own writes and take their hints (default true; --notify off). */
  notify?: boolean
  // scale (issue 16): the view's flood bound, sized for a commune (core/view.ts defaults)
  /** Records the view holds at most (--view-max-records; default DEFAULT_MAX_RECORDS). */
  viewMaxRecords?: number
  /** Approximate record bytes the view holds at most (--view-max-mb; default DEFAULT_MAX_BYTES). */
  viewMaxBytes?: number
}

export interface PeerPorts {
  runtime: ContainerRuntime
  hostProbe: HostProbe
  publisher: RecordPublisher
  source: RecordSource
  cursorStore: CursorStore
  identity: IdentityResolver
  /** For verifying service-auth JWTs (signing keys from DID documents). */
  idResolver: IdResolver
  /** Own writes come back through it into the view, checked like anyone's records. */
  decode: RecordDecoder
  /** Reads other repos as anyone can (startup: does a workload this peer ran still exist?). */
  publicRecords: PublicRecordReader
  clock?: Clock
  /** Workloads the owner evicted from this machine (default: in memory, not kept across restarts). */
  evictions?: EvictionStore
  logger?: Logger
  // appview (issue 15)
  /** /metrics (default: none, /metrics answers 404). */
  metrics?: PeerMetrics
  /** Secrets (issue 13): this meshlet's sealing key pair (default: none, so it declines workloads that need secrets). */
  secretKeys?: SecretKeys
  /** liveness (issue 16 part 3): signs and checks ping answers; without it no probes. */
  pingKeys?: PingKeys
  /** Binaries from a URL (issue 13): default none (workloads with an artifact fail with that reason). */
  artifacts?: ArtifactStore
  // issue 12 (health): probes replicas' health checks (context.ts gives the Docker one; without it checks are not run)
  healthProbe?: HealthProbe
  // notify (issue 16): without them, no hints are sent (notifier) or taken (proofs)
  notifier?: PeerNotifier
  proofs?: RecordProofs
}

/** liveness (issue 16 part 3): see the --fallback-lease-ms, --probe-ms, --probe-timeout-ms, --suspicion-confirm-ms flags. */
export interface LivenessSettings {
  fallbackLeaseMs: number
  probeMs: number
  probeTimeoutMs: number
  confirmMs: number
}
