// The meshlet's XRPC server: @atproto/xrpc-server on express, one handler per farm.meshlet method,
// service auth in auth.ts. Plus GET /health and GET / (no auth) for people and load balancers.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import express from 'express'
import type { IdResolver } from '@atproto/identity'
import type { LexiconDoc } from '@atproto/lexicon'
import { createServer } from '@atproto/xrpc-server'
import type { Did } from '../core/types.js'
import { createLogger, type Logger } from '../logger.js'
import { ServiceAuth } from './auth.js'
import type { AuthLimitOptions } from './auth-limits.js'
import type { TokenPolicy } from './token.js'
import type { XrpcContext } from './context.js'
import type { ControlPlane } from '../ports/control-plane.js'
import { deleteWorkload } from './delete-workload.js'
import { evictWorkload } from './evict-workload.js'
import { toXrpcError } from './errors.js'
import { getCapacity } from './get-capacity.js'
import { getLogs } from './get-logs.js'
import { getWorkloadStatus } from './get-workload-status.js'
import { listWorkloads } from './list-workloads.js'
import { pauseWorkload } from './pause-workload.js'
import { resumeWorkload } from './resume-workload.js'
import { shutdown } from './shutdown.js'
import { stopWorkload } from './stop-workload.js'
import { purgeVolumes } from './purge-volumes.js'
import { notify } from './notify.js'

export interface XrpcServerOptions {
  control: ControlPlane
  /** Resolves callers' DID documents for their signing keys. */
  idResolver: IdResolver
  logger?: Logger
  /** The `aud` tokens must carry. Defaults to control.meshletDid. */
  serviceDid?: Did
  /** Reported by /health; defaults to package.json's version. */
  version?: string
  /** Token lifetime cap and clock skew (defaults in token.ts: 300 s, 30 s). */
  tokens?: Partial<TokenPolicy>
  /** Rate limits, forced key refreshes, replay cache (defaults in auth-limits.ts). */
  limits?: AuthLimitOptions
  // appview (issue 15)
  /** More routes (the web view, /metrics), mounted before GET / and the XRPC router. */
  routes?: (app: express.Express) => void
}

export interface ListeningXrpcServer {
  url: string
  close(): Promise<void>
}

export interface MeshletXrpcServer {
  app: express.Express
  listen(port: number, host?: string): Promise<ListeningXrpcServer>
}

// Inputs are a uri and a flag; anything much bigger is a mistake or an attack.
const JSON_LIMIT_BYTES = 16 * 1024

const here = path.dirname(fileURLToPath(import.meta.url))
/** Resolved from this file, so the server works from any cwd. */
export const LEXICONS_DIR = path.resolve(here, '../../lexicons')

let cachedDocs: LexiconDoc[] | undefined

/** Every lexicon JSON under lexicons/ (farm.meshlet methods and the commune/com defs they reference). */
export function loadLexiconDocs(dir: string = LEXICONS_DIR): LexiconDoc[] {
  if (dir === LEXICONS_DIR && cachedDocs) return cachedDocs
  const files = (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.json'))
    .sort()
  const docs = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as LexiconDoc)
  if (!docs.some((d) => d.id === 'farm.meshlet.getCapacity')) {
    throw new Error(`no farm.meshlet lexicons found under ${dir}`)
  }
  if (dir === LEXICONS_DIR) cachedDocs = docs
  return docs
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(here, '../../package.json'), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

export function createXrpcServer(opts: XrpcServerOptions): MeshletXrpcServer {
  const logger = opts.logger ?? createLogger('meshlet:xrpc')
  const serviceDid = opts.serviceDid ?? opts.control.meshletDid
  const version = opts.version ?? packageVersion()
  const control = opts.control
  // Who this meshlet serves, asked before any DID document is fetched (auth.ts).
  const isKnownIssuer = (did: Did) => did === serviceDid || did === control.meshletDid || did === control.ownerDid || control.isClusterMember(did)
  const auth = new ServiceAuth({ idResolver: opts.idResolver, serviceDid, logger, isKnownIssuer, tokens: opts.tokens, limits: opts.limits })
  const ctx: XrpcContext = { control: opts.control, auth, logger }

  const xrpc = createServer(loadLexiconDocs(), {
    payload: { jsonLimit: JSON_LIMIT_BYTES, textLimit: JSON_LIMIT_BYTES, blobLimit: JSON_LIMIT_BYTES },
    errorParser: (err) => toXrpcError(err, logger),
  })
  getCapacity(xrpc, ctx)
  listWorkloads(xrpc, ctx)
  getWorkloadStatus(xrpc, ctx)
  deleteWorkload(xrpc, ctx)
  pauseWorkload(xrpc, ctx)
  resumeWorkload(xrpc, ctx)
  stopWorkload(xrpc, ctx)
  getLogs(xrpc, ctx)
  shutdown(xrpc, ctx)
  evictWorkload(xrpc, ctx)
  // Services (issue 12, apps)
  purgeVolumes(xrpc, ctx)
  // notify (issue 16): hints that a record was written
  notify(xrpc, ctx)

  const app = express()
  app.disable('x-powered-by')
  app.use((req, res, next) => {
    const started = process.hrtime.bigint()
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      logger.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms) }, 'xrpc request')
    })
    next()
  })
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', meshlet: serviceDid, version })
  })
  opts.routes?.(app)
  app.get('/', (_req, res) => {
    res.json({
      name: 'meshlet',
      meshlet: serviceDid,
      version,
      about: 'A meshlet peer: XRPC at /xrpc/farm.meshlet.* (atproto service auth), health at /health.',
    })
  })
  app.use(xrpc.router)
  // Anything else: a JSON 404 rather than express's HTML page.
  app.use((req, res) => {
    res.status(404).json({ error: 'NotFound', message: `nothing at ${req.method} ${req.path}` })
  })

  return {
    app,
    listen: (port, host) => listen(app, port, host, logger),
  }
}

async function listen(app: express.Express, port: number, host: string | undefined, logger: Logger): Promise<ListeningXrpcServer> {
  const server = http.createServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const addr = server.address() as AddressInfo
  const shownHost = !host || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  const url = `http://${shownHost}:${addr.port}`
  logger.info({ url }, 'xrpc server listening')
  let closed: Promise<void> | undefined
  return {
    url,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections()
      })
      return closed
    },
  }
}
