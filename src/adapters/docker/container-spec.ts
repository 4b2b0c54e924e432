// A ContainerSpec (meshlet's words) checked and turned into the engine's create options: resource
// limits the engine honours (CPU quotas it would silently drop, memory without swap) and the secure
// defaults no workload record can widen.
import type Docker from 'dockerode'
import type { ContainerSpec } from '../../ports/container-runtime.js'
import { labelsToDocker } from './labels.js'

/** Below 0.01 CPU the engine silently means "unlimited" (cfs_quota -1). */
export const MIN_NANO_CPUS = 10_000_000
/** The engine refuses less than 6 MiB ("Minimum memory limit allowed is 6MB"). */
export const MIN_MEMORY_MB = 6
/** The kernel's default CFS period (what NanoCpus uses), µs. */
export const CFS_PERIOD_US = 100_000
/**
 * Least CPU time a container may use per CFS period, µs. Starting a container (runc, docker-init,
 * exec) takes ~10-15 ms of CPU inside its own cgroup; with a smaller quota per period the start is
 * throttled over several periods (measured here: 0.02 CPU +550 ms, 0.1 CPU +100 ms to `start`).
 */
export const MIN_CPU_QUOTA_US = 20_000
/** The longest CFS period the kernel accepts, µs. */
export const MAX_CFS_PERIOD_US = 1_000_000
/** Hardening every container gets (docs/protocol.md, Execution defaults); the owner of the meshlet may tune the sizes. */
export interface Hardening {
  /** Open files (soft = hard). */
  nofile: number
  /** Processes of the container's uid, counted host-wide by the kernel: a backstop behind PidsLimit. */
  nproc: number
  /** Size of the tmpfs on /tmp (and half of it, at least 4 MiB, on /run) when the root is read-only. */
  tmpMb: number
}

export const DEFAULT_HARDENING: Hardening = { nofile: 4096, nproc: 4096, tmpMb: 64 }

