// meshlet's side of the bench, on a real DevCommune: a workload record created with a plain AtpAgent
// -> the engine reports the winner's container started. Per sample it also reads the winner's
// stage timeline (src/services/timeline.ts) so the slowest stage is visible.
import type Docker from 'dockerode'
import { DevCommune, waitFor, type Member } from '../src/devnet/commune.js'
import { LABEL } from '../src/adapters/docker/labels.js'
import { monotonicNow, type StageTimes } from '../src/services/timeline.js'
import type { EngineStartWatcher } from './engine-events.js'

export interface LatencySample {
  totalMs: number
  /** createRecord round trip as the client saw it. */
  publishMs: number
  winner: string
  /** Winner's stage timestamps minus t0 (the createRecord call), ms. */
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
    readonly c: DevCommune,
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

  private owners(): Member[] {
    return this.c.members.filter((m) => m.peer)
  }

  /** One workload, published by the next owner in turn, until its container runs; then deleted. */
  async once(extra: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<LatencySample> {
    const owners = this.owners()
    const owner = owners[this.seq % owners.length]!
    const t0 = monotonicNow()
    const ref = await this.c.publishWorkload(owner, this.record(`w${++this.seq}`, extra))
    const published = monotonicNow()
    const ev = await this.watcher.byLabel(LABEL.workload, ref.uri, timeoutMs)
    const winnerDid = ev.attributes[LABEL.meshlet]
    const winner = this.c.members.find((m) => m.meshlet.did === winnerDid)
    // The running status lands just after the start: wait for it so the breakdown is complete.
    const times = await waitFor(() => {
      const t = winner?.peer?.timeline.get(ref.uri)
      return t?.reported !== undefined ? t : false
    }, { timeoutMs: 15_000, what: 'the running status to land' }).catch(() => winner?.peer?.timeline.get(ref.uri) ?? {})
    const at: LatencySample['at'] = { engine: ev.at - t0 }
    for (const [k, v] of Object.entries(times)) at[k as keyof StageTimes] = v - t0
    await this.remove([ref.uri], owner)
    return { totalMs: ev.at - t0, publishMs: published - t0, winner: winner?.name ?? winnerDid ?? '?', at }
  }

  /** n workloads published at once (spread over the owners, each its own createRecord) -> all n containers started. */
  async burst(n: number, timeoutMs = 180_000): Promise<{ allMs: number; each: number[]; perPeer: Record<string, number> }> {
    const owners = this.owners()
    const t0 = monotonicNow()
    const refs = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const owner = owners[i % owners.length]!
        return this.c.publishWorkload(owner, this.record(`b${++this.seq}`)).then((r) => ({ ...r, owner }))
      }),
    )
    const evs = await Promise.all(refs.map((r) => this.watcher.byLabel(LABEL.workload, r.uri, timeoutMs)))
    const each = evs.map((e) => e.at - t0)
    const perPeer: Record<string, number> = {}
    for (const e of evs) {
      const name = this.c.members.find((m) => m.meshlet.did === e.attributes[LABEL.meshlet])?.name ?? '?'
      perPeer[name] = (perPeer[name] ?? 0) + 1
    }
    for (const o of owners) {
      const mine = refs.filter((r) => r.owner === o).map((r) => r.uri)
      if (mine.length) await this.remove(mine, o, false)
    }
    await this.waitGone(refs.map((r) => r.uri), timeoutMs)
    return { allMs: Math.max(...each), each, perPeer }
  }

  /** Deletes the workload records and waits until their containers are gone and bids withdrawn, so samples do not overlap. */
  async remove(uris: string[], owner: Member, wait = true): Promise<void> {
    await Promise.all(uris.map((u) => this.c.deleteRecord(owner.owner.agent, u)))
    if (wait) await this.waitGone(uris, 60_000)
  }

  private async waitGone(uris: string[], timeoutMs: number): Promise<void> {
    const set = new Set(uris)
    await waitFor(async () => {
      const cs = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } })
      return !cs.some((x) => set.has(x.Labels[LABEL.workload] ?? ''))
    }, { timeoutMs, intervalMs: 50, what: 'the deleted workloads\' containers to be removed' })
    // Bid withdrawals and status deletes are writes too: let them land before the next sample.
    await waitFor(() => this.c.peers().every((p) => uris.every((u) => p.view.bidsFor(u).length === 0 && p.view.statusesFor(u).length === 0)), {
      timeoutMs: 15_000,
      what: 'bids and statuses of the deleted workloads to be withdrawn',
    }).catch(() => {})
  }
}
