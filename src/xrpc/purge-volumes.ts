// farm.meshlet.purgeVolumes (issue 12): the workload's owner only, named by the URI (the record is
// deleted by then, so the URI's repo is the only owner there is).
import { $nsid } from '../lexicons/farm/meshlet/purgeVolumes.defs.js'
import { parseWorkloadUri, type ServiceAuthResult } from './auth.js'
import { inputBody, json, type XrpcContext, type XrpcServer } from './context.js'
import { forbidden, invalidRequest } from './errors.js'

export function purgeVolumes(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth, input }) => {
      const { uri, owner } = parseWorkloadUri(inputBody(input).uri)
      if (owner !== auth.credentials.did) throw forbidden(`only the workload's owner ${owner} may purge its volumes`)
      if (!ctx.control.purgeVolumes) throw invalidRequest('this meshlet keeps no volumes')
      const r = await ctx.control.purgeVolumes(uri)
      if ('refused' in r) throw invalidRequest(r.refused)
      ctx.logger.warn({ uri, caller: auth.credentials.did, removed: r.removed }, 'workload volumes purged by their owner')
      return json({ uri, removed: r.removed })
    },
  })
}