const MIB = 1024 * 1024
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/** The engine's create options for a checked `spec` (see specProblem) of `image`. */
export function createOptions(
  spec: ContainerSpec,
  image: string,
  o: { hostCpus: number; stopTimeoutS: number; networkMode?: string; hardening?: Hardening },
): Docker.ContainerCreateOptions {
  const h = o.hardening ?? DEFAULT_HARDENING
  const readOnly = spec.writableRoot !== true
  const memory = spec.memoryMb * MIB
  const maxNano = o.hostCpus * 1e9
  const nanoCpus = Math.min(maxNano, Math.max(MIN_NANO_CPUS, Math.round(spec.cpuMillis * 1e6)))
  const cpu = cpuLimit(nanoCpus)
  const binds = spec.allowedBinds && spec.allowedBinds.length > 0 ? spec.allowedBinds.map(bindOption) : undefined
  return {
    name: spec.name,
    Image: image,
    // An empty command means the image's own CMD.
    Cmd: spec.command && spec.command.length > 0 ? [...spec.command] : undefined,
    Env: spec.env.map((e) => `${e.name}=${e.value}`),
    Labels: labelsToDocker(spec.labels),
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    StopTimeout: o.stopTimeoutS,
    HostConfig: {
      Memory: memory,
      // Equal to Memory: no swap beyond the limit (Docker defaults to 2x Memory).
      MemorySwap: memory,
      ...cpu,
      PidsLimit: spec.pidsLimit,
      // An init as PID 1 forwards SIGTERM, so stop takes ~100 ms instead of the whole grace period.
      Init: true,
      // Secure defaults: a workload record can never widen these.
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      // The owner's own bridge (or none); the engine's default bridge only without a networks adapter.
      NetworkMode: spec.network === 'none' ? 'none' : (o.networkMode ?? 'bridge'),
      ReadonlyRootfs: readOnly,
      // tmpfs pages count against the container's memory limit, so these cannot fill the disk.
      Tmpfs: readOnly ? { '/tmp': `rw,nosuid,nodev,size=${h.tmpMb}m`, '/run': `rw,nosuid,nodev,size=${Math.max(4, Math.floor(h.tmpMb / 2))}m` } : undefined,
      Ulimits: [
        { Name: 'nofile', Soft: h.nofile, Hard: h.nofile },
        { Name: 'nproc', Soft: h.nproc, Hard: h.nproc },
      ],
      AutoRemove: false,
      // meshlet decides restarts (and reports them); the engine must not.
      RestartPolicy: { Name: 'no' },
      Binds: binds,
      // Bounded logs so a chatty workload cannot fill the member's disk.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  }
}

/**
 * The engine's form of an allowed bind: read-only unless the owner wrote `:rw` (a host path is the
 * owner's data; writing to it is the exception, said explicitly). `src:dst` and `src:dst:ro` are
 * read-only, `src:dst:rw` read-write.
 */
export function bindOption(b: string): string {
  const [src, dst, mode] = b.split(':')
  return `${src}:${dst}:${mode === 'rw' ? 'rw' : 'ro'}`
}

/**
 * The engine's CPU limit for `nanoCpus` (1e9 = one CPU). Limits that leave at least
 * MIN_CPU_QUOTA_US per default period are plain NanoCpus. Smaller ones keep the same share with a
 * longer period, so each period still holds MIN_CPU_QUOTA_US and the start is not throttled.
 */
export function cpuLimit(nanoCpus: number): { NanoCpus: number } | { CpuPeriod: number; CpuQuota: number } {
  if ((nanoCpus / 1e9) * CFS_PERIOD_US >= MIN_CPU_QUOTA_US) return { NanoCpus: nanoCpus }
  const period = Math.min(MAX_CFS_PERIOD_US, Math.ceil((MIN_CPU_QUOTA_US * 1e9) / nanoCpus))
  return { CpuPeriod: period, CpuQuota: Math.round((nanoCpus / 1e9) * period) }
}

/** What is wrong with a spec (besides its image), or undefined. */
export function specProblem(spec: ContainerSpec): string | undefined {
  if (typeof spec.name !== 'string' || !CONTAINER_NAME.test(spec.name) || spec.name.length > 128) {
    return `invalid container name "${String(spec.name).slice(0, 80)}": only [a-zA-Z0-9][a-zA-Z0-9_.-], at most 128 characters`
  }
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < MIN_MEMORY_MB) {
    return `memoryMb must be an integer >= ${MIN_MEMORY_MB} (the engine's minimum), got ${String(spec.memoryMb)}`
  }
  if (spec.memoryMb > 1024 * 1024 * 1024) return `memoryMb ${spec.memoryMb} is absurdly large`
  if (typeof spec.cpuMillis !== 'number' || !Number.isFinite(spec.cpuMillis) || spec.cpuMillis <= 0) {
    return `cpuMillis must be a positive number, got ${String(spec.cpuMillis)}`
  }
  if (!Number.isInteger(spec.pidsLimit) || spec.pidsLimit < 1) {
    return `pidsLimit must be a positive integer, got ${String(spec.pidsLimit)}`
  }
  if (spec.command !== undefined && (!Array.isArray(spec.command) || spec.command.some((a) => typeof a !== 'string' || a.includes('\u0000')))) {
    return 'command must be a list of strings (without NUL characters)'
  }
  if (!Array.isArray(spec.env)) return 'env must be a list of {name, value}'
  for (const e of spec.env) {
    if (typeof e?.name !== 'string' || !/^[^=\u0000]+$/.test(e.name)) return `invalid env variable name "${String(e?.name).slice(0, 80)}" (non-empty, no "=")`
    if (typeof e.value !== 'string' || e.value.includes('\u0000')) return `env variable ${e.name} must have a string value without NUL characters`
  }
  const l = spec.labels
  if (!l || typeof l !== 'object') return 'labels are required'
  for (const key of ['workloadUri', 'workloadCid', 'specHash', 'meshletDid'] as const) {
    if (typeof l[key] !== 'string' || l[key].length === 0) return `labels.${key} must be a non-empty string`
  }
  if (!Number.isInteger(l.replica) || l.replica < 0) return `labels.replica must be a non-negative integer, got ${String(l.replica)}`
  if (spec.network !== undefined && spec.network !== 'owner' && spec.network !== 'none') return `network must be "owner" or "none", got ${String(spec.network).slice(0, 40)}`
  if (spec.allowedBinds !== undefined) {
    if (!Array.isArray(spec.allowedBinds)) return 'allowedBinds must be a list of "host:container[:opts]" strings'
    for (const b of spec.allowedBinds) {
      const parts = typeof b === 'string' ? b.split(':') : []
      if (parts.length < 2 || parts.length > 3 || !parts[0]!.startsWith('/') || !parts[1]!.startsWith('/') || (parts[2] !== undefined && parts[2] !== 'ro' && parts[2] !== 'rw')) {
        return `invalid bind "${String(b).slice(0, 120)}": expected /host/path:/container/path[:ro|rw]`
      }
    }
  }
  return undefined
}
