import Docker from 'dockerode'
import { availableParallelism } from 'node:os'
import type { Readable } from 'node:stream'
import type { Did } from '../../core/types.js'
import type {
  ContainerEvent,
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  LogLine,
  PullProgress,
} from '../../ports/container-runtime.js'
import {
  ContainerCreateError,
  ContainerOpError,
  ContainerStartError,
  ImagePullError,
  MeshletError,
  RuntimeUnavailableError,
} from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'
import { engineMessage, isAbortError, isConnectionError, pullReason, statusCodeOf } from './engine-errors.js'
import { imageRefProblem } from '../../core/image-ref.js'
import { LABEL, MANAGED_FILTER, labelsFromInfo, labelsToDocker } from './labels.js'
import { demuxLogs } from './logs.js'

export { labelsFromInfo, labelsToDocker, LABEL } from './labels.js'
export { demuxLogs } from './logs.js'

export interface DockerRuntimeOptions {
  /** Unix socket of the engine. Default /var/run/docker.sock (never read from the environment here). */
  socketPath?: string
  /** Grace period before SIGKILL on stop, seconds. Default 10. */
  stopTimeoutS?: number
  /** How long ping() waits for the engine. Default 5000 ms. */
  pingTimeoutMs?: number
  /** Lines returned by logs() when no tail is given. Default 1000. */
  defaultLogTail?: number
  logger?: Logger
}

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
const MIB = 1024 * 1024
const DOCKER_ZERO_TIME = '0001-01-01T00:00:00Z'
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const WATCHED_ACTIONS: readonly ContainerEvent['action'][] = ['start', 'die', 'oom', 'stop', 'pause', 'unpause', 'destroy']
const CONTAINER_STATES: readonly ContainerState[] = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing']

/** Long references make unreadable errors; the message keeps the start. */
function shortRef(ref: unknown): string {
  const s = typeof ref === 'string' ? ref : String(ref)
  return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s
}

function isoOrUndefined(t: string | undefined): string | undefined {
  if (!t || t.startsWith('0001-01-01') || t === DOCKER_ZERO_TIME) return undefined
  return t
}

function toState(s: string | undefined): ContainerState {
  return CONTAINER_STATES.includes(s as ContainerState) ? (s as ContainerState) : 'dead'
}

