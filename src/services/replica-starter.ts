// Starts this meshlet's replicas: pull, create, start, with at most maxParallelStarts at once beside
// the reconcile passes, pre-start retries (services/prestart.ts), the batch gate, and nothing
// half-made left behind when a start fails.
import type { DesiredReplica } from '../core/reconcile.js'
import type { PrestartStep } from '../core/restart.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, type AtUri, type Did, type Workload } from '../core/types.js'
import { containerNameFor } from '../core/container-name.js'
import { volumeName } from '../core/volumes.js'
import { parseImageRef } from '../core/image-ref.js'
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { StatusReporter } from './status-reporter.js'
import type { Timeline } from './timeline.js'
import type { BatchGate } from './batch-gate.js'
import { withPrestartRetries } from './prestart.js'
import { guestImage, type PinnedImage } from './guest-image.js'
import type { GuestImagePulls } from './guest-image-pulls.js'
import type { RegistryPolicy } from '../core/registry-policy.js'
import { ImageRefusedError } from '../errors.js'
import type { SecretKeys } from '../ports/secret-keys.js'
import type { ArtifactStore } from '../ports/artifact-store.js'
import { artifactPathOf } from '../core/secrets.js'
import { isRegistryAuthFailure, openSecrets, registryAuthHint, type OpenedSecrets } from './secret-mounts.js'
import { delayedReport } from './delayed-report.js'
import { SingleFlight } from './single-flight.js'

export interface ReplicaStarterOptions {
  view: CommuneView
  runtime: ContainerRuntime
  status: StatusReporter
  clock: Clock
  log: Logger
  gate: BatchGate
  meshlet: Did
  /** This meshlet's owner: only its own workloads get the allowed binds. */
  owner: Did
  allowedBinds: string[]
  /** Where guests' images may come from, and which local images the owner shares. */
  registryPolicy?: RegistryPolicy
  /** Which image each guest pull gave, and for whom (image GC keeps its own record: adapters/docker/image-gc.ts). */
  pulledImages?: GuestImagePulls
  pidsLimit?: number
  maxParallelStarts?: number
  timeline?: Timeline
  /** Aborts pulls when the peer stops. */
  signal: AbortSignal
  /** Asks the runner for a reconcile pass. */
  mark: () => void
  /** Secrets (issue 13): opens the sealed copies the workload mounts (and its registry credentials). */
  secretKeys?: SecretKeys
  /** Binaries from a URL (issue 13): downloads and verifies a workload's artifact. */
  artifacts?: ArtifactStore
}

/**
 * Starts at once by default (issue 16, burst). Raw dockerode on the 2-core bench engine, 24
 * create + start, median wall time: 1 at a time 46 s, 4 at once 24.6 s, 8 at once 22.6 s, 16 at once
 * 24.6 s (bench/parallel-starts.ts, load ~26): past 8 the engine does not keep up.
 */
export const DEFAULT_MAX_PARALLEL_STARTS = 8

/**
 * 'starting' is reported only if 'running' has not followed within this long (issue 16, burst): a
 * quick start writes pending then running, one status commit less per start.
 */
export const STARTING_REPORT_DELAY_MS = 1000

/**
 * 'pulling' likewise (issue 16): a guest's image is pulled for every start, and from a registry
 * that has it that takes ~100 ms here. Waiting for a status commit before it put a PDS round trip
 * on every guest start; now a quick pull goes from pending to running, a slow one still says so.
 */
export const PULLING_REPORT_DELAY_MS = 500

export class ReplicaStarter {
  /** Workloads between create and start (or being started): no second start meanwhile. */
  private readonly starting = new Set<AtUri>()
  /** Replicas waiting for a start slot. */
  private queue: DesiredReplica[] = []
  private activeStarts = 0
  private waiters: (() => void)[] = []
  private stopped = false
  /** Starts of one image for one owner (same credentials) at once share one pull (issue 16, burst). */
  private readonly pulls = new SingleFlight<string>()

  constructor(private readonly o: ReplicaStarterOptions) {}

  /** Starts running or waiting for a slot. */
  get busy(): boolean {
    return this.activeStarts > 0 || this.queue.length > 0
  }

  /** A start is running now (not only queued). */
  get active(): boolean {
    return this.activeStarts > 0
  }

