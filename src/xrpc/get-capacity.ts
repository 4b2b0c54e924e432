// farm.meshlet.getCapacity: members of this meshlet's cluster (PROTOCOL §5).
import { $nsid } from '../lexicons/farm/meshlet/getCapacity.defs.js'
import { assertClusterMember, type ServiceAuthResult } from './auth.js'
import { json, type XrpcContext, type XrpcServer } from './context.js'

export function getCapacity(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth }) => {
      assertClusterMember(ctx.control, auth.credentials, "this meshlet's capacity")
      const c = await ctx.control.capacity()
      return json({
        meshlet: c.meshlet,
        cpuMillis: c.cpuMillis,
        memoryMb: c.memoryMb,
        cpuMillisFree: c.cpuMillisFree,
        memoryMbFree: c.memoryMbFree,
        cpuMillisCommitted: c.cpuMillisCommitted,
        memoryMbCommitted: c.memoryMbCommitted,
        loadPermille: c.loadPermille,
        onBattery: c.onBattery,
        batteryPermille: c.batteryPermille,
        thermal: c.thermal,
        running: c.running,
        accepting: c.accepting,
      })
    },
  })
}
