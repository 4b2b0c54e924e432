// `meshlet evict <uri> [--meshlet <did>] [--undo]`: a meshlet's owner stops a guest's workload on
// their own machine and declines it from now on (farm.meshlet.evictWorkload); --undo lifts that.
import { isValidDid } from '@atproto/syntax'
import type { Did } from '../core/types.js'
import { describeCallError, EXIT, run, type ClientContext, type CommandResult, type OutputOptions } from './context.js'
import { UsageError } from './errors.js'
import { ownMeshlets } from './resolve.js'

const SAID: Record<string, string> = {
  stopped: 'its replica here was stopped and it is declined from now on',
  declined: 'nothing of it ran here; it is declined from now on',
  allowed: 'this meshlet may take it again (from its next version: the replica it stopped went elsewhere)',
}

/**
 * Evicts on `--meshlet`, else on every meshlet the caller owns. Takes a full at:// URI: a guest's
 * workload lives in the guest's repo, so a name or record key (which mean the caller's own) would not do.
 */
export async function cmdEvict(ctx: ClientContext, uri: string, opts: OutputOptions & { meshlet?: Did; undo?: boolean } = {}): Promise<CommandResult> {
  return run(opts, async () => {
    if (!uri.startsWith('at://')) throw new UsageError(`meshlet evict takes the workload's at:// URI (see \`meshlet status\` on your meshlet), got ${JSON.stringify(uri)}`)
    if (opts.meshlet !== undefined && !isValidDid(opts.meshlet)) throw new UsageError(`--meshlet must be a DID, got ${JSON.stringify(opts.meshlet)}`)
    const on = opts.meshlet ? [opts.meshlet] : await ownMeshlets(ctx)
    if (on.length === 0) throw new UsageError(`you (${ctx.did}) own no linked meshlet; name one with --meshlet`)
    const undo = opts.undo ?? false
    const results = await Promise.all(
      on.map(async (m) => {
        try {
          const r = await ctx.client.evictWorkload(m, uri, { undo })
          return { meshlet: m, evicted: r.evicted, state: r.state }
        } catch (err) {
          return { meshlet: m, error: describeCallError(err) }
        }
      }),
    )
    const exitCode = results.every((r) => r.error !== undefined) ? EXIT.failed : EXIT.ok
    if (opts.json) return { text: JSON.stringify({ uri, undo, results }, null, 2), exitCode }
    const lines = results.map((r) =>
      r.error !== undefined ? `error on ${r.meshlet}: ${r.error}` : `${undo ? 'eviction lifted' : 'evicted'} on ${r.meshlet}: ${SAID[r.state!] ?? r.state}`,
    )
    return { text: lines.join('\n'), exitCode }
  })
}
