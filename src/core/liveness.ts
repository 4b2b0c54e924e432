// Liveness by receipt (docs/protocol.md, Liveness by receipt): a meshlet is alive while THIS
// observer has received a record from its repo within its lease, on the observer's own monotonic
// clock. Writer timestamps never decide liveness, so a peer whose clock is off by a minute is alive
// exactly while its records keep arriving, on every observer alike. Times are parameters: pure.
import { STATUS_LEASE_MS } from './epoch.js'
import { NSID, type Did, type SchedulerRecord } from './types.js'

/**
 * Every claim-state status carries the ledger's STATUS_LEASE_MS (core/epoch.ts); its writer renews
 * it every STATUS_RENEW_MS, so the ledger stops crediting a runner 30 minutes after it stops renewing.
 */
export { STATUS_LEASE_MS }
export const STATUS_RENEW_MS = 600_000

/** A record dated more than this after the observer's wall clock at receipt is flagged and ignored. */
export const FUTURE_SKEW_MS = 300_000

/** The writer's own timestamp of a record, when its collection carries one (ISO string). */
export function recordDate(record: SchedulerRecord): { field: string; at: string } | undefined {
  switch (record.collection) {
    case NSID.profile:
    case NSID.workloadStatus:
      return { field: 'updatedAt', at: record.value.updatedAt }
    case NSID.bid:
    case NSID.workload:
      return { field: 'createdAt', at: record.value.createdAt }
    // Stryker disable next-line ConditionalExpression: without the default the function returns undefined all the same
    default:
      return undefined
  }
}

/**
 * Why a record received at `wallNow` (the observer's epoch ms) must be ignored for decisions, or
 * undefined. A date that far ahead is a clock that far off (or a writer gaming the ledger and
 * epochs): it is shown as a rejection rather than believed.
 */
export function futureDatedProblem(record: SchedulerRecord, wallNow: number, skewMs = FUTURE_SKEW_MS): string | undefined {
  const d = recordDate(record)
  if (!d) return undefined
  const at = Date.parse(d.at)
  if (!Number.isFinite(at) || at - wallNow <= skewMs) return undefined
  return `dated in the future: ${d.field} ${d.at} is ${at - wallNow} ms ahead of this peer's clock (more than ${skewMs} ms); ignored until then`
}

/** undefined while a record from the meshlet's repo arrived within `leaseMs` before `monoNow`, else why not. */
export function livenessProblem(lastReceived: number | undefined, monoNow: number, leaseMs: number): string | undefined {
  if (lastReceived === undefined) return 'silent: no record received from its repo yet'
  const expiresAt = lastReceived + leaseMs
  if (monoNow < expiresAt) return undefined
  return `silent: last record from its repo received ${monoNow - lastReceived} ms ago; lease of ${leaseMs} ms expired ${monoNow - expiresAt} ms ago`
}

/**
 * When this observer last received a record from each repo (monotonic ms). A plain map fed by the
 * service that applies record events; the core only reads it through `lastReceived`.
 */
export class Receipts {
  private readonly last = new Map<Did, number>()

  /** A record from `did`'s repo arrived at `monoAt`. Never moves backwards. */
  note(did: Did, monoAt: number): void {
    const prev = this.last.get(did)
    // Stryker disable next-line EqualityOperator: re-setting an equal receipt changes nothing
    if (prev === undefined || monoAt > prev) this.last.set(did, monoAt)
  }

  lastReceived(did: Did): number | undefined {
    return this.last.get(did)
  }
}
