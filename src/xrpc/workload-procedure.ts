// The four owner-only procedures that act on one workload share one shape:
// authenticate -> check the uri -> owner only -> act -> { uri, state }.
import type { AtUri } from '../core/types.js'
import { assertWorkloadOwner, parseWorkloadUri, type ServiceAuthResult } from './auth.js'
import { inputBody, json, type XrpcContext, type XrpcServer } from './context.js'

export function registerWorkloadProcedure(
  server: XrpcServer,
  ctx: XrpcContext,
  nsid: string,
  verb: string,
  act: (uri: AtUri) => Promise<{ state: string }>,
): void {
  server.method<ServiceAuthResult>(nsid, {
    auth: ctx.auth.verifier(nsid),
    handler: async ({ auth, input }) => {
      const { uri } = parseWorkloadUri(inputBody(input).uri)
      assertWorkloadOwner(ctx.control, auth.credentials, uri, verb)
      const { state } = await act(uri)
      ctx.logger.info({ nsid, uri, caller: auth.credentials.did, state }, `workload ${verb} requested`)
      return json({ uri, state })
    },
  })
}
