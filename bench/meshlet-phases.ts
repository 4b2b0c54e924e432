// meshlet's side of the bench, on the bench commune: a workload record created with a plain
// AtpAgent -> the engine reports the winner's container started. Per sample it also reads the
// winner's stage timeline (Meshlet.timeline, via the child's log) so the slowest stage is visible.
import type Docker from 'dockerode'
import { waitFor, type Member } from '../src/devnet/commune.js'
import { LABEL } from '../src/adapters/docker/labels.js'
import { NSID } from '../src/core/types.js'
import { monotonicNow, type StageTimes } from '../src/services/timeline.js'
import type { BenchCommune } from './bench-commune.js'
import type { EngineStartWatcher } from './engine-events.js'
import type { SubmitHints } from './submit-hints.js'

export interface LatencySample {
  totalMs: number
  /** createRecord round trip as the client saw it. */
  publishMs: number
  winner: string
  /** Winner's stage timestamps minus t0 (the createRecord call), ms; engine = the engine's start event. */
  at: StageTimes & { engine: number }
}

export interface WorkloadShape {
  image: string
  bidWindowMs: number
  cpuMillis: number
  memoryMb: number
}

export class MeshletBench {
  private seq = 0

  constructor(
    private readonly bc: BenchCommune,
    private readonly docker: Docker,
    private readonly watcher: EngineStartWatcher,
    private readonly shape: WorkloadShape,
    private readonly runId: string,
  ) {}

