// The people-facing routes of a meshlet's port (issue 15, contract §10): GET /metrics (Prometheus
// text, for the addresses --metrics-allow lists), and the web view (web-routes.ts).
import type express from 'express'
import type { PeerMetrics } from '../ports/metrics.js'
import { addressAllow } from './address-allow.js'

export interface MetricsRouteOptions {
  metrics: PeerMetrics
  /** Addresses/CIDR ranges that may read it (default loopback only). */
  allow?: readonly string[]
}

export function mountMetrics(app: express.Express, opts: MetricsRouteOptions): void {
  const allowed = addressAllow(opts.allow)
  app.get('/metrics', (req, res, next) => {
    if (!allowed(req.socket.remoteAddress)) {
      res.status(403).type('text/plain').send(`metrics are not served to ${req.socket.remoteAddress ?? 'this address'} (see --metrics-allow)\n`)
      return
    }
    opts.metrics.render().then(({ contentType, body }) => {
      res.setHeader('Cache-Control', 'no-store')
      res.setHeader('Content-Type', contentType)
      res.end(body)
    }, next)
  })
}
