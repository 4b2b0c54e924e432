// One meshlet peer: the services joined over the ports it is given. The composition root
// (context.ts) builds real adapters from config; tests pass their own.
import type { IdResolver } from '@atproto/identity'
import { CommuneView } from './core/view.js'
import { NSID, type Did, type KeyValue, type Workload } from './core/types.js'
import type { ContainerRuntime } from './ports/container-runtime.js'
import type { HostProbe } from './ports/host-probe.js'
import type { RecordPublisher } from './ports/record-publisher.js'
import type { RecordSource } from './ports/record-source.js'
import type { CursorStore } from './ports/cursor-store.js'
import type { IdentityResolver } from './ports/identity-resolver.js'
import type { PublicRecordReader } from './ports/public-records.js'
import type { RecordDecoder } from './ports/record-decoder.js'
import { systemClock, type Clock } from './ports/clock.js'
import { createLogger, type Logger } from './logger.js'
import { describeError } from './errors.js'
import { RecordWriter } from './services/record-writer.js'
import { IntakeService } from './services/intake.js'
import { ClusterService } from './services/cluster.js'
import { HostMonitor } from './services/host-monitor.js'
import { StatusReporter } from './services/status-reporter.js'
import { SchedulerService } from './services/scheduler.js'
import { RunnerService } from './services/runner.js'
import { LinkagePublisher } from './services/linkage.js'
import { PeerControl } from './services/control.js'
import { HostUpkeep } from './services/host-upkeep.js'
import { Timeline } from './services/timeline.js'
import { createXrpcServer } from './xrpc/server.js'

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
  logger?: Logger
}

export class Meshlet implements AsyncDisposable {
  readonly view = new CommuneView()
  /** Per-workload stage timestamps (record seen -> container running), read by the bench. */
  readonly timeline: Timeline
  readonly log: Logger
  readonly clock: Clock
  readonly writer: RecordWriter
  readonly intake: IntakeService
  readonly cluster: ClusterService
  readonly hostMonitor: HostMonitor
  readonly status: StatusReporter
  readonly scheduler: SchedulerService
  readonly runner: RunnerService
  readonly linkage: LinkagePublisher
  readonly control: PeerControl
  readonly upkeep: HostUpkeep
  url = ''
  private server: { url: string; close(): Promise<void> } | undefined
  private stopping: Promise<void> | undefined
  private readonly stopped: Promise<void>
  private resolveStopped!: () => void

