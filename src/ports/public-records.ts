import type { AtUri, Did, RecordEvent } from '../core/types.js'

/**
 * Reads a repo's current scheduler records the way anyone on the network can: no account, no
 * membership, no access to any peer. Records come back decoded and validated at the edge: a `put`
 * with the core value, or `rejected` with the reason.
 */
export interface PublicRecordReader {
  /** Every record of the commune.scheduler.* collections in `did`'s repo. Throws when the repo cannot be read. */
  readRepo(did: Did): Promise<RecordEvent[]>
  /**
   * Whether the record at `uri` still exists in its repo. False only when the repo's host says it is
   * not there; any other failure throws, so a caller never mistakes an outage for a deletion.
   */
  recordExists(uri: AtUri): Promise<boolean>
}
