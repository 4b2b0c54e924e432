import type { Did, RecordEvent } from '../core/types.js'
import type { HintApplied, ProvenRecord } from './record-hints.js'

export type RecordHandler = (event: RecordEvent) => void | Promise<void>

/**
 * Our collections from the repos that matter to this peer: backfill (listRecords) on start, for
 * every newly tracked repo and after any gap; then live from the firehose, resuming from a stored
 * cursor. Events arrive decoded and lexicon-validated (or as `rejected` with a reason).
 */
export interface RecordSource {
  start(handler: RecordHandler): Promise<void>
  /** Replace the set of tracked repos; repos new to the set are backfilled. */
  setRepos(dids: Did[]): Promise<void>
  /** True once `did`'s repo has been backfilled at least once since start (its records are all known). */
  isSynced(did: Did): boolean
  /** Re-reads every tracked repo now; true when all were read (after a loss of touch with the PDSes). */
  resync?(): Promise<boolean>
  /** Resolves once everything received so far has been handed to the handler (tests wait on this). */
  processAll(): Promise<void>
  stop(): Promise<void>
  // appview (issue 15): metrics
  /** Per stream: handling time minus commit time of the newest event handled (ms). */
  lag?(): { source: string; lagMs: number }[]
  // notify (issue 16): hinted records
  /** Whether `did`'s repo is followed (a hint for any other repo is refused before any fetch). */
  tracks?(did: Did): boolean
  /** Whether the handler was already told this version of the record (a hint for it costs no fetch). */
  knows?(did: Did, collection: string, rkey: string, cid: string): boolean
  /** Applies a proven record from a hint through the same path as stream events (dedup, order). */
  hinted?(record: ProvenRecord): Promise<HintApplied>
}
