// liveness (issue 16 part 3): farm.meshlet.ping and farm.meshlet.probe, plain express routes in
// front of the XRPC router. No service auth: a ping reveals only that this meshlet is up (and a
// service-auth token would cost a PDS call per probe); the probe relay reaches only meshlets of
// this cluster that publish a pingKey, at the endpoint of their profile, and is rate-limited.
import type express from 'express'
import type { Did } from '../core/types.js'
import type { PingSigner } from '../ports/ping-keys.js'
import { relayPing } from '../services/prober.js'

export interface PingRoutesOptions {
  signer: () => PingSigner | undefined
  now: () => number
  /** The endpoint of a cluster meshlet that answers probes, or undefined (not one we relay to). */
  probeTarget: (did: Did) => string | undefined
  relayTimeoutMs: number
  /** Relays allowed per second (all callers together). */
  relaysPerSecond?: number
}

const NONCE = /^[A-Za-z0-9_-]{16,64}$/

export function mountPingRoutes(app: express.Express, o: PingRoutesOptions): void {
  const bad = (res: express.Response, status: number, error: string, message: string) => res.status(status).json({ error, message })
  app.get('/xrpc/farm.meshlet.ping', (req, res) => {
    const signer = o.signer()
    if (!signer) return bad(res, 501, 'MethodNotImplemented', 'this meshlet does not answer probes')
    const nonce = req.query.nonce
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) return bad(res, 400, 'InvalidRequest', 'nonce must be 16..64 characters of [A-Za-z0-9_-]')
    res.json(signer.answer(nonce, o.now()))
  })
  const limit = o.relaysPerSecond ?? 20
  let windowStart = 0
  let used = 0
  app.get('/xrpc/farm.meshlet.probe', (req, res) => {
    const { target, nonce } = req.query
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) return bad(res, 400, 'InvalidRequest', 'nonce must be 16..64 characters of [A-Za-z0-9_-]')
    if (typeof target !== 'string') return bad(res, 400, 'InvalidRequest', 'target must be a DID')
    const endpoint = o.probeTarget(target)
    if (!endpoint) return bad(res, 404, 'UnknownTarget', `${target} is not a meshlet of this cluster that answers probes`)
    const now = o.now()
    if (now - windowStart >= 1000) {
      windowStart = now
      used = 0
    }
    if (++used > limit) return bad(res, 429, 'RateLimitExceeded', `at most ${limit} indirect probes per second`)
    void relayPing(endpoint, nonce, o.relayTimeoutMs).then((answer) => {
      if (answer) res.json(answer)
      else bad(res, 504, 'TargetUnreachable', `${target} did not answer within ${o.relayTimeoutMs} ms`)
    })
  })
}
