// notify (issue 16): the sending side of hints. After one of this meshlet's writes lands (a bid, a
// claim or status), every other meshlet of its cluster with a published endpoint is told uri+cid
// directly, so it need not wait for the PDS's firehose poll. Fire-and-forget: writes of one tick are
// coalesced into one call per receiver, a few calls at once, each with a short timeout, and a peer
// that does not answer is skipped for a while (core/breaker.ts) instead of on every write. Nothing
// here blocks or fails the scheduling path: the firehose still delivers everything.
import { Breakers, DEFAULT_BREAKER, type BreakerPolicy } from '../core/breaker.js'
import { NSID, type Did, type StrongRef } from '../core/types.js'
import { describeError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { HintTarget, PeerNotifier } from '../ports/record-hints.js'

/**
 * Records whose writes are hinted: what others decide on quickly. Since liveness (issue 16 part 3)
 * the profile is written rarely (every fallback lease/3, and at once to refute a suspicion), and a
 * suspicion's receipt starts the confirm window: both are hinted, so a refute reaches every
 * observer before its window closes even on an idle PDS that polls once a second.
 */
export const HINTED = new Set<string>([NSID.bid, NSID.workloadStatus, NSID.suspicion, NSID.profile])

/** Records per call (the lexicon allows 16). */
const MAX_PER_CALL = 16

export interface HintSenderDeps {
  self: Did
  notifier: PeerNotifier
  /** The other meshlets of this meshlet's cluster and their endpoints, now. */
  targets: () => HintTarget[]
  log: Logger
  /** Monotonic ms (the breaker's clock). */
  now: () => number
  /** Calls in flight at most (default 4). */
  concurrency?: number
  breaker?: BreakerPolicy
}

export class HintSender {
  /** Outcomes: sent (calls that landed), failed, skipped (breaker open). */
  readonly counts = { sent: 0, failed: 0, skipped: 0 }
  private readonly breakers: Breakers<Did>
  /** Per receiver, refs waiting for the next flush. */
  private pending = new Map<string, { target: HintTarget; refs: StrongRef[] }>()
  private scheduled = false
  private readonly calls: (() => Promise<void>)[] = []
  private inFlight = 0
  private readonly idleWaiters: (() => void)[] = []

  constructor(private readonly d: HintSenderDeps) {
    this.breakers = new Breakers(d.breaker ?? DEFAULT_BREAKER)
  }

  /** One of this meshlet's writes landed (RecordWriter's onWritten). Deletes are not hinted. */
  written(collection: string, uri: string, cid: string | undefined): void {
    if (cid === undefined || !HINTED.has(collection)) return
    this.send({ uri, cid })
  }

  /** Tells every other meshlet (but `except`) about `ref` on the next tick. */
  send(ref: StrongRef, except?: Did): void {
    let targets: HintTarget[]
    try {
      targets = this.d.targets()
    } catch (err) {
      this.d.log.debug({ reason: describeError(err) }, 'no hint targets')
      return
    }
    for (const t of targets) {
      if (t.did === this.d.self || t.did === except) continue
      const key = `${t.did} ${t.endpoint}`
      const p = this.pending.get(key)
      if (p) p.refs.push(ref)
      else this.pending.set(key, { target: t, refs: [ref] })
    }
    if (this.pending.size > 0 && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Resolves when nothing is waiting or in flight (tests). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.calls.length === 0 && this.pending.size === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  private flush(): void {
    this.scheduled = false
    const batches = this.pending
    this.pending = new Map()
    for (const { target, refs } of batches.values()) {
      for (let i = 0; i < refs.length; i += MAX_PER_CALL) {
        const chunk = refs.slice(i, i + MAX_PER_CALL)
        this.calls.push(() => this.call(target, chunk))
      }
    }
    this.pump()
  }

  private pump(): void {
    while (this.inFlight < (this.d.concurrency ?? 4) && this.calls.length > 0) {
      const call = this.calls.shift()!
      this.inFlight++
      void call().finally(() => {
        this.inFlight--
        this.pump()
        if (this.inFlight === 0 && this.calls.length === 0 && this.pending.size === 0) for (const w of this.idleWaiters.splice(0)) w()
      })
    }
  }

  private async call(target: HintTarget, refs: StrongRef[]): Promise<void> {
    if (!this.breakers.allow(target.did, this.d.now())) {
      this.counts.skipped++
      return
    }
    try {
      await this.d.notifier.notify(target, refs)
      this.breakers.succeeded(target.did)
      this.counts.sent++
    } catch (err) {
      this.breakers.failed(target.did, this.d.now())
      this.counts.failed++
      this.d.log.debug({ to: target.did, endpoint: target.endpoint, reason: describeError(err) }, 'hint not delivered')
    }
  }
}
