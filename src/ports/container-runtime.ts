import type { Did, HeldVolume, Isolation, PortSpec } from '../core/types.js'
import type { PublishedPort } from '../core/host-ports.js'

/** Labels every meshlet container carries, so a restarted meshlet adopts its own and never touches others'. */
export interface ContainerLabels {
  workloadUri: string
  workloadCid: string
  /** Hash of the effective container spec: a changed spec means replace. */
  specHash: string
  meshletDid: Did
  replica: number
}

/** What meshlet asks the runtime to create. Secure defaults are the adapter's job and cannot be overridden here. */
export interface ContainerSpec {
  name: string
  image: string
  command?: string[]
  env: { name: string; value: string }[]
  cpuMillis: number
  memoryMb: number
  pidsLimit: number
  labels: ContainerLabels
  /** Host paths the meshlet's OWNER allowed in local config (never from a workload record). */
  allowedBinds?: string[]
  /** Whose work it is: the container joins that owner's network. */
  owner?: Did
  /** 'owner' (default): the owner's own bridge (the engine's default bridge when the runtime has no networks); 'none': loopback only. */
  network?: 'owner' | 'none'
  /** Root filesystem writable (default read-only, with tmpfs /tmp and /run). */
  writableRoot?: boolean
  /** Secrets (issue 13): opened values, mounted read-only and in memory at /run/secrets/<name>; never in Env or Labels. */
  secretFiles?: { name: string; value: Uint8Array }[]
  /** Binaries from a URL: a verified artifact (host path) mounted read-only at containerPath (core/secrets.ts artifactPathOf). */
  artifact?: { hostPath: string; containerPath: string }
  // Services (issue 12, apps): ports to publish (the runtime picks the host ports) and volumes to mount.
  ports?: PortSpec[]
  /** Engine volume names (core/volumes volumeName), created when missing; never host paths. */
  volumes?: { source: string; name: string; target: string; readOnly?: boolean }[]
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing'

export interface ContainerInfo {
  id: string
  name: string
  image: string
  state: ContainerState
  exitCode?: number
  oomKilled?: boolean
  startedAt?: string
  finishedAt?: string
  labels: ContainerLabels
  /** Services (issue 12, apps): the host ports its container ports are published on. */
  ports?: PublishedPort[]
}

export interface PullProgress {
  status: string
  layer?: string
  current?: number
  total?: number
}

/** Lines of output, oldest first; `truncated` when older output was left out for the byte cap. */
export interface LogLines extends Array<LogLine> {
  truncated?: boolean
}

export interface LogLine {
  stream: 'stdout' | 'stderr'
  text: string
}

export interface ContainerEvent {
  id: string
  action: 'start' | 'die' | 'oom' | 'stop' | 'pause' | 'unpause' | 'destroy'
  exitCode?: number
  labels: ContainerLabels
}

/** A local image as the engine knows it. */
export interface ImageInfo {
  /** The engine's image id, "sha256:<hex>": what a container created from it runs, exactly. */
  id: string
  /** "repo@sha256:<hex>" for each registry the image was pulled from or pushed to. */
  repoDigests: string[]
}

export interface ContainerRuntime {
  /** Throws RuntimeUnavailableError when the engine does not answer. */
  ping(): Promise<void>
  hasImage(ref: string): Promise<boolean>
  /** The local image `ref` names, or undefined when there is none. */
  imageInfo(ref: string): Promise<ImageInfo | undefined>
  /** Throws ImagePullError (with a human message) on a missing image, bad reference or unreachable registry. */
  pull(ref: string, opts?: { onProgress?: (p: PullProgress) => void; auth?: { username: string; password: string; serveraddress?: string }; signal?: AbortSignal }): Promise<void>
  /** Returns the container id. Throws ContainerCreateError with the engine's reason. */
  create(spec: ContainerSpec): Promise<string>
  start(id: string): Promise<void>
  /** Graceful stop, then kill after timeoutS. Idempotent: a stopped or missing container is done. */
  stop(id: string, timeoutS?: number): Promise<void>
  /** Force-remove. Idempotent: a missing container is done. */
  remove(id: string): Promise<void>
  pause(id: string): Promise<void>
  unpause(id: string): Promise<void>
  inspect(id: string): Promise<ContainerInfo | undefined>
  /** Only containers carrying meshlet labels; filtered to one meshlet when given. */
  list(filter?: { meshletDid?: Did }): Promise<ContainerInfo[]>
  /** The newest `tail` lines, at most `maxBytes` of text (older output dropped: `truncated`). */
  logs(id: string, opts?: { tail?: number; maxBytes?: number }): Promise<LogLines>
  /** Lifecycle events of meshlet-labelled containers until the signal aborts. */
  watch(onEvent: (e: ContainerEvent) => void, signal: AbortSignal): Promise<void>
  /** Bytes written to the container's own layer (what resources.storageMb bounds); undefined when gone. */
  diskUsage?(id: string): Promise<number | undefined>
  /** What this runtime enforces on containers (published in the profile). */
  isolation?(): Promise<Isolation>
  /** Housekeeping: removes images this meshlet pulled that no container uses, and unused owner networks. */
  collectGarbage?(): Promise<{ images: string[]; networks: number }>
  // Services (issue 12, apps): workload volumes.
  /** The workload volumes this meshlet holds on the engine (published in its profile). */
  heldVolumes?(meshlet: Did): Promise<HeldVolume[]>
  /** Removes this meshlet's volumes of a workload whose containers are gone; returns their names. */
  removeVolumes?(meshlet: Did, workloadUri: string): Promise<string[]>
}
