// notify (issue 16): the receiving side of hints. A hint (uri+cid, from a cluster member or its
// meshlet) is only a reason to look now: the record is fetched with its proof from the writer's PDS
// and checked (ports/RecordProofs), then applied through the record source, the same path as the
// firehose (dedup by uri+cid, never an older version over a newer one). A hint that does not check
// out is dropped with its reason; nothing else changes. Bounded: a few fetches at once, a capped
// queue, and hints already known cost no fetch.
import { LRUCache } from 'lru-cache'
import { COLLECTIONS, NSID, type Did, type StrongRef } from '../core/types.js'
import { describeError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { HintApplied, HintDrop, RecordProofs } from '../ports/record-hints.js'
import type { RecordSource } from '../ports/record-source.js'

export interface HintIntakeDeps {
  proofs: RecordProofs
  source: RecordSource
  log: Logger
  /** Tells the other peers about a member's workload this meshlet heard of first from its writer. */
  forward?: (ref: StrongRef, except: Did) => void
  /** Fetches at once (default 4). */
  concurrency?: number
  /** Hints waiting at most (default 256); more are dropped as 'overloaded' (the firehose brings them). */
  maxQueued?: number
}

export type HintOutcome = HintApplied | HintDrop

const OURS = new Set<string>(COLLECTIONS)
const AT_URI = /^at:\/\/(did:[a-z]+:[a-zA-Z0-9._:%-]{1,2040})\/([a-zA-Z0-9.-]{1,317})\/([A-Za-z0-9._:~-]{1,512})$/

interface Job {
  caller: Did
  did: Did
  collection: string
  rkey: string
  ref: StrongRef
}

export class HintIntake {
  /** Outcomes by name (applied, duplicate, stale, and each drop reason): /metrics, tests, the bench. */
  readonly counts: Record<string, number> = {}
  /** uri+cid handled or in flight: a repeat costs no fetch. */
  private readonly recent = new LRUCache<string, true>({ max: 8192 })
  private readonly queue: Job[] = []
  private running = 0
  private readonly idleWaiters: (() => void)[] = []

  constructor(private readonly d: HintIntakeDeps) {}

  /** Takes a batch of hints from `caller`; returns how many were queued for fetching. */
  receive(caller: Did, refs: StrongRef[]): number {
    let accepted = 0
    for (const ref of refs) {
      const m = AT_URI.exec(ref.uri)
      if (!m || !OURS.has(m[2]!) || typeof ref.cid !== 'string' || ref.cid.length === 0 || ref.cid.length > 200) {
        this.drop(ref, caller, 'bad-uri', 'not an at:// URI of a commune.scheduler record in a repo named by DID')
        continue
      }
      const [, did, collection, rkey] = m as unknown as [string, Did, string, string]
      if (!(this.d.source.tracks?.(did) ?? false)) {
        this.drop(ref, caller, 'untracked', `${did} is not a repo this meshlet follows`)
        continue
      }
      const key = `${ref.uri} ${ref.cid}`
      if (this.recent.has(key) || this.d.source.knows?.(did, collection, rkey, ref.cid)) {
        this.count('duplicate')
        continue
      }
      if (this.queue.length >= (this.d.maxQueued ?? 256)) {
        this.drop(ref, caller, 'overloaded', 'too many hints waiting')
        continue
      }
      this.recent.set(key, true)
      this.queue.push({ caller, did, collection, rkey, ref })
      accepted++
      this.pump()
    }
    return accepted
  }

  /** Resolves when no hint is waiting or being fetched (tests). */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  private pump(): void {
    while (this.running < (this.d.concurrency ?? 4) && this.queue.length > 0) {
      const job = this.queue.shift()!
      this.running++
      void this.handle(job)
        .catch((err) => this.drop(job.ref, job.caller, 'fetch-failed', describeError(err)))
        .finally(() => {
          this.running--
          this.pump()
          if (this.running === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w()
        })
    }
  }

  private async handle(job: Job): Promise<void> {
    const { did, collection, rkey, ref, caller } = job
    const proof = await this.d.proofs.prove(did, collection, rkey, ref.cid)
    if (!proof.ok) {
      // Not remembered as handled: a later, genuine hint of the same uri+cid may still verify.
      this.recent.delete(`${ref.uri} ${ref.cid}`)
      this.drop(ref, caller, proof.reason, proof.detail)
      return
    }
    const outcome = (await this.d.source.hinted?.(proof.record)) ?? 'untracked'
    this.count(outcome)
    this.d.log.debug({ uri: ref.uri, cid: ref.cid, caller, outcome, rev: proof.record.rev }, 'hint')
    // A workload its owner told this meshlet about (meshlet submit): once to the others, who check
    // it themselves. A hint from anyone else is not forwarded, so a hint travels at most two hops.
    if (outcome === 'applied' && collection === NSID.workload && caller === did) this.d.forward?.(ref, caller)
  }

  private drop(ref: StrongRef, caller: Did, reason: HintDrop, detail: string): void {
    this.count(reason)
    // A bad proof is forged or broken; the others happen in normal operation (a status updated again
    // before the fetch, a peer not yet followed), so they are only counted.
    this.d.log[reason === 'bad-proof' ? 'warn' : 'debug']({ uri: ref.uri, cid: ref.cid, caller, reason, detail }, `hint dropped: ${reason}`)
  }

  private count(outcome: HintOutcome): void {
    this.counts[outcome] = (this.counts[outcome] ?? 0) + 1
  }
}
