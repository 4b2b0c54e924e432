// notify (issue 16): `meshlet submit` tells the owner's own meshlets about the new workload record
// directly (farm.meshlet.notify), so they fetch and check it at once instead of waiting for the PDS's
// firehose poll; each forwards it once to the rest of the cluster. Best-effort: the record is the
// truth, so a meshlet that cannot be reached, or a hint that fails, never fails the submit.
// Discovery (which meshlets, their endpoints) and tokens are prepared while the record is written.
import { NotifyClient } from '../adapters/atproto/notify-client.js'
import { NSID, type Did, type StrongRef } from '../core/types.js'
import { describeError } from '../errors.js'
import { listAllRecords, type ClientContext } from './context.js'

export interface PreparedHints {
  /** Sends the hint to every prepared meshlet; resolves within the deadline, never rejects. */
  send(ref: StrongRef): Promise<{ notified: Did[]; failed: { meshlet: Did; reason: string }[] }>
}

/** Finds the caller's linked meshlets and their endpoints, and mints their tokens, in the background. */
export function prepareHints(ctx: ClientContext, opts: { timeoutMs?: number } = {}): PreparedHints {
  const timeoutMs = opts.timeoutMs ?? 2000
  const notifier = new NotifyClient({
    mint: async (aud, lxm, exp) => (await ctx.agent.com.atproto.server.getServiceAuth({ aud, lxm, exp })).data.token,
    timeoutMs,
  })
  // The owner's half of each link names the meshlet (rkey = its DID); the meshlet checks the rest.
  const targets = listAllRecords(ctx, ctx.did, NSID.meshlet).then((records) =>
    Promise.all(
      records.map(async (r) => {
        const did = r.uri.split('/').pop()!
        try {
          const endpoint = await ctx.client.endpoint(did)
          await notifier.warm(did)
          return { did, endpoint }
        } catch (err) {
          return { did, problem: describeError(err) }
        }
      }),
    ),
  )
  targets.catch(() => {})
  return {
    async send(ref) {
      const work = (async () => {
        const notified: Did[] = []
        const failed: { meshlet: Did; reason: string }[] = []
        let list
        try {
          list = await targets
        } catch (err) {
          return { notified, failed: [{ meshlet: ctx.did, reason: `cannot list your meshlets: ${describeError(err)}` }] }
        }
        await Promise.all(
          list.map(async (t) => {
            if (!('endpoint' in t) || t.endpoint === undefined) return failed.push({ meshlet: t.did, reason: t.problem ?? 'no endpoint' })
            try {
              await notifier.notify({ did: t.did, endpoint: t.endpoint }, [ref])
              notified.push(t.did)
            } catch (err) {
              failed.push({ meshlet: t.did, reason: describeError(err) })
            }
          }),
        )
        return { notified, failed }
      })()
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<{ notified: Did[]; failed: { meshlet: Did; reason: string }[] }>((r) => {
        timer = setTimeout(() => r({ notified: [], failed: [{ meshlet: ctx.did, reason: `no answer within ${timeoutMs * 2} ms` }] }), timeoutMs * 2)
      })
      const out = await Promise.race([work, late])
      clearTimeout(timer)
      return out
    },
  }
}
