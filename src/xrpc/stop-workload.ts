// farm.meshlet.stopWorkload: the workload's owner only (PROTOCOL §5).
import { $nsid } from '../lexicons/farm/meshlet/stopWorkload.defs.js'
import type { XrpcContext, XrpcServer } from './context.js'
import { registerWorkloadProcedure } from './workload-procedure.js'

export function stopWorkload(server: XrpcServer, ctx: XrpcContext): void {
  registerWorkloadProcedure(server, ctx, $nsid, 'stop', (uri) => ctx.control.stopWorkload(uri))
}
