// notify (issue 16): direct hints between peers. A hint says "this record was written"; the records
// stay the only truth: the receiver fetches the record with its proof from the writer's PDS and
// checks it before it is applied (adapters/atproto/record-proof.ts), then feeds it through the same
// intake as the firehose (RecordSource.hinted). Senders tell peers through PeerNotifier.
import type { Cid, Did, StrongRef } from '../core/types.js'

/** A record whose proof checked out: signed by the repo's key, at this cid, in the commit at `rev`. */
export interface ProvenRecord {
  did: Did
  collection: string
  rkey: string
  uri: string
  cid: Cid
  /** The rev of the signed commit the proof came from. */
  rev: string
  value: unknown
}

/** Why a hint was not applied (each one a metric label and a log reason). */
export type HintDrop =
  | 'bad-uri' // not an at:// URI of one of our collections in a repo named by DID
  | 'untracked' // a repo this meshlet does not follow (not a member, or not yet attached)
  | 'duplicate' // this uri+cid is known here already (or being fetched)
  | 'overloaded' // too many hints waiting: the firehose will bring it
  | 'fetch-failed' // the writer's PDS did not answer with a proof
  | 'bad-proof' // the proof is not signed by the repo's key, or is for another repo, or is malformed
  | 'absent' // the proof shows no such record (deleted since): the firehose brings the delete
  | 'cid-mismatch' // the record at that key has another cid (changed since, or a forged hint)
  | 'stale' // an older version than the view already holds

export type ProofResult = { ok: true; record: ProvenRecord } | { ok: false; reason: HintDrop; detail: string }

/** Fetches one record with its proof from the repo's PDS and checks it. */
export interface RecordProofs {
  prove(did: Did, collection: string, rkey: string, cid: Cid): Promise<ProofResult>
}

/** What applying a proven record did. */
export type HintApplied = 'applied' | 'duplicate' | 'stale' | 'untracked'

/** A peer's XRPC endpoint, as its profile publishes it. */
export interface HintTarget {
  did: Did
  endpoint: string
}

/** Sends hints to one peer (farm.meshlet.notify with service auth). Rejects when it did not take them. */
export interface PeerNotifier {
  notify(target: HintTarget, records: StrongRef[]): Promise<void>
}