  constructor(
    readonly settings: PeerSettings,
    readonly ports: PeerPorts,
  ) {
    this.clock = ports.clock ?? systemClock
    this.log = ports.logger ?? createLogger('meshlet', { meshlet: settings.did })
    this.timeline = new Timeline(2000, (uri, stage, at) => this.log.debug({ workload: uri, stage, at }, 'stage'))
    const sub = (name: string) => this.log.child({ name: `meshlet:${name}` })
    this.stopped = new Promise((r) => (this.resolveStopped = r))
    this.intake = new IntakeService(this.view, this.clock, sub('intake'))
    this.writer = new RecordWriter(
      ports.publisher,
      (w) => {
        if (w.cid === undefined) {
          this.intake.handle({ op: 'delete', did: w.did, collection: w.collection, rkey: w.rkey, uri: w.uri })
          return
        }
        const event = ports.decode({ did: w.did, collection: w.collection, rkey: w.rkey, cid: w.cid, value: w.value })
        if (event) this.intake.handle(event)
      },
      sub('writer'),
    )
    this.cluster = new ClusterService(this.view, ports.source, { meshlet: settings.did, owner: settings.owner, configuredMembers: settings.clusterMembers }, sub('cluster'))
    this.hostMonitor = new HostMonitor(ports.hostProbe, this.clock)
    this.status = new StatusReporter(this.view, this.writer, this.clock, settings.did)
    this.scheduler = new SchedulerService(
      this.view,
      this.cluster,
      this.writer,
      this.status,
      this.hostMonitor,
      this.clock,
      { self: { meshlet: settings.did, owner: settings.owner }, leaseMs: settings.leaseMs, minOwnerBalance: settings.minOwnerBalance, policy: { reserveMemoryMb: settings.reserveMemoryMb, maxLoadPermille: settings.maxLoadPermille }, timeline: this.timeline, holdWhile: () => this.linkage.outOfTouch(), lastReceived: (did) => this.intake.receipts.lastReceived(did), onStartAllowed: () => this.runner.mark() },
      sub('scheduler'),
    )
    this.runner = new RunnerService(this.view, ports.runtime, this.status, this.clock, {
        meshlet: settings.did,
        allowedBinds: settings.allowedBinds,
        timeline: this.timeline,
        startGate: (uri) => this.scheduler.decisions.get(uri)?.start,
        fence: { leaseMs: settings.leaseMs, lastBeatAt: () => this.linkage.lastBeat() },
      },
      sub('runner'),
    )
    this.upkeep = new HostUpkeep(
      this.view,
      ports.runtime,
      this.status,
      { meshlet: settings.did, defaultStorageMb: settings.containerStorageMb ?? 1024, storageCheckMs: settings.storageCheckMs ?? 30_000, gcEveryMs: 300_000 },
      sub('upkeep'),
    )
    this.linkage = new LinkagePublisher(
      this.view,
      this.writer,
      this.hostMonitor,
      this.clock,
      {
        meshlet: settings.did,
        owner: settings.owner,
        members: settings.clusterMembers,
        endpoint: settings.endpoint ?? '',
        roles: settings.roles,
        labels: settings.labels,
        capabilities: settings.capabilities,
        leaseMs: settings.leaseMs,
        minOwnerBalance: settings.minOwnerBalance,
        version: VERSION,
      },
      sub('linkage'),
    )
    this.linkage.setRejoinHooks({
      catchUp: async () => {
        if (!(await this.catchUp())) return false
        await this.scheduler.releaseReplaced()
        return true
      },
      rejoined: () => this.scheduler.rejoined(),
    })
    this.control = new PeerControl({
      meshlet: settings.did,
      owner: settings.owner,
      view: this.view,
      cluster: this.cluster,
      scheduler: this.scheduler,
      runner: this.runner,
      status: this.status,
      host: this.hostMonitor,
      runtime: ports.runtime,
      shutdown: (drain) => this.shutdown(drain),
    })
    this.intake.connect({
      linkageChanged: () => {
        void this.cluster.refresh().then(() => this.scheduler.markAll())
      },
      peersChanged: () => this.scheduler.markAll(),
      workloadChanged: (uri) => {
        // Only the workload record itself coming back (a valid version) undoes a deletion.
        if (this.view.workload(uri)) {
          this.runner.deleted.delete(uri)
          this.timeline.mark(uri, 'seen')
        }
        this.scheduler.mark(uri)
        this.runner.mark()
      },
      workloadDeleted: (uri) => {
        this.log.info({ workload: uri }, 'workload deleted by its owner')
        this.runner.deleted.add(uri)
        this.scheduler.mark(uri)
        this.runner.mark()
      },
      workloadRejected: (rej, cid) => {
        // An invalid version is not runnable: stop what ran of the old one, and tell the owner why.
        this.runner.deleted.add(rej.uri)
        this.runner.mark()
        if (rej.did === settings.owner && cid) {
          this.status.rejected({ uri: rej.uri, cid }, rej.reason).catch((err) => this.log.warn({ err: describeError(err) }, 'could not report rejected workload'))
        }
      },
    })
  }

  /** Starts the peer: backfill, publish own records, serve XRPC, then schedule and run. */
  async start(): Promise<this> {
    const t0 = this.clock.now()
    await this.ports.source.start((e) => this.intake.handle(e))
    // Follow the linkage graph until it stops growing (owner -> members -> their meshlets).
    for (let round = 0; round < 4; round++) {
      await this.cluster.refresh()
      await this.ports.source.processAll()
      const before = this.view.size().records
      await this.cluster.refresh()
      await this.ports.source.processAll()
      if (this.view.size().records === before) break
    }
    // This meshlet's own repo holds its earlier bids and claims: its memory. Deciding anything
    // before it is read would repeat decisions (bid twice, claim again), so wait for it.
    for (let waited = 0; !this.ports.source.isSynced(this.settings.did); waited += 200) {
      if (waited > 0 && waited % 10_000 === 0) this.log.warn({ waitedMs: waited }, "still waiting to read this meshlet's own repo before scheduling")
      await new Promise((r) => setTimeout(r, 200))
      await this.ports.source.processAll()
    }
    this.cluster.startReporting()
    await this.cluster.refresh()
    const recovering = this.linkage.wasAway()
    if (recovering) {
      // Others may have replaced this meshlet's replicas while it was away: yield those BEFORE the
      // heartbeat revives its claims, on a view that is complete (an incomplete one misses the replacement).
      if (!(await this.catchUp())) this.log.warn('could not re-read every repo; yielding what is known to be replaced')
      await this.scheduler.releaseReplaced()
    }
    // What containers here are kept from (published in the profile); a peer without the rights says so.
    const isolation = await this.ports.runtime.isolation?.().catch((err) => void this.log.warn({ err: describeError(err) }, 'cannot tell what containers are isolated from'))
    if (isolation?.note) this.log.warn({ isolation }, `containers are not fully isolated: ${isolation.note}`)
    this.linkage.setIsolation(isolation ?? undefined)
    const app = createXrpcServer({ control: this.control, idResolver: this.ports.idResolver, logger: this.log.child({ name: 'meshlet:xrpc' }) })
    this.server = await app.listen(this.settings.port, this.settings.host)
    this.url = this.server.url
    if (!this.settings.endpoint) this.linkage.setEndpoint(this.url)
    await this.linkage.publishAll()
    await this.cluster.refresh()
    this.scheduler.start({ recovering })
    this.runner.start()
    this.upkeep.start()
    this.linkage.startHeartbeat()
    this.status.startRenewing((err) => this.log.warn({ err: describeError(err) }, 'could not renew status leases (will retry)'))
    void this.sweepOrphans()
    this.log.info({ url: this.url, records: this.view.size(), recovering, ms: this.clock.now() - t0 }, 'meshlet started')
    return this
  }

