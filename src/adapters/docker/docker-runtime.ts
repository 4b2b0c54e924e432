import Docker from 'dockerode'
import { availableParallelism } from 'node:os'
import type { Readable } from 'node:stream'
import type { Did } from '../../core/types.js'
import type {
  ContainerEvent,
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ImageInfo,
  LogLines,
  PullProgress,
} from '../../ports/container-runtime.js'
import {
  ContainerCreateError,
  ContainerOpError,
  ContainerStartError,
  ImagePullError,
  MeshletError,
  RuntimeUnavailableError,
  describeError,
} from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'
import { engineMessage, isAbortError, isConnectionError, pullReason, statusCodeOf } from './engine-errors.js'
import { imageRefProblem } from '../../core/image-ref.js'
import { LABEL, MANAGED_FILTER } from './labels.js'
import { followPull } from './pull-progress.js'
import { DEFAULT_MAX_LOG_BYTES, readLogTail } from './logs.js'
import { readEvents } from './engine-events.js'
import { SecretFiles } from './secret-files.js'
import { createOptions, specProblem, type Hardening } from './container-spec.js'
import { engineSecurity, type EngineSecurity } from './engine-security.js'
import { collectImages, CollectableImages } from './image-gc.js'
import type { WorkloadNetworks } from '../../ports/workload-networks.js'
import type { Isolation } from '../../core/types.js'
import { WATCHED_ACTIONS, infoFromInspect, infoFromRow } from './engine-views.js'
import { DEFAULT_PUBLISH, applyPorts, withPublishLock, type PublishOptions } from './publish.js'
import { applyVolumes, heldVolumes, removeWorkloadVolumes, volumeBytes } from './volumes.js'
import type { HeldVolume } from '../../core/types.js'

export { labelsFromInfo, labelsToDocker, LABEL } from './labels.js'
export { demuxLogs } from './logs.js'
export { DEFAULT_HARDENING, type Hardening } from './container-spec.js'
export { cpuLimit, CFS_PERIOD_US, MAX_CFS_PERIOD_US, MIN_CPU_QUOTA_US, MIN_MEMORY_MB, MIN_NANO_CPUS } from './container-spec.js'

export interface DockerRuntimeOptions {
  /** Unix socket of the engine. Default /var/run/docker.sock (never read from the environment here). */
  socketPath?: string
  /** Grace period before SIGKILL on stop, seconds. Default 10. */
  stopTimeoutS?: number
  /** How long ping() waits for the engine. Default 5000 ms. */
  pingTimeoutMs?: number
  /** Lines returned by logs() when no tail is given. Default 1000. */
  defaultLogTail?: number
  /** Owner networks (adapters/host-net); without them containers use the engine's default bridge. */
  networks?: WorkloadNetworks
  /** ulimits and tmpfs sizes. Default DEFAULT_HARDENING. */
  hardening?: Hardening
  /** Where to remember the images this meshlet pulled (for image GC). Default: memory only. */
  pulledImagesFile?: string
  /** A pulled image younger than this is never collected (it is about to be used). Default 10 min. */
  imageGcGraceMs?: number
  logger?: Logger
  /** Secrets (issue 13): host tmpfs directory for /run/secrets files. Default DEFAULT_SECRETS_DIR. */
  secretsDir?: string
  /** Services (issue 12, apps): where published ports go (address, host port range). Default 127.0.0.1, 24000-24999. */
  publish?: PublishOptions
}


