// What a peer is given: its settings (from config) and its ports (real adapters from context.ts,
// or a test's own), and the version it publishes. No code, so every part of the peer can name them
// without importing the peer.
import type { RegistryPolicy } from '../core/registry-policy.js'
import type { GuestQuotaPolicy } from '../core/quota.js'
import type { EvictionStore } from '../ports/eviction-store.js'
import type { IdResolver } from '@atproto/identity'
import type { Did, KeyValue } from '../core/types.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'
import type { HostProbe } from '../ports/host-probe.js'
import type { RecordPublisher } from '../ports/record-publisher.js'
import type { RecordSource } from '../ports/record-source.js'
import type { CursorStore } from '../ports/cursor-store.js'
import type { IdentityResolver } from '../ports/identity-resolver.js'
import type { PublicRecordReader } from '../ports/public-records.js'
import type { RecordDecoder } from '../ports/record-decoder.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'

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
  /** Where guests' images may come from (docs/protocol.md, Images). Default: no local registries, no shared images. */
  registryPolicy?: RegistryPolicy
  /** What one guest owner may hold here (docs/protocol.md, Quotas), published in the profile. */
  guestQuota?: GuestQuotaPolicy
  /** Service auth tokens valid longer than this (exp - iat) are refused (default 300 s). */
  maxTokenLifetimeSec?: number
  /** Services (issue 12, apps): the host name endpoints carry (default: the host of the endpoint). */
  advertiseAddress?: string
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
}
