// Services on the client side (issue 12): `meshlet endpoints <name|id|uri>` lists where a workload's
// published ports answer now (from the holders' status records, through a meshlet, the path
// `status` takes), and `meshlet rm --purge` deletes the record and then asks every meshlet that
// holds the workload's volumes to remove them.
import { AtUri } from '@atproto/syntax'
import type { Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { UsageError } from './errors.js'
import { describeCallError, EXIT, fail, ok, pds, recordExists, run, type ClientContext, type CommandResult, type MeshletChoice, type OutputOptions } from './context.js'
import { resolveWorkload, statusFromCluster } from './resolve.js'
import { formatTable } from './table.js'
import { liveReplicas } from './workload-commands.js'
import type { WorkloadStatusOutput } from './meshlet-client.js'

export interface EndpointRow {
  meshlet: Did
  name: string
  url: string
}

/** The live replicas' endpoints (running, counted by the placement), one row per port. */
export function liveEndpoints(s: WorkloadStatusOutput): EndpointRow[] {
  return liveReplicas(s).flatMap((r) => (r.endpoints ?? []).map((e) => ({ meshlet: r.meshlet, name: e.name, url: e.url })))
}

/** `meshlet endpoints <name|id|uri>`: where the workload answers now; exit 1 when nowhere. */
export async function cmdEndpoints(ctx: ClientContext, input: string, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = await resolveWorkload(ctx, input)
    const { meshlet, status } = await statusFromCluster(ctx, target, opts.meshlet)
    const rows = liveEndpoints(status)
    const exitCode = rows.length ? EXIT.ok : EXIT.failed
    if (opts.json) return { text: JSON.stringify({ uri: target, asked: meshlet, endpoints: rows }, null, 2), exitCode }
    if (!rows.length) return fail(`no live endpoints for ${input}: no running replica publishes a port (state as seen by ${meshlet}; \`meshlet status ${input}\` says why)`, opts)
    return ok(formatTable(['NAME', 'URL', 'MESHLET'], rows.map((r) => [r.name, r.url, r.meshlet])))
  })
}

/**
 * `meshlet rm --purge`: who holds volumes is asked first (a meshlet's answer lists the replicas'
 * meshlets and the profiles that hold volumes), then the record goes, then each holder removes the
 * volumes once it has seen the delete (farm.meshlet.purgeVolumes). A holder that is down keeps
 * them; the answer says which.
 */
export async function cmdRmPurge(ctx: ClientContext, input: string, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = await resolveWorkload(ctx, input)
    const parsed = new AtUri(target)
    if (parsed.host !== ctx.did) throw new UsageError(`${target} is in ${parsed.host}'s repo; you (${ctx.did}) can only remove your own workloads`)
    if (!(await recordExists(ctx, parsed))) return fail(`no workload ${target} in your repo (already removed?)`, opts)
    const { status } = await statusFromCluster(ctx, target, opts.meshlet)
    const holders = [...new Set([...(status.volumeHolders ?? []), ...status.replicas.map((r) => r.meshlet)])].sort()
    await pds(ctx, 'delete the workload record', () => ctx.agent.com.atproto.repo.deleteRecord({ repo: ctx.did, collection: NSID.workload, rkey: parsed.rkey }))
    const results = await Promise.all(
      holders.map(async (m) => {
        try {
          return { meshlet: m, removed: (await ctx.client.purgeVolumes(m, target)).removed }
        } catch (err) {
          return { meshlet: m, error: describeCallError(err) }
        }
      }),
    )
    const failed = results.filter((r) => 'error' in r)
    const exitCode = failed.length ? EXIT.failed : EXIT.ok
    if (opts.json) return { text: JSON.stringify({ uri: target, deleted: true, purged: results }, null, 2), exitCode }
    const lines = [`removed ${target}; every meshlet stops its containers when it sees the delete`]
    for (const r of results) lines.push('error' in r ? `  ${r.meshlet}: volumes NOT removed: ${r.error}` : `  ${r.meshlet}: ${r.removed!.length ? `removed volumes ${r.removed!.join(', ')}` : 'held no volumes'}`)
    return { text: lines.join('\n'), exitCode }
  })
}
