import type { Did, RecordEvent } from '../core/types.js'

/**
 * Reads a repo's current scheduler records the way anyone on the network can: no account, no
 * membership, no access to any peer. Records come back decoded and validated at the edge: a `put`
 * with the core value, or `rejected` with the reason.
 */
export interface PublicRecordReader {
  /** Every record of the commune.scheduler.* collections in `did`'s repo. Throws when the repo cannot be read. */
  readRepo(did: Did): Promise<RecordEvent[]>
}
