// farm.meshlet.shutdown: the meshlet's owner only. Drains by default so replicas move elsewhere.
import { $nsid } from '../lexicons/farm/meshlet/shutdown.defs.js'
import { assertMeshletOwner, type ServiceAuthResult } from './auth.js'
import { inputBody, json, type XrpcContext, type XrpcServer } from './context.js'

export function shutdown(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth, input }) => {
      assertMeshletOwner(ctx.control, auth.credentials, 'shut it down')
      const drain = inputBody(input).drain !== false
      ctx.logger.warn({ caller: auth.credentials.did, drain }, 'shutdown requested by owner')
      const r = await ctx.control.shutdown({ drain })
      return json({ accepted: r.accepted, handedOver: r.handedOver })
    },
  })
}
