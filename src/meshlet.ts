// One meshlet peer: the composition root of its services. The constructor only builds them and hands
// each its dependencies; what the peer does over time is elsewhere: peer/startup.ts (start),
// peer/intake-routes.ts (which loop a record wakes), services/drain.ts (shutdown with handover),
// peer/stop.ts (stop). context.ts builds the real adapters (ports) from config; tests pass their own.
import { HeldVolumes } from './services/held-volumes.js'
import { advertisedHost } from './peer/advertise.js'
import { CommuneView } from './core/view.js'
import { NSID } from './core/types.js'
import { systemClock, type Clock } from './ports/clock.js'
import { MemoryEvictionStore, type EvictionStore } from './ports/eviction-store.js'
import { createLogger, type Logger } from './logger.js'
import { RecordWriter } from './services/record-writer.js'
import { IntakeService } from './services/intake.js'
import { ClusterService } from './services/cluster.js'
import { HostMonitor } from './services/host-monitor.js'
import { StatusReporter } from './services/status-reporter.js'
import { SchedulerService } from './services/scheduler.js'
import { RunnerService } from './services/runner.js'
import { LinkagePublisher } from './services/linkage.js'
import { PeerControl } from './services/control.js'
import { Timeline } from './services/timeline.js'
import { GuestImagePulls } from './services/guest-image-pulls.js'
import { HostUpkeep } from './services/host-upkeep.js'
import type { AtUri, Did, Isolation } from './core/types.js'
import { CatchUp } from './services/catch-up.js'
import { OrphanSweep } from './services/orphan-sweep.js'
import { DrainService } from './services/drain.js'
import { WhenPolicy } from './services/when-policy.js'
import type { ListeningXrpcServer } from './xrpc/server.js'
import { VERSION, type PeerPorts, type PeerSettings } from './peer/settings.js'
import { intakeRoutes } from './peer/intake-routes.js'
import { startPeer } from './peer/startup.js'
import { stopPeer } from './peer/stop.js'
import { noMetrics, type PeerMetrics } from './ports/metrics.js'
import { MetricsObserver } from './services/metrics-observer.js'
import { mountMetrics } from './web/routes.js'
import { mountWebView } from './web/web-routes.js'
import { mountOwnerOAuth, OwnerOAuth } from './web/owner-oauth.js'
import { mountOwnerActions } from './web/owner-actions.js'
import { RecordFeed } from './services/record-feed.js'
import { CommuneSnapshots } from './services/commune-snapshot.js'
import { missingSecret } from './core/secrets.js'
import { buildHints, type PeerHints } from './peer/hints.js'
import { PeerLiveness } from './peer/liveness.js' // liveness (issue 16 part 3)

export { VERSION, type PeerPorts, type PeerSettings }

export class Meshlet implements AsyncDisposable {
  readonly view: CommuneView
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
  /** Workloads the owner evicted from this machine (farm.meshlet.evictWorkload). */
  readonly evictions: EvictionStore
  /** Which images this meshlet pulled for which guest (image policy record; image GC keeps its own, in the runtime). */
  readonly pulledImages: GuestImagePulls
  /** Storage watcher, image and network GC. */
  readonly upkeep: HostUpkeep
  /** What containers here are kept from, once the runtime has checked its rights at start (published in the profile). */
  private isolation: Isolation | undefined
  readonly catchUp: CatchUp
  readonly orphans: OrphanSweep
  readonly drain: DrainService
  /** appview (issue 15): counters and gauges behind /metrics. */
  readonly metrics: PeerMetrics
  /** appview (issue 15): the web view's data and live feed. */
  readonly feed: RecordFeed
  readonly snapshots: CommuneSnapshots
  /** when (issue 14): guest hours, activity, windows, owner-first preemption. */
  readonly when: WhenPolicy
  /** notify (issue 16): hints sent after own writes, hints taken from peers. */
  readonly hints: PeerHints
  /** liveness (issue 16 part 3): probes, suspicions, PDS touch; absent without settings.liveness. */
  readonly liveness: PeerLiveness | undefined
  private server: ListeningXrpcServer | undefined
  private stopping: Promise<void> | undefined
  private readonly stopped: Promise<void>
  private resolveStopped!: () => void