/** ContainerRuntime over the Docker Engine API (dockerode). Speaks meshlet types only. */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker
  private readonly endpoint: string
  private readonly stopTimeoutS: number
  private readonly pingTimeoutMs: number
  private readonly defaultLogTail: number
  private readonly log: Logger
  private hostCpus?: Promise<number>

  constructor(opts: DockerRuntimeOptions = {}) {
    const socketPath = opts.socketPath ?? '/var/run/docker.sock'
    if (typeof socketPath !== 'string' || socketPath.length === 0) throw new MeshletError('docker socket path must be a non-empty string')
    const stop = opts.stopTimeoutS ?? 10
    if (!Number.isInteger(stop) || stop < 0) throw new MeshletError(`stopTimeoutS must be a non-negative integer, got ${String(stop)}`)
    this.docker = new Docker({ socketPath })
    this.endpoint = `unix://${socketPath}`
    this.stopTimeoutS = stop
    this.pingTimeoutMs = opts.pingTimeoutMs ?? 5000
    this.defaultLogTail = opts.defaultLogTail ?? 1000
    this.log = opts.logger ?? createLogger('meshlet:docker')
  }

  async ping(): Promise<void> {
    try {
      // ping's options are untyped in @types/dockerode; the engine call honours abortSignal.
      await (this.docker.ping as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(this.docker, {
        abortSignal: AbortSignal.timeout(this.pingTimeoutMs),
      })
    } catch (err) {
      throw new RuntimeUnavailableError(this.endpoint, { cause: err })
    }
  }

  async hasImage(ref: string): Promise<boolean> {
    const problem = imageRefProblem(ref)
    if (problem) throw new ImagePullError(shortRef(ref), problem)
    try {
      await this.docker.getImage(ref).inspect()
      return true
    } catch (err) {
      if (statusCodeOf(err) === 404) return false
      throw this.unavailableOr(err, () => new ImagePullError(ref, engineMessage(err), statusCodeOf(err), { cause: err }))
    }
  }

  async pull(
    ref: string,
    opts: { onProgress?: (p: PullProgress) => void; auth?: { username: string; password: string; serveraddress?: string }; signal?: AbortSignal } = {},
  ): Promise<void> {
    const problem = imageRefProblem(ref)
    if (problem) throw new ImagePullError(shortRef(ref), problem)
    if (opts.signal?.aborted) throw new ImagePullError(ref, 'aborted')
    const pullOpts: Record<string, unknown> = {}
    if (opts.auth) pullOpts.authconfig = { ...opts.auth }
    if (opts.signal) pullOpts.abortSignal = opts.signal
    const t0 = performance.now()
    let stream: NodeJS.ReadableStream
    try {
      stream = await this.docker.pull(ref, pullOpts)
    } catch (err) {
      throw this.pullError(ref, err, opts.signal)
    }
    // followProgress only reports socket errors; an {"error": ...} line inside a 200 stream is a
    // failed pull too, so each event is checked here.
    let streamError: { message: string } | undefined
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err) => (err ? reject(err) : resolve()),
        (event: unknown) => {
          const e = (event ?? {}) as {
            status?: unknown
            id?: unknown
            error?: unknown
            errorDetail?: { message?: unknown }
            progressDetail?: { current?: unknown; total?: unknown }
          }
          if (e.error !== undefined || e.errorDetail?.message !== undefined) {
            const msg = typeof e.errorDetail?.message === 'string' ? e.errorDetail.message : String(e.error)
            streamError ??= { message: msg.trim() }
            return
          }
          if (!opts.onProgress || typeof e.status !== 'string') return
          const p: PullProgress = { status: e.status }
          if (typeof e.id === 'string') p.layer = e.id
          if (typeof e.progressDetail?.current === 'number') p.current = e.progressDetail.current
          if (typeof e.progressDetail?.total === 'number') p.total = e.progressDetail.total
          try {
            opts.onProgress(p)
          } catch (cbErr) {
            this.log.warn({ err: cbErr }, 'pull progress callback threw')
          }
        },
      )
    }).catch((err: unknown) => {
      throw this.pullError(ref, err, opts.signal)
    })
    if (streamError) {
      throw new ImagePullError(ref, pullReason(ref, undefined, streamError.message))
    }
    this.log.info({ image: ref, ms: Math.round(performance.now() - t0) }, 'image pulled')
  }

  async create(spec: ContainerSpec): Promise<string> {
    const image = typeof spec?.image === 'string' ? spec.image : String(spec?.image)
    const refProblem = imageRefProblem(spec?.image)
    if (refProblem) throw new ContainerCreateError(shortRef(image), refProblem)
    const problem = specProblem(spec)
    if (problem) throw new ContainerCreateError(image, problem)

    const memory = spec.memoryMb * MIB
    const maxNano = (await this.cpuCount()) * 1e9
    const nanoCpus = Math.min(maxNano, Math.max(MIN_NANO_CPUS, Math.round(spec.cpuMillis * 1e6)))
    const cpu = cpuLimit(nanoCpus)
    const binds = spec.allowedBinds && spec.allowedBinds.length > 0 ? [...spec.allowedBinds] : undefined
    const options: Docker.ContainerCreateOptions = {
      name: spec.name,
      Image: image,
      // An empty command means the image's own CMD.
      Cmd: spec.command && spec.command.length > 0 ? [...spec.command] : undefined,
      Env: spec.env.map((e) => `${e.name}=${e.value}`),
      Labels: labelsToDocker(spec.labels),
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      StopTimeout: this.stopTimeoutS,
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
        NetworkMode: 'bridge',
        AutoRemove: false,
        // meshlet decides restarts (and reports them); the engine must not.
        RestartPolicy: { Name: 'no' },
        Binds: binds,
        // Bounded logs so a chatty workload cannot fill the member's disk.
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    }
    try {
      const c = await this.docker.createContainer(options)
      this.log.debug({ id: c.id, name: spec.name, image }, 'container created')
      return c.id
    } catch (err) {
      throw this.unavailableOr(err, () => {
        const status = statusCodeOf(err)
        const msg = engineMessage(err)
        const reason = status === 404 && /no such image/i.test(msg) ? `image not present locally: ${image} (pull it first)` : msg
        return new ContainerCreateError(image, reason, status, { cause: err })
      })
    }
  }

  async start(id: string): Promise<void> {
    this.checkId('start', id)
    try {
      await this.docker.getContainer(id).start()
    } catch (err) {
      if (statusCodeOf(err) === 304) return // already started
      throw this.unavailableOr(err, () => new ContainerStartError(id, engineMessage(err), statusCodeOf(err), { cause: err }))
    }
  }

  async stop(id: string, timeoutS?: number): Promise<void> {
    this.checkId('stop', id)
    const t = timeoutS ?? this.stopTimeoutS
    if (!Number.isInteger(t) || t < 0) throw new ContainerOpError('stop', id, `timeout must be a non-negative integer of seconds, got ${String(t)}`)
    try {
      await this.docker.getContainer(id).stop({ t })
    } catch (err) {
      const status = statusCodeOf(err)
      if (status === 304 || status === 404) return // already stopped / gone
      throw this.unavailableOr(err, () => new ContainerOpError('stop', id, engineMessage(err), status, { cause: err }))
    }
  }

  async remove(id: string): Promise<void> {
    this.checkId('remove', id)
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true })
    } catch (err) {
      const status = statusCodeOf(err)
      if (status === 404) return
      if (status === 409 && /already in progress/i.test(engineMessage(err))) return
      throw this.unavailableOr(err, () => new ContainerOpError('remove', id, engineMessage(err), status, { cause: err }))
    }
  }

  async pause(id: string): Promise<void> {
    this.checkId('pause', id)
    for (let attempt = 1; ; attempt++) {
      try {
        await this.docker.getContainer(id).pause()
        return
      } catch (err) {
        const msg = engineMessage(err)
        if (/already paused/i.test(msg)) return
        // cgroup v1 freezer gives up when a CPU-throttled task does not reach the freezer in
        // time (seen with 0.01 CPU limits); the engine leaves it running, so trying again is safe.
        if (/unable to freeze/i.test(msg) && attempt < 5) {
          await new Promise((r) => setTimeout(r, 50 * attempt))
          continue
        }
        throw this.unavailableOr(err, () => new ContainerOpError('pause', id, msg, statusCodeOf(err), { cause: err }))
      }
    }
  }

  async unpause(id: string): Promise<void> {
    this.checkId('unpause', id)
    try {
      await this.docker.getContainer(id).unpause()
    } catch (err) {
      if (/is not paused/i.test(engineMessage(err))) return
      throw this.unavailableOr(err, () => new ContainerOpError('unpause', id, engineMessage(err), statusCodeOf(err), { cause: err }))
    }
  }

  /** Undefined when the container does not exist or is not a meshlet container (never ours). */
  async inspect(id: string): Promise<ContainerInfo | undefined> {
    this.checkId('inspect', id)
    let info: Docker.ContainerInspectInfo
    try {
      info = await this.docker.getContainer(id).inspect()
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined
      throw this.unavailableOr(err, () => new ContainerOpError('inspect', id, engineMessage(err), statusCodeOf(err), { cause: err }))
    }
    const labels = labelsFromInfo(info.Config?.Labels)
    if (!labels) return undefined
    const state = toState(info.State?.Status)
    const out: ContainerInfo = {
      id: info.Id,
      name: (info.Name ?? '').replace(/^\//, ''),
      image: info.Config?.Image ?? info.Image,
      state,
      labels,
    }
    // ExitCode is 0 for a container that never ran: only report it once it has finished.
    const finishedAt = isoOrUndefined(info.State?.FinishedAt)
    if ((state === 'exited' || state === 'dead') && typeof info.State?.ExitCode === 'number') out.exitCode = info.State.ExitCode
    if (info.State?.OOMKilled) out.oomKilled = true
    else if (state === 'exited' || state === 'dead') out.oomKilled = false
    const startedAt = isoOrUndefined(info.State?.StartedAt)
    if (startedAt) out.startedAt = startedAt
    if (finishedAt) out.finishedAt = finishedAt
    return out
  }

  async list(filter: { meshletDid?: Did } = {}): Promise<ContainerInfo[]> {
    const labelFilters = [MANAGED_FILTER]
    if (filter.meshletDid !== undefined) {
      if (typeof filter.meshletDid !== 'string' || filter.meshletDid.length === 0) throw new ContainerOpError('list', '', 'meshletDid filter must be a non-empty DID')
      labelFilters.push(`${LABEL.meshlet}=${filter.meshletDid}`)
    }
    let rows: Docker.ContainerInfo[]
    try {
      rows = await this.docker.listContainers({ all: true, filters: { label: labelFilters } })
    } catch (err) {
      throw this.unavailableOr(err, () => new ContainerOpError('list', '', engineMessage(err), statusCodeOf(err), { cause: err }))
    }
    const out: ContainerInfo[] = []
    for (const row of rows) {
      const labels = labelsFromInfo(row.Labels)
      // The engine filtered already; this re-check guards against a half-labelled container.
      if (!labels || (filter.meshletDid !== undefined && labels.meshletDid !== filter.meshletDid)) continue
      const state = toState(row.State)
      const info: ContainerInfo = { id: row.Id, name: (row.Names?.[0] ?? '').replace(/^\//, ''), image: row.Image, state, labels }
      const exit = /^Exited \((-?\d+)\)/.exec(row.Status ?? '')
      if (exit) info.exitCode = Number(exit[1])
      out.push(info)
    }
    return out
  }

  async logs(id: string, opts: { tail?: number } = {}): Promise<LogLine[]> {
    this.checkId('logs', id)
    const tail = opts.tail ?? this.defaultLogTail
    if (!Number.isInteger(tail) || tail < 0) throw new ContainerOpError('logs', id, `tail must be a non-negative integer, got ${String(tail)}`)
    try {
      const buf = await this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail })
      return demuxLogs(Buffer.isBuffer(buf) ? buf : Buffer.from(buf as unknown as string))
    } catch (err) {
      throw this.unavailableOr(err, () => new ContainerOpError('logs', id, engineMessage(err), statusCodeOf(err), { cause: err }))
    }
  }

  /**
   * Lifecycle events of meshlet-labelled containers. Resolves when the signal aborts or when the
   * engine ends the stream (e.g. it restarted): the caller re-lists and watches again.
   * Throws RuntimeUnavailableError only when the stream cannot be opened.
   */
  async watch(onEvent: (e: ContainerEvent) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    let stream: Readable
    try {
      stream = (await this.docker.getEvents({
        filters: { type: ['container'], label: [MANAGED_FILTER], event: [...WATCHED_ACTIONS] },
        abortSignal: signal,
      } as Docker.GetEventsOptions)) as unknown as Readable
    } catch (err) {
      if (signal.aborted || isAbortError(err)) return
      throw this.unavailableOr(err, () => new ContainerOpError('watch', '', engineMessage(err), statusCodeOf(err), { cause: err }))
    }
    await new Promise<void>((resolve) => {
      let buffered = ''
      let done = false
      const finish = (why: string, err?: unknown): void => {
        if (done) return
        done = true
        signal.removeEventListener('abort', onAbort)
        stream.removeListener('data', onData)
        stream.destroy()
        if (err && !signal.aborted && !isAbortError(err)) this.log.warn({ err }, 'engine event stream failed')
        else this.log.debug({ why }, 'engine event stream ended')
        resolve()
      }
      const onAbort = (): void => finish('aborted')
      const handleLine = (line: string): void => {
        const text = line.trim()
        if (!text) return
        let raw: unknown
        try {
          raw = JSON.parse(text)
        } catch {
          this.log.warn({ line: text.slice(0, 200) }, 'unparseable engine event skipped')
          return
        }
        const event = toContainerEvent(raw)
        if (!event) return
        try {
          onEvent(event)
        } catch (cbErr) {
          this.log.warn({ err: cbErr, event: event.action }, 'container event handler threw')
        }
      }
      const onData = (chunk: Buffer | string): void => {
        buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
        let nl: number
        while ((nl = buffered.indexOf('\n')) >= 0) {
          handleLine(buffered.slice(0, nl))
          buffered = buffered.slice(nl + 1)
        }
        // The engine ends every event with a newline; a complete object without one still counts.
        if (buffered.length > 0 && buffered.trimEnd().endsWith('}')) {
          try {
            JSON.parse(buffered)
            handleLine(buffered)
            buffered = ''
          } catch {
            // incomplete: wait for more
          }
        }
        if (buffered.length > 1_000_000) {
          this.log.warn('oversized engine event discarded')
          buffered = ''
        }
      }
      signal.addEventListener('abort', onAbort, { once: true })
      stream.on('data', onData)
      stream.once('end', () => finish('end'))
      stream.once('close', () => finish('close'))
      stream.once('error', (err) => finish('error', err))
    })
  }

  private async cpuCount(): Promise<number> {
    this.hostCpus ??= this.docker
      .info()
      .then((info: { NCPU?: unknown }) => (typeof info.NCPU === 'number' && info.NCPU > 0 ? info.NCPU : availableParallelism()))
      .catch((err: unknown) => {
        this.hostCpus = undefined // retry next time
        if (isConnectionError(err)) throw new RuntimeUnavailableError(this.endpoint, { cause: err })
        return availableParallelism()
      })
    return this.hostCpus
  }

  private checkId(op: string, id: unknown): void {
    if (typeof id !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(id)) {
      throw new ContainerOpError(op, String(id).slice(0, 64), 'container id must be a Docker id or name')
    }
  }

  private unavailableOr(err: unknown, make: () => MeshletError): MeshletError {
    if (err instanceof MeshletError) return err
    if (isConnectionError(err)) return new RuntimeUnavailableError(this.endpoint, { cause: err })
    return make()
  }

  private pullError(ref: string, err: unknown, signal?: AbortSignal): MeshletError {
    if (signal?.aborted || isAbortError(err)) return new ImagePullError(ref, 'aborted', undefined, { cause: err })
    return this.unavailableOr(err, () => {
      const status = statusCodeOf(err)
      return new ImagePullError(ref, pullReason(ref, status, engineMessage(err)), status, { cause: err })
    })
  }
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
function specProblem(spec: ContainerSpec): string | undefined {
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
  if (spec.allowedBinds !== undefined) {
    if (!Array.isArray(spec.allowedBinds)) return 'allowedBinds must be a list of "host:container[:opts]" strings'
    for (const b of spec.allowedBinds) {
      const parts = typeof b === 'string' ? b.split(':') : []
      if (parts.length < 2 || parts.length > 3 || !parts[0]!.startsWith('/') || !parts[1]!.startsWith('/')) {
        return `invalid bind "${String(b).slice(0, 120)}": expected /host/path:/container/path[:ro|rw]`
      }
    }
  }
  return undefined
}

function toContainerEvent(raw: unknown): ContainerEvent | undefined {
  if (!raw || typeof raw !== 'object') return undefined
  const e = raw as { Type?: unknown; Action?: unknown; status?: unknown; id?: unknown; Actor?: { ID?: unknown; Attributes?: unknown } }
  if (e.Type !== undefined && e.Type !== 'container') return undefined
  const action = typeof e.Action === 'string' ? e.Action : typeof e.status === 'string' ? e.status : undefined
  if (!action || !WATCHED_ACTIONS.includes(action as ContainerEvent['action'])) return undefined
  const id = typeof e.Actor?.ID === 'string' ? e.Actor.ID : typeof e.id === 'string' ? e.id : undefined
  if (!id) return undefined
  const attrs = e.Actor?.Attributes && typeof e.Actor.Attributes === 'object' ? (e.Actor.Attributes as Record<string, string>) : undefined
  const labels = labelsFromInfo(attrs)
  if (!labels) return undefined
  const out: ContainerEvent = { id, action: action as ContainerEvent['action'], labels }
  if (action === 'die' && attrs?.exitCode !== undefined && /^-?\d+$/.test(attrs.exitCode)) out.exitCode = Number(attrs.exitCode)
  return out
}