  private record(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      name: `bench-${this.runId}-${name}`,
      image: this.shape.image,
      command: ['sleep', '3600'],
      replicas: 1,
      resources: { cpuMillis: this.shape.cpuMillis, memoryMb: this.shape.memoryMb },
      bidWindowMs: this.shape.bidWindowMs,
      ...extra,
    }
  }

  private winnerOf(attributes: Record<string, string>): Member | undefined {
    return this.bc.runners.find((m) => m.meshlet.did === attributes[LABEL.meshlet])
  }

  private relative(m: Member | undefined, uri: string, t0: number, engineAt: number): LatencySample['at'] {
    const at: LatencySample['at'] = { engine: engineAt - t0 }
    for (const [k, v] of Object.entries((m && this.bc.timelines.get(m, uri)) ?? {})) at[k as keyof StageTimes] = v - t0
    return at
  }

  /**
   * One workload, published by the next owner in turn, until its container runs; then deleted and
   * cleaned up. `holdMs` keeps it published that long after the start (the batch phase gives a
   * second claimer the time to start a duplicate, if it ever would).
   */
  async once(extra: Record<string, unknown> = {}, timeoutMs = 60_000, holdMs = 0, hints?: SubmitHints): Promise<LatencySample & { uri: string }> {
    const owner = this.bc.runners[this.seq % this.bc.runners.length]!
    await hints?.prepare(owner) // notify (issue 16): as meshlet submit, tokens ready before the write lands
    const t0 = monotonicNow()
    const ref = await this.bc.c.publishWorkload(owner, this.record(`w${++this.seq}`, extra))
    const published = monotonicNow()
    await hints?.send(owner, ref)
    const ev = await this.watcher.byLabel(LABEL.workload, ref.uri, timeoutMs)
    const winner = this.winnerOf(ev.attributes)
    // The running status lands just after the start: wait for it so the breakdown is complete.
    await waitFor(() => winner && this.bc.timelines.get(winner, ref.uri)?.reported !== undefined, { timeoutMs: 15_000, what: 'the running status to land' }).catch(() => {})
    const at = this.relative(winner, ref.uri, t0, ev.at)
    if (holdMs > 0) await new Promise((r) => setTimeout(r, Math.max(0, ev.at + holdMs - monotonicNow())))
    await this.remove([ref.uri], owner)
    return { uri: ref.uri, totalMs: ev.at - t0, publishMs: published - t0, winner: winner?.name ?? ev.attributes[LABEL.meshlet] ?? '?', at }
  }

  /** n workloads published at once (spread over the owners, each its own createRecord) -> all n containers started. */
  async burst(n: number, timeoutMs = 180_000): Promise<{ allMs: number; each: number[]; perPeer: Record<string, number>; at: LatencySample['at'][] }> {
    const owners = this.bc.runners
    const t0 = monotonicNow()
    const refs = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const owner = owners[i % owners.length]!
        return this.bc.c.publishWorkload(owner, this.record(`b${++this.seq}`)).then((r) => ({ ...r, owner }))
      }),
    )
    const evs = await Promise.all(refs.map((r) => this.watcher.byLabel(LABEL.workload, r.uri, timeoutMs)))
    const each = evs.map((e) => e.at - t0)
    await new Promise((r) => setTimeout(r, 1000)) // the running statuses land just after the starts
    const perPeer: Record<string, number> = {}
    const at = evs.map((e, i) => {
      const m = this.winnerOf(e.attributes)
      perPeer[m?.name ?? '?'] = (perPeer[m?.name ?? '?'] ?? 0) + 1
      return this.relative(m, refs[i]!.uri, t0, e.at)
    })
    for (const o of owners) {
      const mine = refs.filter((r) => r.owner === o).map((r) => r.uri)
      if (mine.length) await Promise.all(mine.map((u) => this.bc.c.deleteRecord(o.owner.agent, u)))
    }
    await this.waitGone(refs.map((r) => r.uri), timeoutMs)
    return { allMs: Math.max(...each), each, perPeer, at }
  }

  /** Deletes the workload records and waits until their containers, bids and statuses are gone, so samples do not overlap. */
  async remove(uris: string[], owner: Member): Promise<void> {
    await Promise.all(uris.map((u) => this.bc.c.deleteRecord(owner.owner.agent, u)))
    await this.waitGone(uris, 60_000)
  }

  private async waitGone(uris: string[], timeoutMs: number): Promise<void> {
    const set = new Set(uris)
    await waitFor(async () => {
      const cs = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } })
      return !cs.some((x) => set.has(x.Labels[LABEL.workload] ?? ''))
    }, { timeoutMs, intervalMs: 50, what: "the deleted workloads' containers to be removed" })
    // Bid withdrawals and status deletes are writes too: let them land before the next sample.
    await waitFor(async () => (await this.recordsReferencing(set)) === 0, { timeoutMs: 15_000, intervalMs: 100, what: 'bids and statuses of the deleted workloads to be withdrawn' }).catch(() => {})
  }

  /**
   * Writes still to come for `uris` in the runners' repos: live statuses and bids that no status
   * stands on. A status that ran is retired (stopped, "workload deleted") and keeps its bid, since
   * the ledger counts that usage after the workload is gone: those are final, not pending.
   */
  private async recordsReferencing(uris: Set<string>): Promise<number> {
    let n = 0
    for (const m of this.bc.runners) {
      const list = async (collection: string) => {
        const out: { uri: string; value: { workload?: { uri?: string }; state?: string; bid?: { uri?: string } } }[] = []
        let cursor: string | undefined
        do {
          const res = await m.meshlet.agent.com.atproto.repo.listRecords({ repo: m.meshlet.did, collection, limit: 100, cursor })
          for (const r of res.data.records) out.push({ uri: r.uri, value: r.value as never })
          cursor = res.data.records.length === 100 ? res.data.cursor : undefined
        } while (cursor)
        return out.filter((r) => uris.has(r.value.workload?.uri ?? ''))
      }
      const statuses = await list(NSID.workloadStatus)
      const backing = new Set(statuses.map((s) => s.value.bid?.uri).filter(Boolean))
      n += statuses.filter((s) => ['pending', 'pulling', 'starting', 'running'].includes(s.value.state ?? '')).length
      n += (await list(NSID.bid)).filter((b) => !backing.has(b.uri)).length
    }
    return n
  }
}
