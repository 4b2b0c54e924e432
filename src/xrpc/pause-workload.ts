// farm.meshlet.pauseWorkload: the workload's owner only (PROTOCOL §5).
import { $nsid } from '../lexicons/farm/meshlet/pauseWorkload.defs.js'
import type { XrpcContext, XrpcServer } from './context.js'
import { registerWorkloadProcedure } from './workload-procedure.js'

export function pauseWorkload(server: XrpcServer, ctx: XrpcContext): void {
  registerWorkloadProcedure(server, ctx, $nsid, 'pause', (uri) => ctx.control.pauseWorkload(uri))
}