  /** Resolves when a running start ends (immediately when none runs). */
  async startEnded(): Promise<void> {
    if (this.activeStarts > 0) await new Promise<void>((r) => this.waiters.push(r))
  }

  stop(): void {
    this.stopped = true
    this.queue = []
  }

  /** Queue the starts of a plan (those not started or queued already) and fill the free slots. */
  enqueue(starts: DesiredReplica[]): void {
    for (const d of starts) {
      if (!this.starting.has(d.workload.uri) && !this.queue.some((q) => q.workload.uri === d.workload.uri)) this.queue.push(d)
    }
    this.pump()
  }

  private pump(): void {
    const limit = this.o.maxParallelStarts ?? DEFAULT_MAX_PARALLEL_STARTS
    while (this.activeStarts < limit && this.queue.length > 0 && !this.stopped) {
      const d = this.queue.shift()!
      // Queued behind other starts: a newer version of the workload makes this one moot.
      if (!this.versionWanted(d.workload)) continue
      this.activeStarts++
      void this.startReplica(d).finally(() => {
        this.activeStarts--
        for (const w of this.waiters.splice(0)) w()
        this.pump()
      })
    }
  }

  private async startReplica(d: DesiredReplica): Promise<void> {
    const { runtime, status, clock, log, timeline } = this.o
    const w = d.workload
    if (this.starting.has(w.uri)) return
    const own = status.own(w.uri)
    if (!own || !CLAIM_STATES.includes(own.state)) return
    if (w.kind === 'batch' && !(await this.o.gate.mayStart(w))) return
    this.starting.add(w.uri)
    // A guest's image is pulled fresh for every start and pinned (docs/protocol.md, Images); the
    // owner's own may come from the local store as before.
    const guest = w.owner !== this.o.owner
    let pinned: PinnedImage | undefined
    let secrets: OpenedSecrets = { files: [] }
    let startingReport: { cancel(): void } | undefined
    let pullingReport: { cancel(): void } | undefined
    const reportPulling = (): void => {
      pullingReport ??= delayedReport(PULLING_REPORT_DELAY_MS, () => status.update(w, { state: 'pulling', message: `pulling ${w.image}` }), (err) => log.warn({ err: describeError(err), workload: w.uri }, 'could not report pulling'))
    }
    try {
      // Secrets (issue 13): opened here, just before use; a missing or unopenable copy fails the start with the reason.
      secrets = openSecrets(w, this.o.view, this.o.secretKeys, this.o.meshlet)
      const auth = secrets.auth
      const pullStep = async (): Promise<void> => {
        if (guest) {
          pinned = await guestImage(w, {
            runtime,
            policy: this.o.registryPolicy,
            pulled: this.o.pulledImages,
            now: () => clock.now(),
            pulling: async () => reportPulling(),
            pull: () => this.pull(w, auth),
          })
          timeline?.mark(w.uri, 'pulled')
          return
        }
        if (await runtime.hasImage(w.image)) return
        reportPulling()
        await this.pull(w, auth)
        timeline?.mark(w.uri, 'pulled')
      }
      const pulled = await this.prestart(w, 'pull', async () => {
        try {
          await pullStep()
        } finally {
          // Before a retry's own status (prestart's `retrying`), never after it.
          pullingReport?.cancel()
          pullingReport = undefined
        }
      })
      if (!pulled) return
      // Binaries from a URL (issue 13): fetched and checked once per hash; any failure is final (failed, the reason).
      let artifactFile: string | undefined
      if (w.artifact) {
        if (!this.o.artifacts) throw new Error('this meshlet does not run artifacts')
        await status.update(w, { state: 'pulling', message: `downloading ${w.artifact.url}` })
        artifactFile = await this.o.artifacts.fetch(w.artifact, { guest, signal: this.o.signal })
      }
      // Reported while the engine creates and starts it: a PDS round trip must not hold up the start
      // (writes of one status record are serialised, so 'running' still lands after it).
      // burst (issue 16): and only when the start takes a while; a quick one goes from pending to running.
      const digest = pinned?.digest
      startingReport = delayedReport(STARTING_REPORT_DELAY_MS, () => status.update(w, { state: 'starting', message: `starting ${w.image}`, ...(digest ? { imageDigest: digest } : {}) }), (err) => log.warn({ err: describeError(err), workload: w.uri }, 'could not report starting'))
      let id = ''
      const created = await this.prestart(w, 'create', async () => {
        id = await runtime.create({
          name: containerNameFor({ owner: w.owner, workloadUri: w.uri, replica: d.replica, meshlet: this.o.meshlet }),
          // A guest's container runs the exact image pulled for it (by id), never whatever the tag names now.
          image: pinned?.imageId ?? w.image,
          command: w.artifact ? [artifactPathOf(w.artifact.url), ...w.artifact.args] : w.command,
          // The replica number placement assigned (unique per version): sharded work needs it.
          env: [...w.env.filter((e) => e.name !== 'MESHLET_REPLICA'), { name: 'MESHLET_REPLICA', value: String(d.replica) }],
          cpuMillis: w.resources.cpuMillis,
          memoryMb: w.resources.memoryMb,
          pidsLimit: this.o.pidsLimit ?? 512,
          labels: { workloadUri: w.uri, workloadCid: w.cid, specHash: d.specHash, meshletDid: this.o.meshlet, replica: d.replica },
          // Host paths are the owner's: a guest's workload never sees them (docs/protocol.md, Execution defaults).
          allowedBinds: w.owner === this.o.owner && this.o.allowedBinds.length ? this.o.allowedBinds : undefined,
          owner: w.owner,
          network: w.network ?? 'owner',
          writableRoot: w.writableRoot,
          ...(secrets.files.length > 0 ? { secretFiles: secrets.files } : {}),
          ...(artifactFile && w.artifact ? { artifact: { hostPath: artifactFile, containerPath: artifactPathOf(w.artifact.url) } } : {}),
          // Services (issue 12, apps): ports to publish, and volumes scoped to this workload on this meshlet.
          ports: w.ports,
          volumes: w.volumes?.map((v) => ({ source: volumeName(this.o.meshlet, w.owner, w.rkey, v.name), name: v.name, target: v.target, readOnly: v.readOnly })),
        })
      })
      if (!created) return
      timeline?.mark(w.uri, 'created')
      // The claim may have been released while the pull or create ran (a lost claim race, a delete):
      // a container started now would be a duplicate nobody stops until the next reconcile.
      if (!this.stillWanted(w)) {
        log.info({ workload: w.uri, container: id.slice(0, 12) }, `not starting ${w.name}: its claim was released meanwhile`)
        await runtime.remove(id).catch(() => {})
        return
      }
      await runtime.start(id)
      startingReport.cancel()
      timeline?.mark(w.uri, 'started')
      log.info({ workload: w.uri, container: id.slice(0, 12) }, `running ${w.name}`)
      // Services (issue 12): the host ports the runtime chose go into the status as endpoints.
      const ports = w.ports?.length ? (await runtime.inspect(id))?.ports : undefined
      await status.update(w, { state: 'running', containerId: id, message: `running ${w.image}`, ...(pinned ? { imageDigest: pinned.digest } : {}), ...(ports ? { ports } : {}) })
      timeline?.mark(w.uri, 'reported')
    } catch (err) {
      const message = isRegistryAuthFailure(err) ? `${describeError(err)}: ${registryAuthHint(w)}` : describeError(err)
      log.warn({ workload: w.uri, err: message }, `failed to start ${w.name}`)
      // A peer shutting down aborts its pulls: that is not the workload's failure.
      if (!this.stopped) await status.update(w, { state: 'failed', message }).catch(() => {})
      await this.removeLeftover(w)
    } finally {
      startingReport?.cancel()
      this.starting.delete(w.uri)
      for (const f of secrets.files) f.value.fill(0)
    }
  }