  /**
   * Re-reads every tracked repo, following the linkage graph until it stops growing: after a
   * restart or a lapse, before yielding replaced replicas. True when every repo was read.
   */
  private async catchUp(): Promise<boolean> {
    const source = this.ports.source
    if (!source.resync) {
      await source.processAll()
      return true
    }
    for (let round = 0; round < 4; round++) {
      await this.cluster.refresh()
      const before = this.cluster.trackedRepos().join(',')
      const ok = await source.resync()
      await source.processAll()
      await this.cluster.refresh()
      if (!ok) return false
      if (this.cluster.trackedRepos().join(',') === before) return true
    }
    return true
  }

  /** Own bids/status records whose workload vanished while this peer was down: confirm with the owner's PDS, then clean up. */
  private async sweepOrphans(): Promise<void> {
    const uris = new Set<string>()
    for (const s of this.view.statusesBy(this.settings.did)) uris.add(s.workload.uri)
    for (const uri of uris) {
      if (this.view.workload(uri) || this.view.rejection(uri)) continue
      try {
        if (!(await this.ports.publicRecords.recordExists(uri))) {
          this.log.info({ workload: uri }, 'workload was deleted while this meshlet was away; cleaning up')
          this.runner.deleted.add(uri)
          this.scheduler.mark(uri)
        }
      } catch (err) {
        this.log.warn({ err: describeError(err), workload: uri }, 'cannot confirm whether workload still exists; leaving its container alone')
      }
    }
    this.runner.mark()
  }

  /** Waits until every loop is idle: records handled, writes landed, containers reconciled. */
  async processAll(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await this.ports.source.processAll()
      await this.scheduler.processAll()
      await this.writer.idle()
      await this.runner.processAll()
    }
  }

  /**
   * Drain: stop bidding, release every replica so other peers take it, then stop. Returns how many
   * were handed over, at once (the caller may be an XRPC request); the handover goes on in the
   * background and waitUntilStopped() resolves when it is done.
   */
  async shutdown(drain: boolean): Promise<number> {
    const released: Workload[] = []
    if (drain) {
      this.scheduler.setDraining(true)
      for (const s of this.view.statusesBy(this.settings.did)) {
        const w = this.view.workload(s.workload.uri)
        if (!w || w.cid !== s.workload.cid || !['pending', 'pulling', 'starting', 'running'].includes(s.state)) continue
        // Make before break: the container keeps running until another meshlet runs the replica.
        this.runner.handingOver.add(w.uri)
        // 'draining' is a yield prefix (core/placement.ts): this meshlet may take the slot back later.
        await this.status.release(w, 'draining: handed over to another meshlet (its owner shut it down)')
        released.push(w)
      }
      await this.writer.idle()
    }
    void this.finishShutdown(released)
    return released.length
  }

  /** Waits (at most a lease) until other meshlets run every released replica, stops their containers here, then the peer. */
  private async finishShutdown(released: Workload[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 50)) // let an XRPC caller get its answer first
    const deadline = this.clock.now() + this.settings.leaseMs
    const replaced = (w: Workload) =>
      this.view.statusesFor(w.uri).filter((s) => s.meshlet !== this.settings.did && s.workload.cid === w.cid && s.state === 'running').length >= w.replicas
    while (!this.stopping && released.some((w) => !replaced(w)) && this.clock.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    const notYet = released.filter((w) => !replaced(w))
    if (notYet.length) this.log.warn({ workloads: notYet.map((w) => w.uri) }, 'no other meshlet runs these yet; stopping them anyway')
    else if (released.length) this.log.info({ handedOver: released.length }, 'every drained replica runs elsewhere')
    this.runner.handingOver.clear()
    this.runner.mark()
    await this.runner.processAll()
    await this.stop()
  }

  /** Resolves when the peer has stopped (SIGTERM, or a shutdown call). */
  waitUntilStopped(): Promise<void> {
    return this.stopped
  }

  /** Stops the loops; containers keep running (a peer restart must not kill work). */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopping
    this.stopping = (async () => {
      this.scheduler.stop()
      this.linkage.stopHeartbeat()
      this.status.stopRenewing()
      this.upkeep.stop()
      await this.runner.stop()
      await this.writer.idle().catch(() => {})
      await this.ports.source.stop().catch(() => {})
      await this.server?.close().catch(() => {})
      await this.ports.cursorStore.close().catch(() => {})
      this.log.info('meshlet stopped')
      this.resolveStopped()
    })()
    return this.stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

export { NSID }