  constructor(
    readonly settings: PeerSettings,
    readonly ports: PeerPorts,
  ) {
    const view = (this.view = new CommuneView({ maxRecords: settings.viewMaxRecords, maxBytes: settings.viewMaxBytes }))
    const clock = (this.clock = ports.clock ?? systemClock)
    const log = (this.log = ports.logger ?? createLogger('meshlet', { meshlet: settings.did }))
    const sub = (name: string) => log.child({ name: `meshlet:${name}` })
    const self = { meshlet: settings.did, owner: settings.owner }
    const evictions = (this.evictions = ports.evictions ?? new MemoryEvictionStore())
    this.stopped = new Promise((r) => (this.resolveStopped = r))
    const pulledImages = (this.pulledImages = new GuestImagePulls(ports.cursorStore))
    const metrics = (this.metrics = ports.metrics ?? noMetrics)
    const observer = new MetricsObserver(metrics, () => clock.now())
    this.timeline = new Timeline(2000, (uri, stage, at) => {
      log.debug({ workload: uri, stage, at }, 'stage')
      observer.stage(stage, at, this.timeline.get(uri))
    })
    // Own writes come back into the view at once, through the same check as anyone's records.
    this.writer = new RecordWriter(
      ports.publisher,
      (w) => {
        observer.write(w)
        this.hints.sender?.written(w.collection, w.uri, w.cid) // notify (issue 16)
        this.liveness?.touch.touched() // liveness (issue 16 part 3): a landed write is contact with the PDS
        if (w.cid === undefined) {
          this.intake.handle({ op: 'delete', did: w.did, collection: w.collection, rkey: w.rkey, uri: w.uri })
          return
        }
        const event = ports.decode({ did: w.did, collection: w.collection, rkey: w.rkey, cid: w.cid, value: w.value })
        if (event) this.intake.handle(event)
      },
      sub('writer'),
    )
    const cluster = (this.cluster = new ClusterService(view, ports.source, { ...self, configuredMembers: settings.clusterMembers }, sub('cluster')))
    const host = (this.hostMonitor = new HostMonitor(ports.hostProbe, clock))
    // notify (issue 16)
    this.hints = buildHints({ enabled: settings.notify ?? true, self: settings.did, allowHttp: settings.allowHttp, notifier: ports.notifier, proofs: ports.proofs, source: ports.source, view, cluster, clock, log: sub('hints') })
    const status = (this.status = new StatusReporter(view, this.writer, clock, settings.did, (uri, dropped) =>
      sub('status').warn({ workload: uri, dropped }, 'status history full: the oldest claims leave the ledger (more than 32 versions of one workload ran here within the decay window)'),
      // Services (issue 12, apps): endpoints carry the advertised address (default: the endpoint's host).
      () => advertisedHost(settings.advertiseAddress, settings.endpoint || (this.server?.url ?? '')),
    ))
    this.catchUp = new CatchUp({ source: ports.source, cluster })
    this.when = new WhenPolicy({ self, roles: settings.roles, guest: settings.guestPolicy ?? {}, windowClock: settings.windowClock ?? (() => clock.now()) })
    // The scheduler, runner and linkage depend on each other at run time (hold while out of touch,
    // start gate, fencing, rejoin): each reaches the others through closures called after start.
    const scheduler = (this.scheduler = new SchedulerService({
      view,
      cluster,
      writer: this.writer,
      status,
      host,
      clock,
      log: sub('scheduler'),
      self,
      leaseMs: settings.leaseMs,
      minOwnerBalance: settings.minOwnerBalance,
      guestQuota: settings.guestQuota,
      registryPolicy: settings.registryPolicy,
      policy: { reserveMemoryMb: settings.reserveMemoryMb, maxLoadPermille: settings.maxLoadPermille },
      timeline: this.timeline,
      holdWhile: () => this.linkage.outOfTouch(),
      lastReceived: (did) => this.intake.receipts.lastReceived(did),
      suspected: settings.liveness && ((m, trusted) => this.liveness!.service.suspected(m, trusted)), // liveness (issue 16 part 3)
      onStartAllowed: () => this.runner.mark(),
      isEvicted: (uri) => evictions.has(uri),
      // Secrets (issue 13)
      missingSecret: (w) => missingSecret(w, settings.did, ports.secretKeys?.publicKey ?? '', (o, n) => view.secret(o, n)),
      when: this.when, // when (issue 14)
      onWhenDrain: (w, reason) => this.drain.handOver(w, reason),
    }))
    const runner = (this.runner = new RunnerService({
      view,
      runtime: ports.runtime,
      status,
      clock,
      log: sub('runner'),
      meshlet: settings.did,
      owner: settings.owner,
      registryPolicy: settings.registryPolicy,
      pulledImages,
      allowedBinds: settings.allowedBinds,
      timeline: this.timeline,
      maxParallelStarts: settings.maxParallelStarts, // burst (issue 16)
      startGate: (uri) => scheduler.decisions.get(uri)?.start,
      fence: { shortLeaseMs: settings.leaseMs, lease: () => this.linkage.publishedLease(), lastBeatAt: () => this.linkage.lastBeat(), wantShort: () => this.linkage.wantShortLease() },
      secretKeys: ports.secretKeys,
      artifacts: ports.artifacts,
      // issue 12 (health)
      healthProbe: ports.healthProbe,
    }))
    this.linkage = new LinkagePublisher({
      view,
      writer: this.writer,
      host,
      clock,
      log: sub('linkage'),
      ...self,
      members: settings.clusterMembers,
      endpoint: () => settings.endpoint || (this.server?.url ?? ''),
      roles: settings.roles,
      labels: settings.labels,
      capabilities: settings.capabilities,
      leaseMs: settings.leaseMs,
      minOwnerBalance: settings.minOwnerBalance,
      guestQuota: settings.guestQuota,
      isolation: () => this.isolation,
      sealingKey: ports.secretKeys?.publicKey,
      guestPolicy: () => this.when.published(), // when (issue 14)
      // Services (issue 12, apps): the volumes it holds, so placement prefers it for their workloads.
      volumes: ((held) => () => held.current())(new HeldVolumes(ports.runtime, settings.did)),
      version: VERSION,
      // liveness (issue 16 part 3): rare heartbeat unless a batch claim needs the short lease
      ...(settings.liveness && {
        fallbackLeaseMs: settings.liveness.fallbackLeaseMs,
        shortLease: () => this.liveness!.shortLease(),
        pingKey: () => this.liveness!.pingKey(),
        // the soonest the others can have confirmed a suspicion: a direct and an indirect timeout, then the confirm window
        awayAfterMs: settings.liveness.confirmMs + 3 * settings.liveness.probeTimeoutMs,
      }),
      rejoin: {
        catchUp: async () => {
          if (!(await this.catchUp.run())) return false
          await scheduler.releaseReplaced()
          return true
        },
        rejoined: () => scheduler.rejoined(),
      },
    })
    this.upkeep = new HostUpkeep(
      view,
      ports.runtime,
      status,
      { meshlet: settings.did, defaultStorageMb: settings.containerStorageMb ?? 1024, storageCheckMs: settings.storageCheckMs ?? 30_000, gcEveryMs: 300_000 },
      sub('upkeep'),
    )
    this.orphans = new OrphanSweep({ meshlet: settings.did, view, publicRecords: ports.publicRecords, runner, scheduler, log })
    this.drain = new DrainService({
      meshlet: settings.did,
      leaseMs: settings.leaseMs,
      view,
      scheduler,
      status,
      writer: this.writer,
      runner,
      clock,
      log,
      stopPeer: () => this.stop(),
      stopping: () => this.stopping !== undefined,
    })
    this.control = new PeerControl({
      ...self,
      view,
      cluster,
      scheduler,
      runner,
      status,
      host,
      runtime: ports.runtime,
      evictions,
      shutdown: (drain) => this.drain.shutdown(drain),
      hints: () => this.hints.intake, // notify (issue 16)
      now: () => clock.now(), // when (issue 14)
    })
    this.intake = new IntakeService({
      view,
      clock,
      log: sub('intake'),
      listeners: intakeRoutes({ owner: settings.owner, view, cluster, scheduler, runner, status, timeline: this.timeline, log }),
      observe: (e) => {
        observer.record(e)
        this.feed.publish(e)
      },
      received: (e, at) => this.liveness?.received(e, at), // liveness (issue 16 part 3)
    })
    this.liveness = settings.liveness
      ? new PeerLiveness({
          settings: settings.liveness,
          self: settings.did,
          owner: settings.owner,
          view,
          graph: () => cluster.current(),
          writer: this.writer,
          clock,
          log: sub('liveness'),
          lastReceived: (did) => this.intake.receipts.lastReceived(did),
          reachable: ports.publisher.reachable && (() => ports.publisher.reachable!()),
          keys: ports.pingKeys,
          refute: () => this.linkage.refute(),
          changed: () => scheduler.markAll(),
          away: () => this.linkage.markAway(),
        })
      : undefined
    this.feed = new RecordFeed(() => clock.now())
    this.snapshots = new CommuneSnapshots({
      view,
      graph: () => cluster.current(),
      owners: () => [settings.owner, ...settings.clusterMembers],
      now: () => clock.now(),
      servedBy: { kind: 'peer', ...self },
      peerStatus: (uri) => this.control.workloadStatus(uri),
      energy: settings.energy, // appview (issue 15)
    })
    metrics.gauges({
      firehoseLag: () => ports.source.lag?.() ?? [],
      heartbeatAgeMs: () => {
        const beat = this.linkage.lastBeat()
        return beat === undefined ? undefined : clock.now() - beat
      },
      view: () => ({ records: view.records(), bytes: view.bytes(), ...view.limits(), dropped: view.droppedRecords() }),
    })
  }

