// farm.meshlet.deleteWorkload: the workload's owner only (PROTOCOL §5).
import { $nsid } from '../lexicons/farm/meshlet/deleteWorkload.defs.js'
import type { XrpcContext, XrpcServer } from './context.js'
import { registerWorkloadProcedure } from './workload-procedure.js'

export function deleteWorkload(server: XrpcServer, ctx: XrpcContext): void {
  registerWorkloadProcedure(server, ctx, $nsid, 'delete', (uri) => ctx.control.deleteWorkload(uri))
}
