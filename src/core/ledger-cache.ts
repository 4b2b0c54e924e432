// Reuse of a replayed ledger across scheduling passes (docs/protocol.md, "The ledger"): a replay is
// a function of the observer's epoch and of what the records say about the time before that
// epoch's start, so it is rebuilt only when one of those changes. A status renewal, an ack re-put
// on a bid or a heartbeat profile changes nothing a replay reads (a renewal moves only the end of an
// interval that runs past the epoch start): the pass reuses the ledger. Pure (no clock): the
// caller passes `now`.
import { epochOf, epochStart } from './epoch.js'
import { Ledger, type LedgerRecords } from './ledger.js'
import { claimEnd, claimsOf } from './status-history.js'
import type { AtUri, Bid, Workload, WorkloadStatus } from './types.js'

export interface LedgerInputs extends LedgerRecords {
  /** The owner graph `ownerOf` reads: a different object means owners may have changed. */
  graph: object
}

type Seen<T> = Map<AtUri, { rec: T; key: string }>

/** What a replay at epoch `e` reads of a status: its claims, their ends (and starts) cut at the epoch start. */
export function statusKey(s: WorkloadStatus, e: number): string {
  const horizon = epochStart(e)
  const parts = [s.meshlet, s.workload?.uri ?? '']
  for (const c of claimsOf(s)) {
    const start = Date.parse(c.startedAt ?? c.updatedAt)
    parts.push(`${c.cid}|${c.bid?.uri ?? ''}|${String(c.priority)}|${String(c.replica)}|${c.startedAt ?? ''}|${Math.min(start, horizon)}|${Math.min(claimEnd(c), horizon)}`)
  }
  return parts.join('\n')
}

/** What a replay reads of a bid: everything but its acks, record cid and creation date. */
export function bidKey(b: Bid): string {
  const r = b.resources
  const c = b.capacity
  return [
    b.meshlet,
    b.workload?.uri,
    b.workload?.cid,
    b.priority,
    b.epoch,
    b.decline === undefined ? '' : 'decline',
    r ? `${r.cpuMillis}/${r.memoryMb}/${r.storageMb ?? ''}` : '',
    c ? `${c.cpuMillisFree}/${c.memoryMbFree}/${c.cpuMillisTotal ?? ''}/${c.memoryMbTotal ?? ''}/${c.loadPermille ?? ''}/${String(c.onBattery)}/${c.thermal ?? ''}` : '',
  ].join('|')
}

/** One cached replay; `get` returns it while nothing it reads has changed, else a new one. */
export class LedgerCache {
  private ledger: Ledger | undefined
  private epoch = NaN
  private graph: object | undefined
  private workloads: Seen<Workload> = new Map()
  private bids: Seen<Bid> = new Map()
  private statuses: Seen<WorkloadStatus> = new Map()
  private profiles = ''
  /** Replays built / reused (for the bench and tests). */
  builds = 0
  reuses = 0

  get(inputs: LedgerInputs): Ledger {
    const e = epochOf(inputs.now)
    const profiles = profileKey(inputs)
    if (
      this.ledger &&
      e === this.epoch &&
      inputs.graph === this.graph &&
      profiles === this.profiles &&
      same(this.workloads, inputs.workloads, (w) => w.uri, (w) => `${w.cid}`) &&
      same(this.bids, inputs.bids, (b) => b.uri, bidKey) &&
      same(this.statuses, inputs.statuses, (s) => s.uri, (s) => statusKey(s, e))
    ) {
      this.reuses++
      return this.ledger
    }
    this.builds++
    this.ledger = new Ledger(inputs)
    this.epoch = e
    this.graph = inputs.graph
    this.profiles = profiles
    this.workloads = seen(inputs.workloads, (w) => w.uri, (w) => `${w.cid}`)
    this.bids = seen(inputs.bids, (b) => b.uri, bidKey)
    this.statuses = seen(inputs.statuses, (s) => s.uri, (s) => statusKey(s, e))
    return this.ledger
  }
}

// Only the totals matter (bids that name none are checked against them); heartbeats re-put profiles every few seconds.
function profileKey(inputs: LedgerInputs): string {
  return inputs.profiles
    .map((p) => `${p.meshlet}=${p.cpuMillis}/${p.memoryMb}`)
    .sort()
    .join(',')
}

function seen<T>(list: readonly T[], uriOf: (t: T) => AtUri, keyOf: (t: T) => string): Seen<T> {
  return new Map(list.map((rec) => [uriOf(rec), { rec, key: keyOf(rec) }]))
}

/**
 * The same records as last time, as far as a replay reads them. Unchanged objects are compared by
 * identity (the view hands out the same object until a record changes); a changed one by its key,
 * and remembered so the next pass compares by identity again.
 */
function same<T>(prev: Seen<T>, list: readonly T[], uriOf: (t: T) => AtUri, keyOf: (t: T) => string): boolean {
  if (list.length !== prev.size) return false
  for (const rec of list) {
    const was = prev.get(uriOf(rec))
    if (!was) return false
    if (was.rec === rec) continue
    const key = keyOf(rec)
    if (key !== was.key) return false
    was.rec = rec
  }
  return true
}