/** Long references make unreadable errors; the message keeps the start. */
function shortRef(ref: unknown): string {
  const s = typeof ref === 'string' ? ref : String(ref)
  return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s
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
  private readonly networks?: WorkloadNetworks
  private readonly hardening?: Hardening
  private readonly pulled: CollectableImages
  private readonly imageGcGraceMs: number
  private readonly secretFiles: SecretFiles
  private readonly publish: PublishOptions

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
    this.networks = opts.networks
    this.hardening = opts.hardening
    this.pulled = new CollectableImages(opts.pulledImagesFile)
    this.imageGcGraceMs = opts.imageGcGraceMs ?? 600_000
    this.secretFiles = new SecretFiles(opts.secretsDir)
    this.publish = opts.publish ?? DEFAULT_PUBLISH
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

  async imageInfo(ref: string): Promise<ImageInfo | undefined> {
    const problem = imageRefProblem(ref)
    if (problem) throw new ImagePullError(shortRef(ref), problem)
    try {
      const info = await this.docker.getImage(ref).inspect()
      return { id: info.Id, repoDigests: Array.isArray(info.RepoDigests) ? info.RepoDigests.filter((d): d is string => typeof d === 'string') : [] }
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined
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
    // Only an image that was not here before is this meshlet's to collect later.
    const existed = this.pulled.has(ref) ? false : await this.hasImage(ref).catch(() => true)
    let stream: NodeJS.ReadableStream
    try {
      stream = await this.docker.pull(ref, pullOpts)
    } catch (err) {
      throw this.pullError(ref, err, opts.signal)
    }
    const streamError = await followPull(this.docker.modem, stream, opts.onProgress, this.log).catch((err: unknown) => {
      throw this.pullError(ref, err, opts.signal)
    })
    if (streamError) {
      throw new ImagePullError(ref, pullReason(ref, undefined, streamError.message))
    }
    if (!existed) this.pulled.add(ref)
    this.log.info({ image: ref, ms: Math.round(performance.now() - t0) }, 'image pulled')
  }

  async create(spec: ContainerSpec): Promise<string> {
    const image = typeof spec?.image === 'string' ? spec.image : String(spec?.image)
    const refProblem = imageRefProblem(spec?.image)
    if (refProblem) throw new ContainerCreateError(shortRef(image), refProblem)
    const problem = specProblem(spec)
    if (problem) throw new ContainerCreateError(image, problem)

    let networkMode: string | undefined
    if (spec.network !== 'none' && this.networks) {
      if (typeof spec.owner !== 'string' || spec.owner.length === 0) throw new ContainerCreateError(image, 'owner is required to choose the owner network')
      try {
        networkMode = await this.networks.networkFor(spec.owner)
      } catch (err) {
        throw this.unavailableOr(err, () => new ContainerCreateError(image, `cannot prepare the owner's network: ${describeError(err)}`, statusCodeOf(err), { cause: err }))
      }
    }
    const options = createOptions(spec, image, { hostCpus: await this.cpuCount(), stopTimeoutS: this.stopTimeoutS, networkMode, hardening: this.hardening })
    if (spec.secretFiles && spec.secretFiles.length > 0) {
      const dir = await this.secretFiles.write(spec.name, spec.secretFiles).catch((err: unknown) => {
        throw new ContainerCreateError(image, `cannot mount secrets: ${describeError(err)}`, undefined, { cause: err })
      })
      options.HostConfig = { ...options.HostConfig, Binds: [...(options.HostConfig?.Binds ?? []), `${dir}:/run/secrets:ro`] }
    }
    if (spec.artifact) options.HostConfig = { ...options.HostConfig, Binds: [...(options.HostConfig?.Binds ?? []), `${spec.artifact.hostPath}:${spec.artifact.containerPath}:ro`] }
    try {
      // Services (issue 12): volumes first (kept across containers), then ports and create as one step.
      await applyVolumes(this.docker, spec, options)
      const id = await withPublishLock(this.endpoint, async () => {
        if (spec.ports?.length) await this.publishPorts(spec, options)
        return (await this.docker.createContainer(options)).id
      })
      this.log.debug({ id, name: spec.name, image }, 'container created')
      return id
    } catch (err) {
      // A container that was not created leaves no secret behind (unless the name is taken: those files are that container's).
      if (spec.secretFiles?.length && statusCodeOf(err) !== 409) await this.secretFiles.removeFor(spec.name).catch(() => {})
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
    // Secrets (issue 13): the container's /run/secrets files go with it.
    const name = (await this.secretFiles.any()) ? await this.docker.getContainer(id).inspect().then((i) => i.Name.replace(/^\//, ''), () => undefined) : undefined
    if (name) await this.secretFiles.removeFor(name).catch((err: unknown) => this.log.warn({ err: describeError(err), container: name }, 'could not remove secret files'))
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
    return infoFromInspect(info)
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
    return rows.flatMap((row) => infoFromRow(row, filter.meshletDid) ?? [])
  }

  async logs(id: string, opts: { tail?: number; maxBytes?: number } = {}): Promise<LogLines> {
    this.checkId('logs', id)
    const tail = opts.tail ?? this.defaultLogTail
    if (!Number.isInteger(tail) || tail < 0) throw new ContainerOpError('logs', id, `tail must be a non-negative integer, got ${String(tail)}`)
    try {
      // Streamed through a byte-capped tail: tail=10000 of 3 KB lines is 30 MB never held at once.
      return await readLogTail(this.docker, id, tail, opts.maxBytes ?? DEFAULT_MAX_LOG_BYTES)
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
    await readEvents(stream, signal, onEvent, this.log)
  }

  async diskUsage(id: string): Promise<number | undefined> {
    this.checkId('diskUsage', id)
    try {
      // `size` makes the engine walk the writable layer: seconds on a big one, so callers poll slowly.
      const info = (await this.docker.getContainer(id).inspect({ size: true } as object)) as { SizeRw?: number; Mounts?: { Type?: string; Name?: string }[] }
      // Services (issue 12): a workload's volumes count against its storageMb like its writable layer.
      const vols = (info.Mounts ?? []).flatMap((m) => (m.Type === 'volume' && m.Name?.startsWith('mlv-') ? [m.Name] : []))
      return (typeof info.SizeRw === 'number' ? info.SizeRw : 0) + (await volumeBytes(this.docker, vols))
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined
      throw this.unavailableOr(err, () => new ContainerOpError('diskUsage', id, engineMessage(err), statusCodeOf(err), { cause: err }))
    }
  }

  async isolation(): Promise<Isolation> {
    const net = this.networks
      ? await this.networks.prepare()
      : { network: 'shared-bridge' as const, hostBlocked: false, lanBlocked: false, note: 'containers share the engine default bridge' }
    let sec: EngineSecurity
    try {
      sec = engineSecurity(await this.docker.info())
    } catch (err) {
      throw this.unavailableOr(err, () => new ContainerOpError('info', '', engineMessage(err), statusCodeOf(err), { cause: err }))
    }
    return {
      network: net.network,
      hostBlocked: net.hostBlocked,
      lanBlocked: net.lanBlocked,
      readOnlyRoot: true,
      userns: sec.userns,
      // Quotas need overlay2 on xfs with pquota (checked per engine); meshlet always watches the writable layer.
      storage: 'watched',
      ...(net.note ? { note: net.note } : {}),
    }
  }

  collectGarbage(): Promise<{ images: string[]; networks: number }> {
    return this.engineOp('gc', async () => {
      const images = await collectImages(this.docker, this.pulled, this.imageGcGraceMs, this.log)
      const networks = this.networks ? await this.networks.prune() : 0
      // Secrets (issue 13): files of containers removed while the peer was down.
      if (await this.secretFiles.any()) {
        const names = new Set((await this.docker.listContainers({ all: true })).flatMap((c) => c.Names.map((n) => n.replace(/^\//, ''))))
        await this.secretFiles.sweep(names)
      }
      return { images, networks }
    })
  }

  /** Services (issue 12): host ports that no container on this engine and no other program holds. */
  private async publishPorts(spec: ContainerSpec, options: Docker.ContainerCreateOptions): Promise<void> {
    if (spec.network === 'none') throw new ContainerCreateError(spec.image, 'a workload with network "none" cannot publish ports')
    try {
      await applyPorts(this.docker, spec, options, this.publish)
    } catch (err) {
      throw this.unavailableOr(err, () => new ContainerCreateError(spec.image, `cannot publish its ports: ${describeError(err)}`, undefined, { cause: err }))
    }
  }

  heldVolumes(meshlet: Did): Promise<HeldVolume[]> {
    return this.engineOp('volumes', () => heldVolumes(this.docker, meshlet))
  }

  removeVolumes(meshlet: Did, workloadUri: string): Promise<string[]> {
    return this.engineOp('removeVolumes', () => removeWorkloadVolumes(this.docker, meshlet, workloadUri))
  }

  /** An engine call whose failure is "unavailable" or a ContainerOpError naming `op`. */
  private async engineOp<T>(op: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      throw this.unavailableOr(err, () => new ContainerOpError(op, '', engineMessage(err), statusCodeOf(err), { cause: err }))
    }
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
