// The web view's routes (issue 15, contract §10), on a meshlet's port or the standalone appview:
//   GET /                  the commune (HTML; a client that does not accept HTML gets the JSON about)
//   GET /workload?uri=     one workload: holders and why each meshlet won or lost
//   GET /api/commune       the same data as JSON; /api/workload?uri= likewise
//   GET /events            server-sent events, one per record as it arrives
//   GET /assets/*          app.js and app.css from web/ (shipped in the package; no CDN)
//   /oauth/*               owner sign-in and actions, on a meshlet only (owner-oauth.ts)
// ?part=main returns only the <main> of a page, which app.js swaps in on each event.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type express from 'express'
import type { AtUri } from '../core/types.js'
import type { CommuneSnapshots } from '../services/commune-snapshot.js'
import type { RecordFeed } from '../services/record-feed.js'
import { communeMain, page, workloadMain, type Viewer } from './render.js'
import type { OwnerOAuth } from './owner-oauth.js'
import { ownerPanel, type OwnerPanelDeps } from './owner-panel.js'

const here = path.dirname(fileURLToPath(import.meta.url))
/** Resolved from this file (src/web or dist/web), so it works from any cwd. */
export const WEB_ASSETS_DIR = path.resolve(here, '../../web')
const ASSETS: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' }
const SSE_KEEPALIVE_MS = 15_000
/** AT URIs are short; anything longer is not one. */
const MAX_URI = 1024

export interface WebViewOptions {
  snapshots: CommuneSnapshots
  feed: RecordFeed
  /** Owner sign-in and actions (owner-oauth.ts); absent on the standalone appview. */
  oauth?: OwnerOAuth
  /** The signed-in owner's forms on a workload's page (owner-panel.ts); with oauth only. */
  ownerPanel?: OwnerPanelDeps
}

const SECURITY_HEADERS = {
  // Scripts and styles from this origin only: an injected <script> would not run even if escaping failed.
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
}

function uriParam(req: express.Request): string | undefined {
  const u = req.query.uri
  return typeof u === 'string' && u.startsWith('at://') && u.length <= MAX_URI ? u : undefined
}

export function mountWebView(app: express.Express, opts: WebViewOptions): void {
  const { snapshots, feed } = opts
  const viewer = (req: express.Request): Viewer => ({ signIn: opts.oauth !== undefined, owner: opts.oauth?.whoIs(req) })
  const sendHtml = (res: express.Response, body: string) => {
    res.set(SECURITY_HEADERS).type('text/html; charset=utf-8').send(body)
  }

  app.get('/', (req, res, next) => {
    // Browsers prefer HTML; fetch() and curl (*/*) keep getting the JSON about (xrpc/server.ts).
    if (req.accepts(['application/json', 'text/html']) !== 'text/html' && req.query.part !== 'main') return next()
    const s = snapshots.snapshot()
    const v = viewer(req)
    const pageNo = typeof req.query.page === 'string' && /^\d{1,6}$/.test(req.query.page) ? Number(req.query.page) : 1
    const main = communeMain(s, feed.recent(30), v.owner?.did, pageNo)
    if (req.query.part === 'main') return sendHtml(res, main.value)
    sendHtml(res, page('meshlet · commune', main, { servedBy: s.servedBy, view: 'commune', viewer: v }))
  })

  app.get('/workload', (req, res) => {
    const uri = uriParam(req)
    if (!uri) {
      res.status(400).set(SECURITY_HEADERS).type('text/plain').send('?uri= must be an at:// workload URI\n')
      return
    }
    const d = snapshots.detail(uri)
    const main = workloadMain(d)
    if (req.query.part === 'main') return sendHtml(res, main.value)
    const v = viewer(req)
    const panel = v.owner && opts.ownerPanel ? ownerPanel(opts.ownerPanel, v.owner, uri as AtUri) : undefined
    sendHtml(res, page(`meshlet · ${d.workload?.name ?? 'workload'}`, main, { servedBy: snapshots.snapshot().servedBy, view: 'workload', uri, viewer: v, ownerPanel: panel }))
  })

  app.get('/api/commune', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ ...snapshots.snapshot(), feed: feed.recent(30) })
  })

  app.get('/api/workload', (req, res) => {
    const uri = uriParam(req)
    if (!uri) {
      res.status(400).json({ error: 'InvalidRequest', message: '?uri= must be an at:// workload URI' })
      return
    }
    // Explanation holds bigints only as strings; JSON is safe.
    res.set('Cache-Control', 'no-store').json(snapshots.detail(uri))
  })

  app.get('/events', (req, res) => {
    const send = (item: { seq: number }) => res.write(`id: ${item.seq}\nevent: record\ndata: ${JSON.stringify(item)}\n\n`)
    const unsubscribe = feed.subscribe(send)
    if (!unsubscribe) {
      res.status(503).type('text/plain').send('too many live viewers; reload later\n')
      return
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' })
    res.write('retry: 2000\n\n')
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS)
    keepalive.unref()
    req.on('close', () => {
      clearInterval(keepalive)
      unsubscribe()
    })
  })

  app.get('/assets/:file', (req, res) => {
    const type = ASSETS[req.params.file]
    if (!type) {
      res.status(404).type('text/plain').send('no such asset\n')
      return
    }
    fs.readFile(path.join(WEB_ASSETS_DIR, req.params.file), (err, data) => {
      if (err) res.status(500).type('text/plain').send(`asset missing from this install: ${req.params.file}\n`)
      else res.set({ 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' }).type(type).send(data)
    })
  })
}
