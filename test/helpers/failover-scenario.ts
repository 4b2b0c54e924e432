// Peer death and failover on a real commune, shared by test/integration/failover.test.ts (short
// lease) and test/helpers/measure-failover.ts (the default lease, for the docs).
//
// ann's peer is a child process of the real binary and the only live meshlet when the workload is
// published, so it wins; ben and cat start afterwards and see ann holding it. Then ann is killed
// with SIGKILL (and, for a dead machine, its containers are removed), the others take the replica
// over through the same selection, and finally ann comes back with the same data dir.
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { NSID } from '../../src/core/types.js'
import type { Logger } from '../../src/logger.js'
import { removeMeshletContainers } from './docker.js'
import { CopyMonitor, copiesOf, keptHolders, memoryLogger, sleeper, summarise } from './faults.js'

export interface FailoverOptions {
  leaseMs: number
  bidWindowMs?: number
  /** false: the machine died (its containers are gone). true: it slept (its container kept running). */
  keepStaleCopy: boolean
  logger?: Logger
  /** How long to watch after ann is back, to catch a late duplicate. Default 2 leases. */
  settleMs?: number
  /** Put every peer's log lines into the result (debugging). */
  debug?: boolean
}

export interface FailoverResult {
  leaseMs: number
  keepStaleCopy: boolean
  /** SIGKILL -> a copy of the replica runs on another meshlet. */
  failoverMs: number
  /** SIGKILL -> the other peers hold a live claim for it (before the container starts). */
  claimMs: number
  /** Most copies running at once from the kill to the end (replicas = 1). */
  peakCopies: number
  transientDuplicates: number
  /** ann restarted -> its stale copy is gone (0 when it had none). */
  staleCopyGoneMs: number
  /** Copies running at the end, and where. */
  finalCopies: number
  finalHolder: string
  victim: string
  replacement: string
  /** Whether the returning peer wrote the "taken over" release (its status record says stopped). */
  victimStatus: string | undefined
  /** liveness (issue 16 part 3): why the survivors counted ann out when one of them claimed (suspicion or lease). */
  deathReason: string | undefined
  /** Copies running after ann was back: peak over the settle period. */
  peakAfterReturn: number
  /** Workload container sets over time, relative to the kill (ms). */
  timeline: { atMs: number; copies: string[] }[]
  debugLog?: string
}

