// The startup sequence of a peer, in order: backfill, follow the linkage graph, read its own repo,
// yield what others replaced while it was away, serve XRPC, publish its own records, then start
// the loops. The order is the point: nothing is decided on a partial view.
import type { IdResolver } from '@atproto/identity'
import type { CommuneView } from '../core/view.js'
import type { RecordSource } from '../ports/record-source.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { IntakeService } from '../services/intake.js'
import type { ClusterService } from '../services/cluster.js'
import type { CatchUp } from '../services/catch-up.js'
import type { LinkagePublisher } from '../services/linkage.js'
import type { SchedulerService } from '../services/scheduler.js'
import type { RunnerService } from '../services/runner.js'
import type { StatusReporter } from '../services/status-reporter.js'
import type { PeerControl } from '../services/control.js'
import type { OrphanSweep } from '../services/orphan-sweep.js'
import { createXrpcServer, type ListeningXrpcServer } from '../xrpc/server.js'
import type { PeerSettings } from './settings.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'
import type { HostUpkeep } from '../services/host-upkeep.js'
import type { Isolation } from '../core/types.js'
import type { Express } from 'express'

/** Rounds of "refresh the graph, read its repos" at startup (owner -> members -> their meshlets). */
const GRAPH_ROUNDS = 4
const OWN_REPO_POLL_MS = 200
const OWN_REPO_WARN_EVERY_MS = 10_000

export interface StartupDeps {
  settings: PeerSettings
  source: RecordSource
  idResolver: IdResolver
  clock: Clock
  log: Logger
  view: CommuneView
  intake: IntakeService
  cluster: ClusterService
  catchUp: CatchUp
  linkage: LinkagePublisher
  scheduler: SchedulerService
  runner: RunnerService
  status: StatusReporter
  control: PeerControl
  orphans: OrphanSweep
  /** The XRPC server listens: its URL is the endpoint the profile publishes (unless configured). */
  listening: (server: ListeningXrpcServer) => void
  runtime: ContainerRuntime
  upkeep: HostUpkeep
  /** What containers here are kept from, as the runtime found it (published in the profile). */
  isolated: (isolation: Isolation | undefined) => void
  // appview (issue 15)
  /** The web view and /metrics, mounted on the XRPC server. */
  routes?: (app: Express) => void
}

export async function startPeer(d: StartupDeps): Promise<void> {
  const { settings, source, clock, log, view, cluster, linkage, scheduler } = d
  const t0 = clock.now()
  await source.start((e) => d.intake.handle(e))
  // Follow the linkage graph until it stops growing (owner -> members -> their meshlets).
  for (let round = 0; round < GRAPH_ROUNDS; round++) {
    await cluster.refresh()
    await source.processAll()
    const before = view.size().records
    await cluster.refresh()
    await source.processAll()
    if (view.size().records === before) break
  }
  // This meshlet's own repo holds its earlier bids and claims: its memory. Deciding anything
  // before it is read would repeat decisions (bid twice, claim again), so wait for it.
  for (let waited = 0; !source.isSynced(settings.did); waited += OWN_REPO_POLL_MS) {
    if (waited > 0 && waited % OWN_REPO_WARN_EVERY_MS === 0) log.warn({ waitedMs: waited }, "still waiting to read this meshlet's own repo before scheduling")
    await new Promise((r) => setTimeout(r, OWN_REPO_POLL_MS))
    await source.processAll()
  }
  cluster.startReporting()
  await cluster.refresh()
  const recovering = linkage.wasAway()
  if (recovering) {
    // Others may have replaced this meshlet's replicas while it was away: yield those BEFORE the
    // heartbeat revives its claims, on a view that is complete (an incomplete one misses the replacement).
    if (!(await d.catchUp.run())) log.warn('could not re-read every repo; yielding what is known to be replaced')
    await scheduler.releaseReplaced()
  }
  // What containers here are kept from (published in the profile); a peer without the rights says so.
  const isolation = await d.runtime.isolation?.().catch((err) => void log.warn({ err: describeError(err) }, 'cannot tell what containers are isolated from'))
  if (isolation?.note) log.warn({ isolation }, `containers are not fully isolated: ${isolation.note}`)
  d.isolated(isolation ?? undefined)
  const tokens = settings.maxTokenLifetimeSec ? { maxLifetimeSec: settings.maxTokenLifetimeSec } : undefined
  const app = createXrpcServer({ control: d.control, idResolver: d.idResolver, logger: log.child({ name: 'meshlet:xrpc' }), tokens, routes: d.routes })
  const server = await app.listen(settings.port, settings.host)
  d.listening(server)
  await linkage.publishAll()
  await cluster.refresh()
  scheduler.start({ recovering })
  d.runner.start()
  d.upkeep.start()
  linkage.startHeartbeat()
  d.status.startRenewing((err) => log.warn({ err: describeError(err) }, 'could not renew status leases (will retry)'))
  void d.orphans.run()
  log.info({ url: server.url, records: view.size(), recovering, ms: clock.now() - t0 }, 'meshlet started')
}
