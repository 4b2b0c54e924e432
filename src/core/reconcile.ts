// reconcile(desired, running) -> { start, stop, keep }. The runner only applies these buckets,
// so the decision is unit-tested without Docker and the same call heals after a crash.
// Restarting an exited container is NOT decided here (see restart.ts): an exited container
// with the right spec is kept, and the restart policy decides what happens to it.

import type { AtUri, Cid, Workload } from './types.js'

export { specHash } from './spec-hash.js'

export interface DesiredReplica {
  workload: Workload
  replica: number
  specHash: string
}

export type RunningState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing'

export interface RunningReplica {
  id: string
  workloadUri: AtUri
  workloadCid: Cid
  specHash: string
  replica: number
  state: RunningState
}

export interface ReconcilePlan {
  start: DesiredReplica[]
  stop: { running: RunningReplica; reason: string }[]
  keep: { running: RunningReplica; desired: DesiredReplica }[]
}

export interface ReconcileOptions {
  /** Uris of workload records that still exist. When given, a container whose record is gone stops with "workload deleted". */
  existingWorkloads?: ReadonlySet<AtUri>
}

// Lower is better when several containers could serve one desired replica.
const STATE_RANK: Record<RunningState, number> = {
  running: 0,
  restarting: 1,
  paused: 2,
  created: 3,
  exited: 4,
  dead: 5,
  removing: 6,
}

// A dead container failed removal and a removing one is about to vanish: neither can be kept.
const UNUSABLE: ReadonlySet<RunningState> = new Set<RunningState>(['dead', 'removing'])

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0)
const byRank = (a: RunningReplica, b: RunningReplica) => STATE_RANK[a.state] - STATE_RANK[b.state] || cmp(a.id, b.id)
const byRunning = (a: RunningReplica, b: RunningReplica) =>
  cmp(a.workloadUri, b.workloadUri) || a.replica - b.replica || cmp(a.id, b.id)
const byDesired = (a: DesiredReplica, b: DesiredReplica) => cmp(a.workload.uri, b.workload.uri) || a.replica - b.replica

export function reconcile(desired: readonly DesiredReplica[], running: readonly RunningReplica[], opts: ReconcileOptions = {}): ReconcilePlan {
  // One desired entry per (uri, replica): a repeated slot is one container, not two.
  const slots = new Map<string, DesiredReplica>()
  for (const d of desired) {
    const key = `${d.workload.uri}\n${d.replica}`
    if (!slots.has(key)) slots.set(key, d)
  }
  const wanted = [...slots.values()].sort(byDesired)

  const desiredByUri = new Map<AtUri, DesiredReplica[]>()
  for (const d of wanted) {
    const list = desiredByUri.get(d.workload.uri)
    if (list) list.push(d)
    else desiredByUri.set(d.workload.uri, [d])
  }
  // Duplicate container ids (a caller listing twice) are one container.
  const containers = [...new Map(running.map((r) => [r.id, r])).values()].sort(byRunning)

  const plan: ReconcilePlan = { start: [], stop: [], keep: [] }
  const assigned = new Map<DesiredReplica, RunningReplica>()
  const handled = new Set<RunningReplica>()

  for (const r of containers) {
    if (desiredByUri.has(r.workloadUri)) continue
    const deleted = opts.existingWorkloads !== undefined && !opts.existingWorkloads.has(r.workloadUri)
    plan.stop.push({ running: r, reason: deleted ? 'workload deleted' : 'no longer assigned here' })
    handled.add(r)
  }

  for (const [uri, slotsOfUri] of desiredByUri) {
    const mine = containers.filter((r) => r.workloadUri === uri)
    const fits = (r: RunningReplica, d: DesiredReplica) => r.workloadCid === d.workload.cid && r.specHash === d.specHash
    for (const r of mine) {
      if (slotsOfUri.some((d) => fits(r, d))) continue
      plan.stop.push({ running: r, reason: changeReason(r, slotsOfUri) })
      handled.add(r)
    }
    const usable = mine.filter((r) => !handled.has(r) && !UNUSABLE.has(r.state)).sort(byRank)
    // Pass 1: a container keeps the replica number it was started as, when that slot still exists.
    for (const d of slotsOfUri) {
      const match = usable.find((r) => !handled.has(r) && r.replica === d.replica && fits(r, d))
      if (match) {
        assigned.set(d, match)
        handled.add(match)
      }
    }
    // A container started under another number does not serve an open slot: its MESHLET_REPLICA
    // would be wrong (a renumbered service claim, docs/protocol.md), so it is replaced.
    const open = slotsOfUri.filter((d) => !assigned.has(d))
    for (const r of mine) {
      if (handled.has(r)) continue
      const moved = !UNUSABLE.has(r.state) && open.length > 0 && !slotsOfUri.some((d) => d.replica === r.replica)
      const reason = UNUSABLE.has(r.state) ? `container is ${r.state}` : moved ? `renumbered: started as replica ${r.replica}, its claim now holds replica ${open.map((d) => d.replica).join(', ')}` : 'duplicate'
      plan.stop.push({ running: r, reason })
      handled.add(r)
    }
  }

  for (const d of wanted) {
    const r = assigned.get(d)
    if (r) plan.keep.push({ running: r, desired: d })
    else plan.start.push(d)
  }
  plan.stop.sort((a, b) => byRunning(a.running, b.running))
  return plan
}

function changeReason(r: RunningReplica, slots: readonly DesiredReplica[]): string {
  const d = slots.find((s) => s.replica === r.replica) ?? slots[0]!
  if (r.specHash !== d.specHash) return `spec changed (spec ${r.specHash} -> ${d.specHash})`
  return `spec changed (record ${r.workloadCid} -> ${d.workload.cid})`
}
