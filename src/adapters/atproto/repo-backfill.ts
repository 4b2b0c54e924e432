// Backfill of one repo: read the head rev, and unless the view already has it, list every collection
// and reconcile it with what the handler was told (new puts, deletes made while away). A failure is
// retried with backoff. Which repo, on which stream, and whether it is still wanted is the record
// source's business (record-source.ts).
import { backoffMs } from '@atproto/common-web'
import { COLLECTIONS, type Did } from '../../core/types.js'
import { describeError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { RecordEmitter } from './record-emitter.js'
import { getLatestCommit, listAllRecords, type RepoReadOptions } from './repo-reader.js'
import type { RevFloors } from './rev-floors.js'

/** What a backfill keeps on the repo between attempts. */
export interface BackfillState {
  did: Did
  backfillFailures: number
  backfillTimer?: NodeJS.Timeout
}

export interface BackfillAttempt {
  pds: string
  /** Still tracked, on the same stream, same repo entry: otherwise the listing is stale. */
  wanted: () => boolean
  /** Stopped or the stream closed: a failure is not worth a retry. */
  ended: () => boolean
  /** Schedules the retry (on the repo's stream, if it still has one). */
  retry: () => void
}

export interface RepoBackfillOptions {
  floors: RevFloors
  emitter: RecordEmitter
  readOpts: RepoReadOptions
  retryBaseMs: number
  retryMaxMs: number
  log: Logger
}

export class RepoBackfill {
  constructor(private readonly o: RepoBackfillOptions) {}

  /** Reads one repo into the handler; true when the repo is now known up to its head. */
  async run(repo: BackfillState, a: BackfillAttempt): Promise<boolean> {
    const { did } = repo
    const { pds } = a
    const { floors, emitter, readOpts, log } = this.o
    try {
      const head = await getLatestCommit(pds, did, readOpts)
      if (floors.covers(did, head.rev)) {
        repo.backfillFailures = 0
        return true
      }
      const lists = await Promise.all(COLLECTIONS.map((c) => listAllRecords(pds, did, c, readOpts)))
      if (!a.wanted()) return false
      let count = 0
      for (const [i, collection] of COLLECTIONS.entries()) {
        count += lists[i]!.length
        await emitter.reconcile(did, collection, lists[i]!, head.rev)
      }
      floors.raise(did, head.rev)
      repo.backfillFailures = 0
      log.debug({ did, pds, rev: head.rev, records: count }, 'backfilled repo')
      return true
    } catch (err) {
      if (a.ended()) return false
      const retryInMs = Math.round(backoffMs(repo.backfillFailures++, this.o.retryBaseMs, this.o.retryMaxMs))
      log.warn({ did, pds, reason: describeError(err), retryInMs }, 'backfill failed; will retry')
      if (repo.backfillTimer) clearTimeout(repo.backfillTimer)
      repo.backfillTimer = setTimeout(a.retry, retryInMs)
      repo.backfillTimer.unref()
      return false
    }
  }
}