  /** Joins a pull of the same image for the same owner and credentials already under way, else pulls. */
  private pull(w: Workload, auth?: OpenedSecrets['auth']): Promise<void> {
    return this.pulls.run(`${w.owner}\n${w.image}\n${w.registryAuth ?? ''}`, () => this.pullNow(w, auth))
  }

  private async pullNow(w: Workload, auth?: OpenedSecrets['auth']): Promise<void> {
    let last = 0
    await this.o.runtime.pull(w.image, {
      signal: this.o.signal,
      ...(auth ? { auth } : {}),
      onProgress: (p) => {
        const now = this.o.clock.now()
        if (now - last > 1000) {
          last = now
          this.o.log.debug({ workload: w.uri, status: p.status, current: p.current, total: p.total }, 'pull progress')
        }
      },
    })
  }

  /** This meshlet still holds a live claim on the current version of `w`. */
  private stillWanted(w: Workload): boolean {
    const own = this.o.status.own(w.uri)
    return !this.stopped && own !== undefined && own.workload.cid === w.cid && CLAIM_STATES.includes(own.state) && this.versionWanted(w)
  }

  /** The current version, or (issue 12 rollout) an older one this meshlet still holds a claim on. */
  private versionWanted(w: Workload): boolean {
    const current = this.o.view.workload(w.uri)
    if (current?.cid === w.cid) return true
    const own = this.o.status.own(w.uri)
    return current?.update !== undefined && own?.workload.cid === w.cid && CLAIM_STATES.includes(own.state)
  }