export async function runFailoverScenario(opts: FailoverOptions): Promise<FailoverResult> {
  const leaseMs = opts.leaseMs
  const mem = opts.logger ? undefined : memoryLogger()
  const c = await DevCommune.create({
    pdsCount: 2,
    members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }],
    leaseMs,
    bidWindowMs: opts.bidWindowMs ?? 1500,
    logger: opts.logger ?? mem!.logger,
  })
  let monitor: CopyMonitor | undefined
  try {
    const ann = c.member('ann')
    const annDid = ann.meshlet.did
    await c.spawnPeer(ann)
    const ref = await c.publishWorkload(ann, sleeper('failover-web'))
    await waitFor(async () => (await copiesOf(ref.uri)).some((x) => x.meshlet === annDid), { what: 'ann to run the workload', timeoutMs: 60_000 })

    // The others join now: they see ann holding the replica and wait in line.
    await Promise.all([c.startPeer(c.member('ben')), c.startPeer(c.member('cat'))])
    const others = [c.member('ben').peer!, c.member('cat').peer!]
    await waitFor(() => others.every((p) => p.scheduler.decisions.get(ref.uri)?.phase === 'placed' && keptHolders(p, ref.uri)?.join() === annDid), {
      what: 'ben and cat to see ann holding the replica',
      timeoutMs: 60_000,
    })

    monitor = new CopyMonitor(ref.uri).start()
    const t0 = Date.now()
    await c.killPeer(ann)
    if (!opts.keepStaleCopy) await removeMeshletContainers(annDid)

    let claimAt = 0
    let deathReason: string | undefined
    const replacement = await waitFor(
      () => {
        if (!claimAt) {
          const claimed = others.some((p) => (keptHolders(p, ref.uri) ?? []).some((h) => h !== annDid))
          if (claimed) {
            claimAt = Date.now()
            deathReason = others.map((p) => p.scheduler.decisions.get(ref.uri)?.excluded.find((e) => e.meshlet === annDid)?.reason).find(Boolean)
          }
        }
        const at = monitor!.firstElsewhere(annDid, t0)
        return at !== undefined ? at : false
      },
      { what: 'a replacement copy on another meshlet', timeoutMs: 4 * leaseMs + 30_000, intervalMs: 50 },
    )
    // Both survivors agree on the one new holder.
    const holder = await waitFor(
      () => {
        const views = others.map((p) => keptHolders(p, ref.uri)?.join() ?? '')
        return views[0] && views[0] !== annDid && views.every((v) => v === views[0]) ? views[0] : false
      },
      { what: 'ben and cat to agree on the new holder', timeoutMs: 30_000 },
    )
    const claimMs = (claimAt || replacement) - t0

    // ann comes back with the same data dir.
    const back = Date.now()
    await c.spawnPeer(ann)
    await waitFor(async () => !(await copiesOf(ref.uri, true)).some((x) => x.meshlet === annDid), { what: "ann's stale copy to go", timeoutMs: 60_000 })
    const staleGone = Date.now()
    const victimStatus = await waitFor(
      async () => {
        const recs = await ann.meshlet.agent.com.atproto.repo.listRecords({ repo: annDid, collection: NSID.workloadStatus, limit: 100 })
        const mine = recs.data.records.map((r) => r.value as { workload: { uri: string }; state: string }).find((v) => v.workload.uri === ref.uri)
        return mine && mine.state !== 'running' ? mine.state : false
      },
      { what: "ann's status to say it no longer runs the replica", timeoutMs: 30_000 },
    )
    // Watch a while: no copy comes back on ann, the new holder keeps it.
    await new Promise((r) => setTimeout(r, opts.settleMs ?? 2 * leaseMs))
    await monitor.sample()
    monitor.stop()
    const final = await copiesOf(ref.uri)
    // (a sample taken just before the stale copy went may land a moment later)
    const afterReturn = monitor.timeline.filter((e) => e.at > staleGone + 500)
    const peakAfterReturn = Math.max(final.length, ...afterReturn.map((e) => e.copies.length))
    return {
      leaseMs,
      keepStaleCopy: opts.keepStaleCopy,
      failoverMs: replacement - t0,
      claimMs,
      peakCopies: monitor.peak,
      transientDuplicates: Math.max(0, monitor.peak - 1),
      staleCopyGoneMs: opts.keepStaleCopy ? staleGone - back : 0,
      finalCopies: final.length,
      finalHolder: final[0]?.meshlet ?? '',
      victim: annDid,
      replacement: holder,
      victimStatus,
      deathReason,
      peakAfterReturn,
      timeline: monitor.timeline.map((e) => ({ atMs: e.at - t0, copies: e.copies.map((d) => c.members.find((m) => m.meshlet.did === d)?.name ?? d) })),
      ...(opts.debug ? { debugLog: describeCommune(c, monitor, mem?.lines, 400) } : {}),
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describeCommune(c, monitor, mem?.lines)}`, { cause: err })
  } finally {
    monitor?.stop()
    await c.close()
  }
}

/** What each peer decided and what ann's process logged: the context a failed run needs. */
export function describeCommune(c: DevCommune, monitor?: CopyMonitor, inProcessLogs?: string[], tail = 60): string {
  const name = (did: string) => c.members.find((m) => m.meshlet.did === did)?.name ?? did
  const lines: string[] = []
  for (const m of c.members) {
    if (m.peer) {
      for (const [uri, d] of m.peer.scheduler.decisions) {
        lines.push(`${m.name} on ${uri.split('/').pop()}: ${d.phase}, holders [${d.holders.map(name).join(',')}], self: ${d.self?.outcome ?? '-'} ${d.self?.reason ?? ''}; excluded: ${d.excluded.map((e) => `${name(e.meshlet)}: ${e.reason}`).join('; ')}`)
      }
    }
    if (m.logs.length) lines.push(`--- ${m.name} (child) last log lines:`, ...m.logs.slice(-tail / 2).map(summarise))
  }
  if (inProcessLogs?.length) lines.push('--- in-process peers, last log lines:', ...inProcessLogs.slice(-tail).map(summarise))
  if (monitor) lines.push(`copies over time: ${monitor.timeline.map((e) => `${e.at % 100_000}:[${e.copies.map(name).join(',')}]`).join(' ')}`)
  return lines.join('\n')
}

