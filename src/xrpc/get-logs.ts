// farm.meshlet.getLogs: the workload's owner only (output may hold anything the program prints).
import { $nsid } from '../lexicons/farm/meshlet/getLogs.defs.js'
import { assertWorkloadOwner, parseWorkloadUri, type ServiceAuthResult } from './auth.js'
import { assertStrictQuery, json, type XrpcContext, type XrpcServer } from './context.js'

const DEFAULT_TAIL = 200

export function getLogs(server: XrpcServer, ctx: XrpcContext): void {
  server.method<ServiceAuthResult>($nsid, {
    auth: ctx.auth.verifier($nsid),
    handler: async ({ auth, params, req }) => {
      assertStrictQuery(req, { tail: 'integer' })
      const { uri } = parseWorkloadUri(params.uri)
      assertWorkloadOwner(ctx.control, auth.credentials, uri, 'read the logs of')
      const tail = typeof params.tail === 'number' ? params.tail : DEFAULT_TAIL
      const logs = await ctx.control.logs(uri, tail)
      return json({
        uri: logs.uri,
        containerId: logs.containerId,
        truncated: logs.truncated,
        lines: logs.lines.map((l) => ({ stream: l.stream, text: l.text })),
      })
    },
  })
}
