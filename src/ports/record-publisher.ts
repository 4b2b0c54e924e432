import type { Did, RecordValue, StrongRef } from '../core/types.js'

export type { RecordValue }

export type RepoWrite =
  | { op: 'create'; collection: string; rkey?: string; value: RecordValue }
  | { op: 'put'; collection: string; rkey: string; value: RecordValue }
  | { op: 'delete'; collection: string; rkey: string }

/** Writes to ONE repo (this meshlet's, or an owner's for `meshlet link`). */
export interface RecordPublisher {
  readonly did: Did
  put(collection: string, rkey: string, value: RecordValue): Promise<StrongRef>
  create(collection: string, value: RecordValue): Promise<StrongRef>
  /** Idempotent: deleting a missing record is done. */
  delete(collection: string, rkey: string): Promise<void>
  /** Batched writes (one commit); results align with writes (deletes give undefined). */
  applyWrites(writes: RepoWrite[]): Promise<(StrongRef | undefined)[]>
  /** liveness (issue 16 part 3): a cheap read (no write points): does the PDS answer now? */
  reachable?(): Promise<boolean>
}
