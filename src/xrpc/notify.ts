// farm.meshlet.notify (issue 16): "I wrote these records" from a member of this meshlet's cluster or
// one of its meshlets. Its token is accepted again within its lifetime, unlike other procedures':
// a hint changes nothing by itself (the record is fetched and checked before anything is applied,
// services/hint-intake.ts) and is idempotent, so a replayed token gains an attacker nothing a
// member's own hint would not, while a sender needs one getServiceAuth per receiver per token
// lifetime instead of one per write. Calls are rate-limited per caller on top of service auth's limits.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import type { StrongRef } from '../core/types.js'
import { $nsid } from '../lexicons/farm/meshlet/notify.defs.js'
import { rateLimited } from './auth-limits.js'
import { assertClusterMember, type ServiceAuthResult } from './auth.js'
import { inputBody, json, type XrpcContext, type XrpcServer } from './context.js'
import { invalidRequest } from './errors.js'

/** Hinted records one caller may send per minute (a burst of claims and status updates fits). */
export const NOTIFY_RECORDS_PER_MINUTE = 1200

export function notify(server: XrpcServer, ctx: XrpcContext, recordsPerMinute = NOTIFY_RECORDS_PER_MINUTE): void {
  const limiter = new RateLimiterMemory({ points: recordsPerMinute, duration: 60 })
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid, { reusable: true }),
    handler: async ({ auth, input }) => {
      const caller = auth.credentials.did
      assertClusterMember(ctx.control, auth.credentials, 'hints')
      const records = inputBody(input).records
      if (!Array.isArray(records) || records.length === 0) throw invalidRequest('records is required: [{ uri, cid }] of the records written')
      try {
        await limiter.consume(caller, records.length)
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err
        const retry = Math.max(1, Math.ceil(err.msBeforeNext / 1000))
        throw rateLimited(`too many hints from ${caller}; try again in ${retry} s (the firehose delivers the records anyway)`, retry)
      }
      const refs = records.map((r) => ({ uri: String((r as StrongRef).uri), cid: String((r as StrongRef).cid) }))
      const accepted = ctx.control.notify?.(caller, refs) ?? 0
      return json({ accepted })
    },
  })
}
