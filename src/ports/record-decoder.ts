import type { Cid, Did, RecordEvent } from '../core/types.js'

/** A record as a repo holds it (read back, or just written), not yet checked. */
export interface WireRecord {
  did: Did
  collection: string
  rkey: string
  cid: Cid
  value: unknown
}

/**
 * The edge check: an untrusted wire record becomes a core event (`put` with the value, or
 * `rejected` with the reason); undefined for collections that are not ours. Never throws.
 */
export type RecordDecoder = (record: WireRecord) => RecordEvent | undefined
