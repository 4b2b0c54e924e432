// `meshlet appview --members did:a,did:b`: the web view (issue 15) as a standalone, read-only
// service that anyone can run, with no membership and no password. It follows the members' public
// repos exactly as a peer does (record source, intake, view, cluster graph) and serves the same
// pages, but has no scheduler, runner, publisher or XRPC control plane: it only reads.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import express from 'express'
import { CommuneView } from './core/view.js'
import { buildClusterGraph, type ClusterGraph } from './core/cluster.js'
import type { Did } from './core/types.js'
import { systemClock } from './ports/clock.js'
import { IntakeService } from './services/intake.js'
import { CommuneSnapshots } from './services/commune-snapshot.js'
import { RecordFeed } from './services/record-feed.js'
import { AtprotoIdentityResolver } from './adapters/atproto/identity.js'
import { AtprotoRecordSource } from './adapters/atproto/record-source.js'
import { MemoryCursorStore } from './adapters/memory/memory-cursor-store.js'
import { mountWebView } from './web/web-routes.js'
import { ConfigError } from './errors.js'
import { loadEnergyOptions } from './config.js'
import type { EnergyPrice } from './core/energy.js'
import { createLogger, type Logger } from './logger.js'

export interface AppviewOptions {
  members: Did[]
  plc: string
  /** A relay; default: each member's PDS firehose. */
  firehose?: string
  port: number
  host: string
  allowHttp: boolean
  /** --watts-per-core / --kwh-price: the energy cost column of the ledger (issue 15). */
  energy?: EnergyPrice
  logger?: Logger
}

export interface RunningAppview {
  url: string
  view: CommuneView
  snapshots: CommuneSnapshots
  /** Resolves once every record received so far is in the view (tests). */
  processAll(): Promise<void>
  close(): Promise<void>
}

/** Rounds of "follow the graph, read what it adds" at start (members -> their meshlets -> mutual owners). */
const GRAPH_ROUNDS = 4

export async function startAppview(opts: AppviewOptions): Promise<RunningAppview> {
  const log = opts.logger ?? createLogger('meshlet:appview')
  const identity = new AtprotoIdentityResolver({ plcUrl: opts.plc, allowInsecureHttp: opts.allowHttp })
  const source = new AtprotoRecordSource({ identity, cursorStore: new MemoryCursorStore(), relayUrl: opts.firehose, allowInsecureHttp: opts.allowHttp, logger: log.child({ name: 'appview:source' }) })
  const view = new CommuneView()
  const feed = new RecordFeed(() => systemClock.now())
  let graph: ClusterGraph = buildClusterGraph({ links: [], owners: [], memberships: [] })
  let tracked = ''
  // The repos a peer of each member would follow, together: members, their meshlets, mutual owners and theirs.
  const follow = async () => {
    graph = buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() })
    const repos = new Set<Did>()
    for (const m of opts.members) for (const d of graph.trackedRepos(m, opts.members)) repos.add(d)
    const list = [...repos].sort()
    if (list.join(',') === tracked) return
    tracked = list.join(',')
    await source.setRepos(list).catch((err) => log.warn({ err: String(err) }, 'could not update followed repos'))
  }
  let following: Promise<void> = Promise.resolve()
  const intake = new IntakeService({
    view,
    clock: systemClock,
    log: log.child({ name: 'appview:intake' }),
    listeners: {
      linkageChanged: () => void (following = following.then(follow)),
      workloadChanged: () => {},
      workloadDeleted: () => {},
      workloadRejected: () => {},
      peersChanged: () => {},
    },
    observe: (e) => feed.publish(e),
  })
  await source.start((e) => intake.handle(e))
  for (let round = 0; round < GRAPH_ROUNDS; round++) {
    const before = view.size().records
    await follow()
    await source.processAll()
    await following
    if (round > 0 && view.size().records === before) break
  }
  const snapshots = new CommuneSnapshots({ view, graph: () => graph, owners: () => opts.members, now: () => systemClock.now(), servedBy: { kind: 'appview' }, energy: opts.energy })
  const app = express()
  app.disable('x-powered-by')
  app.get('/health', (_req, res) => res.json({ status: 'ok', appview: true, members: opts.members }))
  mountWebView(app, { snapshots, feed })
  app.get('/', (_req, res) => res.json({ name: 'meshlet appview', members: opts.members, about: 'A read-only view of a commune from public records: HTML at / for browsers, JSON at /api/commune.' }))
  app.use((req, res) => res.status(404).json({ error: 'NotFound', message: `nothing at ${req.method} ${req.path}` }))
  const server = http.createServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host.includes(':') ? `[${opts.host}]` : opts.host
  const url = `http://${host}:${port}`
  log.info({ url, members: opts.members, repos: tracked.split(',').length }, 'appview listening')
  return {
    url,
    view,
    snapshots,
    processAll: async () => {
      await source.processAll()
      await following
    },
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections()
      })
      await source.stop()
    },
  }
}

const DID = /^did:(plc|web):[a-zA-Z0-9._:%-]{1,2040}$/

/** Flags (and MESHLET_* env) of `meshlet appview`. */
export function appviewOptionsFrom(argv: string[], env: NodeJS.ProcessEnv = process.env): AppviewOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: 'string' },
      plc: { type: 'string' },
      firehose: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-http': { type: 'boolean' },
      'watts-per-core': { type: 'string' },
      'kwh-price': { type: 'string' },
    },
  })
  const members = (values.members ?? env.MESHLET_APPVIEW_MEMBERS ?? env.MESHLET_CLUSTER_MEMBERS ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  if (members.length === 0) throw new ConfigError('appview: --members (MESHLET_APPVIEW_MEMBERS) is required: the owner DIDs whose commune to show, comma-separated', 'members')
  const bad = members.find((m) => !DID.test(m))
  if (bad) throw new ConfigError(`appview: --members: "${bad}" is not a did:plc or did:web DID`, 'members')
  const port = Number(values.port ?? env.MESHLET_APPVIEW_PORT ?? '2600')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`appview: --port must be 0-65535 (got ${values.port})`, 'port')
  return {
    members,
    plc: values.plc ?? env.MESHLET_PLC ?? 'https://plc.directory',
    firehose: values.firehose ?? env.MESHLET_FIREHOSE,
    port,
    host: values.host ?? env.MESHLET_APPVIEW_HOST ?? '127.0.0.1',
    allowHttp: values['allow-http'] ?? /^(1|true|yes)$/i.test(env.MESHLET_ALLOW_HTTP ?? ''),
    energy: loadEnergyOptions(values, env),
  }
}

export const APPVIEW_HELP = `usage: meshlet appview --members did:a,did:b [--port 2600] [--host 127.0.0.1] [--plc URL] [--firehose URL] [--allow-http]
       [--watts-per-core W [--kwh-price 'P [CUR]']]

A read-only web view of a commune from its members' public repos: no account, no password.
Open http://<host>:<port>/ in a browser; JSON at /api/commune. With --watts-per-core (power of one
busy core) the ledger shows the energy of each owner's CPU time consumed and contributed, and with
--kwh-price (e.g. 0.32 EUR) its cost; both also from MESHLET_WATTS_PER_CORE / MESHLET_KWH_PRICE.
`
