// farm.meshlet.getWorkloadStatus: members of this meshlet's cluster; says why each bid won or lost.
import { $nsid } from '../lexicons/farm/meshlet/getWorkloadStatus.defs.js'
import { assertClusterMember, parseWorkloadUri, type ServiceAuthResult } from './auth.js'
import { json, type XrpcContext, type XrpcServer } from './context.js'
import { bidOutcomeOut, replicaViewOut, workloadViewOut } from './views.js'

export function getWorkloadStatus(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth, params }) => {
      // Membership first: outsiders learn nothing about what this meshlet knows.
      assertClusterMember(ctx.control, auth.credentials, "this meshlet's workloads")
      const { uri } = parseWorkloadUri(params.uri)
      const s = ctx.control.workloadStatus(uri)
      return json({
        uri: s.uri,
        cid: s.cid,
        state: s.state,
        valid: s.valid,
        problem: s.problem,
        phase: s.phase,
        local: s.local ? workloadViewOut(s.local) : undefined,
        replicas: s.replicas.map(replicaViewOut),
        bids: s.bids.map(bidOutcomeOut),
        self: s.self ? bidOutcomeOut(s.self) : undefined,
        volumeHolders: s.volumeHolders,
      })
    },
  })
}
