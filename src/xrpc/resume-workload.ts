// farm.meshlet.resumeWorkload: the workload's owner only (PROTOCOL §5).
import { $nsid } from '../lexicons/farm/meshlet/resumeWorkload.defs.js'
import type { XrpcContext, XrpcServer } from './context.js'
import { registerWorkloadProcedure } from './workload-procedure.js'

export function resumeWorkload(server: XrpcServer, ctx: XrpcContext): void {
  registerWorkloadProcedure(server, ctx, $nsid, 'resume', (uri) => ctx.control.resumeWorkload(uri))
}
