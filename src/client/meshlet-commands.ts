// `meshlet pause | resume | stop | shutdown | capacity`: calls on the meshlets themselves.
import { isValidDid } from '@atproto/syntax'
import type { AtUri as AtUriString, Did } from '../core/types.js'
import { UsageError } from './errors.js'
import type { MeshletClient } from './meshlet-client.js'
import { describeCallError, EXIT, fail, ok, run, type ClientContext, type CommandResult, type MeshletChoice, type OutputOptions } from './context.js'
import { resolveWorkload, statusFromCluster } from './resolve.js'
import { formatFields } from './table.js'

// ---------------------------------------------------------------------------------------------
// pause, resume, stop

export type ReplicaAction = 'pause' | 'resume' | 'stop'

const REPLICA_ACTIONS: Record<ReplicaAction, { targets: readonly string[]; past: string; call: (c: MeshletClient, m: Did, uri: AtUriString) => Promise<{ state: string }> }> = {
  pause: { targets: ['running'], past: 'paused', call: (c, m, uri) => c.pauseWorkload(m, uri) },
  resume: { targets: ['paused'], past: 'resumed', call: (c, m, uri) => c.resumeWorkload(m, uri) },
  stop: { targets: ['pending', 'pulling', 'starting', 'running', 'paused'], past: 'stopped', call: (c, m, uri) => c.stopWorkload(m, uri) },
}

/**
 * `meshlet pause|resume|stop <uri>`: acts on the meshlets holding a replica (from the workload's
 * status), or only on `--meshlet`. These act on containers, not on the record: a stopped replica
 * goes to the next meshlet that bid; `meshlet rm` is how a workload stops everywhere.
 */
export async function cmdReplicaAction(ctx: ClientContext, action: ReplicaAction, uri: string, opts: OutputOptions & MeshletChoice = {}): Promise<CommandResult> {
  return run(opts, async () => {
    const target = await resolveWorkload(ctx, uri)
    const a = REPLICA_ACTIONS[action]
    let on: Did[]
    if (opts.meshlet) on = [opts.meshlet]
    else {
      const { status } = await statusFromCluster(ctx, target, undefined)
      on = [...new Set(status.replicas.filter((r) => a.targets.includes(r.state)).map((r) => r.meshlet))]
      if (on.length === 0) {
        const states = status.replicas.map((r) => `${r.state} on ${r.meshlet}`).join(', ') || 'none placed'
        return fail(`no replica of ${target} to ${action} (replicas: ${states})`, opts)
      }
    }
    const results = await Promise.all(
      on.map(async (m) => {
        try {
          return { meshlet: m, state: (await a.call(ctx.client, m, target)).state }
        } catch (err) {
          return { meshlet: m, error: describeCallError(err) }
        }
      }),
    )
    const exitCode = results.every((r) => r.error !== undefined) ? EXIT.failed : EXIT.ok
    if (opts.json) return { text: JSON.stringify({ uri: target, action, results }, null, 2), exitCode }
    const lines = results.map((r) => (r.error !== undefined ? `error: ${r.error}` : `${a.past} on ${r.meshlet} (now ${r.state})`))
    if (action === 'stop' && exitCode === EXIT.ok) lines.push('the next meshlet that bid takes the replica over; `meshlet rm` stops the workload everywhere')
    return { text: lines.join('\n'), exitCode }
  })
}

// ---------------------------------------------------------------------------------------------
// shutdown

/** `meshlet shutdown <meshlet-did>`: its owner stops a meshlet; by default it drains first (hands its replicas over). */
export async function cmdShutdown(ctx: ClientContext, did: string, opts: OutputOptions & { drain?: boolean } = {}): Promise<CommandResult> {
  return run(opts, async () => {
    if (!isValidDid(did)) throw new UsageError(`${JSON.stringify(did)} is not a DID (expected did:plc:... or did:web:...)`)
    const drain = opts.drain ?? true
    const res = await ctx.client.shutdown(did, { drain })
    if (opts.json) return ok({ meshlet: did, drain, ...res })
    if (!res.accepted) return fail(`meshlet ${did} did not accept the shutdown`, opts)
    const n = res.handedOver ?? 0
    return ok(
      drain
        ? `meshlet ${did} is shutting down: ${n} replica${n === 1 ? '' : 's'} handed over to other meshlets`
        : `meshlet ${did} is shutting down without draining: its containers keep running until it is back`,
    )
  })
}

// ---------------------------------------------------------------------------------------------
// capacity

/** `meshlet capacity <meshlet-did>`: the meshlet's total and free resources and host condition. */
export async function cmdCapacity(ctx: ClientContext, did: string, opts: OutputOptions = {}): Promise<CommandResult> {
  return run(opts, async () => {
    if (!isValidDid(did)) throw new UsageError(`${JSON.stringify(did)} is not a DID (expected did:plc:... or did:web:...)`)
    const c = await ctx.client.getCapacity(did)
    if (opts.json) return ok(c)
    return ok(
      formatFields([
        ['meshlet', c.meshlet],
        ['cpu', `${c.cpuMillisFree} of ${c.cpuMillis} millicores free`],
        ['memory', `${c.memoryMbFree} of ${c.memoryMb} MiB free`],
        ['committed', c.cpuMillisCommitted !== undefined || c.memoryMbCommitted !== undefined ? `${c.cpuMillisCommitted ?? '?'} millicores, ${c.memoryMbCommitted ?? '?'} MiB` : undefined],
        ['load', c.loadPermille !== undefined ? `${(c.loadPermille / 1000).toFixed(2)} per core` : undefined],
        ['power', c.onBattery === undefined ? undefined : c.onBattery ? `battery${c.batteryPermille !== undefined ? ` ${Math.round(c.batteryPermille / 10)}%` : ''}` : 'mains'],
        ['thermal', c.thermal],
        ['running', c.running],
        ['accepting', c.accepting ? 'yes' : 'no (draining)'],
      ]),
    )
  })
}
