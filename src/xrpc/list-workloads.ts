// farm.meshlet.listWorkloads: members of this meshlet's cluster (PROTOCOL §5).
import { $nsid } from '../lexicons/farm/meshlet/listWorkloads.defs.js'
import { assertClusterMember, type ServiceAuthResult } from './auth.js'
import { assertStrictQuery, json, type XrpcContext, type XrpcServer } from './context.js'
import { workloadViewOut } from './views.js'

const DEFAULT_LIMIT = 200

export function listWorkloads(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth, params, req }) => {
      assertClusterMember(ctx.control, auth.credentials, "this meshlet's workloads")
      assertStrictQuery(req, { runningOnly: 'boolean', limit: 'integer' })
      // Params are already checked against the lexicon (limit 1..1000, owner a DID).
      const owner = typeof params.owner === 'string' ? params.owner : undefined
      const runningOnly = params.runningOnly === true
      const limit = typeof params.limit === 'number' ? params.limit : DEFAULT_LIMIT
      const workloads = ctx.control.listWorkloads({ owner, runningOnly, limit }).slice(0, limit)
      return json({ workloads: workloads.map(workloadViewOut) })
    },
  })
}
