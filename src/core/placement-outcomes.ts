// The human reasons of a placement: one primary outcome per meshlet (claims first, then bids in
// rank order), plus ignored records. What `getWorkloadStatus` and `meshlet explain` show.
import type { Eviction, LostSlot, Renumbering, StartGate } from './placement-types.js'
import { declineAndInvalidOutcomes, rankLabel, tieNote, type BidClassification, type BidOutcome } from './selection.js'
import type { Bid, Did, WorkloadStatus } from './types.js'

export interface OutcomeInput {
  replicas: number
  ordered: Bid[]
  classified: BidClassification
  kept: WorkloadStatus[]
  ranked: WorkloadStatus[]
  renumbered: Renumbering[]
  completed: WorkloadStatus[]
  contending: WorkloadStatus[]
  evictions: Eviction[]
  lost: LostSlot[]
  lapsed: WorkloadStatus[]
  yielded: Map<Did, WorkloadStatus>
  done: WorkloadStatus[]
  invalid: { status: WorkloadStatus; reason: string }[]
  current: Map<Did, WorkloadStatus>
  next: Bid[]
  openSlots: number
  gates: Map<Did, StartGate>
}

function priorityOf(s: WorkloadStatus): number {
  return typeof s.priority === 'number' && Number.isFinite(s.priority) ? s.priority : 0
}

function describeStatus(s: WorkloadStatus): string {
  return `its replica is ${s.state}${s.exitCode !== undefined ? ` (exit ${s.exitCode})` : ''}${s.message ? `: ${s.message}` : ''}`
}

export function placementOutcomes(x: OutcomeInput): BidOutcome[] {
  const outcomes: BidOutcome[] = []
  const explained = new Set<Did>()
  const add = (o: BidOutcome): void => {
    outcomes.push(o)
    explained.add(o.meshlet)
  }
  const total = x.ranked.length
  x.kept.forEach((s) => {
    const i = x.ranked.indexOf(s)
    const gate = x.gates.get(s.meshlet)
    const acks = gate && gate.reason !== 'starts at once (no acks needed)' ? `; ${gate.reason}` : ''
    const moved = x.renumbered.find((n) => n.status === s)
    const held = moved ? `replica ${moved.to} (${s.state}; ${moved.reason})` : `replica ${s.replica} (${s.state})`
    add({ meshlet: s.meshlet, priority: priorityOf(s), outcome: 'won', reason: `holds ${held}: claim rank ${i + 1} of ${total}, replicas ${x.replicas}${acks}`, record: s.uri })
  })
  for (const s of x.completed) {
    add({ meshlet: s.meshlet, priority: s.priority, outcome: 'won', reason: `completed: replica ${s.replica} ${s.state === 'exited' ? `exited ${s.exitCode ?? '?'}` : 'failed after it started'} and keeps its slot`, record: s.uri })
  }
  for (const l of x.lost) {
    add({ meshlet: l.meshlet, ...(l.status ? { priority: priorityOf(l.status) } : {}), outcome: 'lost', reason: l.reason, ...(l.status ? { record: l.status.uri } : {}) })
  }
  for (const s of x.contending) {
    add({ meshlet: s.meshlet, priority: priorityOf(s), outcome: 'lost', reason: `contending for replica ${s.replica}: ${x.gates.get(s.meshlet)?.reason ?? ''}; waits until one claim holds it for good`, record: s.uri })
  }
  const nextSet = new Set(x.next.map((b) => b.meshlet))
  const holders = x.kept.map((s) => s.meshlet)
  const lastNext = x.next[x.next.length - 1]
  x.ordered.forEach((b, i) => {
    if (explained.has(b.meshlet) || (x.current.has(b.meshlet) && !x.yielded.has(b.meshlet))) return
    const rank = rankLabel(i, x.ordered.length, x.replicas)
    const yieldedStatus = x.yielded.get(b.meshlet)
    const again = yieldedStatus ? `, taking back a replica it yielded (${yieldedStatus.message})` : ''
    if (nextSet.has(b.meshlet)) {
      add({ meshlet: b.meshlet, priority: b.priority, outcome: 'won', reason: `${rank}: next in line for a free slot (priority ${b.priority})${again}`, record: b.uri })
      return
    }
    if (yieldedStatus) {
      add({ meshlet: b.meshlet, priority: b.priority, outcome: 'lost', reason: `${rank}: yielded its replica (${yieldedStatus.message}); a last-resort candidate when no other bidder can take a free slot`, record: b.uri })
      return
    }
    const reason =
      x.openSlots === 0
        ? holders.length > 0
          ? `${rank}: all slots are held (by ${holders.join(', ')}); waiting in case one frees`
          : `${rank}: no open slot`
        : `${rank}: outranked by ${lastNext.meshlet} (priority ${lastNext.priority} vs ${b.priority}${tieNote(lastNext.priority, b.priority)})`
    add({ meshlet: b.meshlet, priority: b.priority, outcome: 'lost', reason, record: b.uri })
  })
  for (const e of x.evictions) {
    add({ meshlet: e.status.meshlet, priority: priorityOf(e.status), outcome: 'lost', reason: `evicted: ${e.reason}`, record: e.status.uri })
  }
  for (const s of x.lapsed) {
    if (explained.has(s.meshlet)) continue
    add({ meshlet: s.meshlet, priority: priorityOf(s), outcome: 'lost', reason: `claim lapsed: ${s.meshlet} is no longer an eligible runner (heartbeat, linkage, membership or constraints)`, record: s.uri })
  }
  for (const s of x.yielded.values()) {
    if (!explained.has(s.meshlet)) add({ meshlet: s.meshlet, priority: s.priority, outcome: 'lost', reason: `yielded its replica: ${s.message}`, record: s.uri })
  }
  for (const s of x.done) {
    if (!explained.has(s.meshlet)) add({ meshlet: s.meshlet, priority: s.priority, outcome: 'lost', reason: `out for this version: ${describeStatus(s)}; a meshlet does not take a version again after its replica ended`, record: s.uri })
  }
  for (const { status, reason } of x.invalid) {
    outcomes.push({ meshlet: status.meshlet, outcome: 'invalid', reason, record: status.uri })
  }
  // Declines and invalid bids; a declined meshlet that also holds a status is already explained.
  for (const o of declineAndInvalidOutcomes(x.classified)) {
    if (o.outcome === 'declined' && explained.has(o.meshlet)) continue
    outcomes.push(o)
  }
  return outcomes
}