  /** Pull or create with retries on this peer while the claim is kept, then yield (services/prestart.ts). */
  private prestart(w: Workload, step: PrestartStep, run: () => Promise<void>): Promise<boolean> {
    const { status } = this.o
    const stillWanted = () => this.stillWanted(w)
    return withPrestartRetries(
      step,
      run,
      {
        cleanup: () => this.removeLeftover(w),
        retrying: (message) => status.update(w, { state: step === 'pull' ? 'pulling' : 'starting', message }).then(() => undefined),
        yieldSlot: (message) => status.release(w, message).then(() => undefined),
        stillWanted,
        // An invalid reference fails the same way on every peer: report it, do not pass it around.
        // So does a registry this meshlet refuses for guests (the decline at bid time says it too).
        // A registry that refuses the credentials (or wants some) refuses every peer alike (issue 13).
        permanent: (err) => !parseImageRef(w.image).ok || err instanceof ImageRefusedError || isRegistryAuthFailure(err),
      },
      this.o.log.child({ workload: w.uri }),
    )
  }

  /** Leave nothing half-made behind: a created-but-unstarted container is removed (its name is free again). */
  private async removeLeftover(w: Workload): Promise<void> {
    const all = await this.o.runtime.list({ meshletDid: this.o.meshlet }).catch(() => [] as ContainerInfo[])
    const leftover = all.find((c) => c.labels.workloadUri === w.uri && c.state !== 'removing')
    if (leftover && leftover.state !== 'running') await this.o.runtime.remove(leftover.id).catch(() => {})
  }

  /**
   * A container that exists but never started: this peer died between create and start. Nothing
   * else would start it (reconcile keeps it, startReplica only runs for missing ones), so the
   * replica would stay 'starting' forever. Start it; if that fails, remove it so the next pass
   * creates a fresh one.
   */
  async startCreated(w: Workload, c: ContainerInfo): Promise<void> {
    const { runtime, status, log } = this.o
    if (this.starting.has(w.uri)) return // startReplica is between its create and start
    this.starting.add(w.uri)
    try {
      // `c` comes from a container list taken before this pass: startReplica may have started the
      // container since (and a short batch job may already have exited). Starting it again would run
      // the job twice, so only a container the engine says NOW never started is started here.
      const now = await runtime.inspect(c.id)
      if (!now || now.state !== 'created' || now.startedAt !== undefined) return
      await runtime.start(c.id)
      log.info({ workload: w.uri, container: c.id.slice(0, 12) }, `running ${w.name} (its container was created but never started)`)
      await status.update(w, { state: 'running', containerId: c.id, message: `running ${w.image}`, ...(c.ports ? { ports: c.ports } : {}) })
    } catch (err) {
      // Replace it only if it provably never ran: a start that timed out may have started it.
      const after = await runtime.inspect(c.id).catch(() => undefined)
      if (after?.state === 'created' && after.startedAt === undefined) {
        log.warn({ err: describeError(err), workload: w.uri }, 'cannot start a container left created; replacing it')
        await runtime.remove(c.id).catch(() => {})
        this.o.mark()
      } else log.warn({ err: describeError(err), workload: w.uri }, 'cannot tell whether a container left created started; looking again next pass')
    } finally {
      this.starting.delete(w.uri)
    }
  }
}
