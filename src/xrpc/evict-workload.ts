// farm.meshlet.evictWorkload: the meshlet's owner only. Any workload, anyone's: the owner decides
// what runs on their machine (consent per machine, docs/protocol.md).
import { $nsid } from '../lexicons/farm/meshlet/evictWorkload.defs.js'
import { assertMeshletOwner, parseWorkloadUri, type ServiceAuthResult } from './auth.js'
import { inputBody, json, type XrpcContext, type XrpcServer } from './context.js'

export function evictWorkload(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth, input }) => {
      const body = inputBody(input)
      assertMeshletOwner(ctx.control, auth.credentials, 'evict workloads from it')
      const { uri } = parseWorkloadUri(body.uri)
      const undo = body.undo === true
      const r = await ctx.control.evictWorkload(uri, { undo })
      ctx.logger.warn({ uri, caller: auth.credentials.did, undo, state: r.state }, undo ? 'eviction lifted by owner' : 'workload evicted by owner')
      return json({ uri, evicted: r.evicted, state: r.state })
    },
  })
}