  /** The XRPC server's URL once started ('' before). */
  get url(): string {
    return this.server?.url ?? ''
  }

  /** Starts the peer (peer/startup.ts): backfill, publish own records, serve XRPC, then schedule and run. */
  async start(): Promise<this> {
    await this.liveness?.init() // liveness (issue 16 part 3): the ping key goes into the first profile
    await startPeer({
      settings: this.settings,
      source: this.ports.source,
      idResolver: this.ports.idResolver,
      clock: this.clock,
      log: this.log,
      view: this.view,
      intake: this.intake,
      cluster: this.cluster,
      catchUp: this.catchUp,
      linkage: this.linkage,
      scheduler: this.scheduler,
      runner: this.runner,
      status: this.status,
      control: this.control,
      orphans: this.orphans,
      listening: (server) => (this.server = server),
      runtime: this.ports.runtime,
      upkeep: this.upkeep,
      isolated: (isolation) => (this.isolation = isolation),
      routes: (app) => {
        if (this.ports.metrics) mountMetrics(app, { metrics: this.metrics, allow: this.settings.metricsAllow })
        const o = this.settings.oauth
        const oauth = o ? new OwnerOAuth({ baseUrl: () => this.url, plcUrl: o.plcUrl, handleResolver: o.handleResolver, allowHttp: this.settings.allowHttp, log: this.log }) : undefined
        if (oauth) mountOwnerOAuth(app, oauth)
        // appview (issue 15): change/stop/pause/resume/evict from the page
        if (oauth) mountOwnerActions(app, oauth, { ownerOf: (m) => this.cluster.current().ownerOf(m), replicas: (uri) => this.control.workloadStatus(uri).replicas, idResolver: this.ports.idResolver, allowHttp: this.settings.allowHttp })
        const ownerPanel = { workload: (uri: AtUri) => this.view.workload(uri), meshletsOf: (o: Did) => this.cluster.current().meshletsOf(o) }
        mountWebView(app, { snapshots: this.snapshots, feed: this.feed, oauth, ownerPanel })
        this.liveness?.routes(app) // liveness (issue 16 part 3)
      },
    })
    this.liveness?.start()
    return this
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

  /** Drain (services/drain.ts) or just stop; returns how many replicas are being handed over. */
  shutdown(drain: boolean): Promise<number> {
    return this.drain.shutdown(drain)
  }

  /** Resolves when the peer has stopped (SIGTERM, or a shutdown call). */
  waitUntilStopped(): Promise<void> {
    return this.stopped
  }

  /** Stops the loops (peer/stop.ts); containers keep running (a peer restart must not kill work). */
  async stop(): Promise<void> {
    this.liveness?.stop() // liveness (issue 16 part 3)
    this.stopping ??= stopPeer({
      scheduler: this.scheduler,
      linkage: this.linkage,
      status: this.status,
      runner: this.runner,
      writer: this.writer,
      source: this.ports.source,
      cursorStore: this.ports.cursorStore,
      closeServer: async () => this.server?.close(),
      upkeep: this.upkeep,
      log: this.log,
    }).then(() => this.resolveStopped())
    return this.stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

export { NSID }
