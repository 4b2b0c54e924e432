// The bidder + selector loop. For every workload whose inputs changed (a record arrived, a window
// closed, a heartbeat lapsed) it asks the pure core what this peer should do (decideWorkload) and
// applies only that: bid, decline, withdraw, claim or release. All peers run the same functions on
// the same public records, so they agree on who runs what without a leader.
import type { SuspectedFn } from '../core/suspicion.js' // liveness (issue 16 part 3)
import { volumeHolders } from '../core/volumes.js'
import { decideWorkload, type Decision } from '../core/decide.js'
import { eligibility } from '../core/eligibility.js'
import { checkFeasibility, defaultFeasibilityPolicy, type FeasibilityPolicy } from '../core/feasibility.js'
import { Ledger, workloadEpoch } from '../core/ledger.js'
import { debtorsLast } from '../core/free-riders.js'
import type { GuestQuotaPolicy } from '../core/quota.js'
import { declineCounts } from '../core/decline-budget.js'
import type { RegistryPolicy } from '../core/registry-policy.js'
import { isAckGated } from '../core/acks.js'
import { isCompleted, isLiveClaim } from '../core/placement.js'
import type { CommuneView } from '../core/view.js'
import { CLAIM_STATES, NSID, type AtUri, type Did, type HostSnapshot, type Profile, type Resources, type Workload } from '../core/types.js'
import { encodeBid } from '../core/encode.js'
import type { Clock } from '../ports/clock.js'
import { committedBesides, offerFor, quietDeclineNote } from './offer-policy.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { ClusterService } from './cluster.js'
import type { RecordWriter } from './record-writer.js'
import type { StatusReporter } from './status-reporter.js'
import type { HostMonitor } from './host-monitor.js'
import type { Stage, Timeline } from './timeline.js'
import { statusBidUris } from '../core/status-history.js'
import { LedgerCache } from '../core/ledger-cache.js'
import { evaluateWhen, expandRuns, type WhenContext } from './scheduler-when.js'
import { openBidCounts, pendingReplicas, spreadOrderOf } from './burst-spread.js'
import type { WhenPolicy } from './when-policy.js'

export interface SchedulerOptions {
  view: CommuneView
  cluster: ClusterService
  writer: RecordWriter
  status: StatusReporter
  host: HostMonitor
  clock: Clock
  log: Logger
  self: { meshlet: Did; owner: Did }
  /** A claim of this meshlet just became allowed to start (batch acks reached a quorum): wake the runner. */
  onStartAllowed?: (uri: AtUri) => void
  leaseMs: number
  /** Local policy (docs/protocol.md, Free riders): decline other owners whose balance is below this. */
  minOwnerBalance?: number
  /** Local policy (docs/protocol.md, Quotas): what one guest owner may hold here. */
  guestQuota?: GuestQuotaPolicy
  /** Decline records kept per guest owner at once (docs/protocol.md, Quotas); beyond it declines are silent. */
  declineBudget?: number
  /** Local policy (docs/protocol.md, Images): registries guests' images may come from. */
  registryPolicy?: RegistryPolicy
  policy?: Partial<FeasibilityPolicy>
  /** Stage timestamps for the bench (bid landed, window closed, claim landed). */
  timeline?: Timeline
  /**
   * While this returns a reason, no decision is taken: the view may be stale (this meshlet lost
   * touch with its PDS), and acting on it would release or claim on old news. Containers are not
   * the scheduler's business, so they keep running.
   */
  holdWhile?: () => string | undefined
  /** When a record from each repo last arrived here, on clock.monotonic() (IntakeService.receipts). */
  lastReceived: (did: Did) => number | undefined
  /** liveness (issue 16 part 3): dead by suspicion (services/liveness.ts); absent = lease only. */
  suspected?: SuspectedFn
  /** Workloads this meshlet's owner evicted from this machine: always declined (EVICTED_REASON, see offer-policy.ts). */
  isEvicted?: (uri: AtUri) => boolean
  /** Secrets (issue 13): why this meshlet lacks a sealed copy a workload needs (declined with that reason). */
  missingSecret?: (workload: Workload) => string | undefined
  // when (issue 14): guest hours, activity, workload windows, owner-first preemption, schedules
  when?: WhenPolicy
  /** Hands a replica over because of `when` (make before break, services/drain.ts); default: a plain release. */
  onWhenDrain?: (workload: Workload, reason: string) => Promise<unknown>
}

export interface WorkloadDecision extends Decision {
  excluded: { meshlet: Did; reason: string }[]
  offer: { kind: 'bid'; priority: number } | { kind: 'decline'; reason: string }
  /** Set when the workload's owner is beyond the debt limit, or a decline went unwritten (decline budget). */
  note?: string
  evaluatedAt: number
}

export class SchedulerService {
  readonly decisions = new Map<AtUri, WorkloadDecision>()
  private dirty = new Set<AtUri>()
  private wakeTimers = new Map<AtUri, NodeJS.Timeout>()
  private inFlight = new Map<AtUri, number>()
  /** Decline writes not landed yet (workload -> owner): they count against the decline budget too. */
  private pendingDeclines = new Map<AtUri, Did>()
  private passScheduled = false
  private passRunning: Promise<void> | undefined
  private draining = false
  private recoveringUntil = 0
  private heldFor: string | undefined
  private stopped = false
  /** No decision before start(): during the initial backfill the view is still partial. */
  private started = false
  private readonly policy: FeasibilityPolicy
  /** The replayed ledger, rebuilt only when a record it reads changes (exposed for tests and metrics). */
  readonly ledgers = new LedgerCache()
  private tick: NodeJS.Timeout | undefined
  passes = 0

  private readonly view: CommuneView
  private readonly cluster: ClusterService
  private readonly writer: RecordWriter
  private readonly status: StatusReporter
  private readonly host: HostMonitor
  private readonly clock: Clock
  private readonly log: Logger

  constructor(private readonly opts: SchedulerOptions) {
    ;({ view: this.view, cluster: this.cluster, writer: this.writer, status: this.status, host: this.host, clock: this.clock, log: this.log } = opts)
    this.policy = { ...defaultFeasibilityPolicy, ...opts.policy }
  }

  /** `recovering`: this meshlet was away longer than its lease; see decideWorkload. */
  /** This meshlet is back in touch after its lease lapsed: yield what others replaced for a lease, as after a restart. */
  rejoined(): void {
    this.recoveringUntil = this.clock.now() + this.opts.leaseMs
    this.markAll()
  }

  start(opts: { recovering: boolean }): void {
    this.started = true
    if (opts.recovering) this.recoveringUntil = this.clock.now() + this.opts.leaseMs
    // Time alone changes answers (windows close, heartbeats lapse): a slow sweep catches that.
    this.tick = setInterval(() => this.markAll(), Math.max(500, Math.floor(this.opts.leaseMs / 3)))
    this.tick.unref()
    this.markAll()
  }

  /**
   * After being away longer than its lease, this meshlet releases every replica that others have
   * taken over in the meantime. Runs BEFORE the heartbeat is renewed: a renewed heartbeat would make
   * the stale claim live again and push out a replacement that is already running.
   */
  async releaseReplaced(): Promise<number> {
    const monoNow = this.clock.monotonic()
    const profiles = new Map<Did, Profile>(this.view.profiles().map((p) => [p.meshlet, p]))
    const graph = this.cluster.current()
    const writes: Promise<unknown>[] = []
    for (const s of this.view.statusesBy(this.opts.self.meshlet)) {
      const w = this.view.workload(s.workload.uri)
      if (!w || s.workload.cid !== w.cid || !CLAIM_STATES.includes(s.state)) continue
      // At-most-once batch is never taken over (a lapsed holder's slot is lost); fencing reports it.
      if (isAckGated(w)) continue
      const { eligible } = eligibility({ workload: w, graph, profiles, monoNow, lastReceived: this.opts.lastReceived, defaultLeaseMs: this.opts.leaseMs, leaseMsOf: (p) => p.leaseMs, suspected: this.opts.suspected })
      const statuses = this.view.statusesFor(w.uri)
      const others = statuses.filter((o) => o.meshlet !== this.opts.self.meshlet && isLiveClaim(o, w, eligible)).length
      const completed = statuses.filter((o) => isCompleted(o, w)).length
      if (others >= w.replicas - completed) {
        this.log.info({ workload: w.uri }, `${w.name} was taken over while this meshlet was away; releasing it`)
        writes.push(this.status.release(w, 'replaced while this meshlet was away'))
      }
    }
    await Promise.allSettled(writes)
    return writes.length
  }

  stop(): void {
    this.stopped = true
    if (this.tick) clearInterval(this.tick)
    for (const t of this.wakeTimers.values()) clearTimeout(t)
    this.wakeTimers.clear()
  }

  setDraining(draining: boolean): void {
    this.draining = draining
    this.markAll()
  }

  get isDraining(): boolean {
    return this.draining
  }

  mark(uri: AtUri): void {
    if (this.stopped) return
    this.dirty.add(uri)
    this.schedulePass()
  }

  markAll(): void {
    for (const w of this.view.workloads()) this.dirty.add(w.uri)
    for (const uri of this.decisions.keys()) this.dirty.add(uri)
    this.schedulePass()
  }

  /** Resolves when no pass is pending or running (tests and the bench wait on this). */
  async processAll(): Promise<void> {
    while (this.passScheduled || this.passRunning) {
      if (this.passRunning) await this.passRunning
      else await new Promise((r) => setImmediate(r))
    }
  }

  private schedulePass(): void {
    if (this.passScheduled || this.stopped || !this.started) return
    this.passScheduled = true
    setImmediate(() => {
      this.passScheduled = false
      if (this.passRunning) {
        // Coalesce: run again right after the current pass.
        void this.passRunning.then(() => this.schedulePass())
        return
      }
      this.passRunning = this.pass()
        .catch((err) => this.log.error({ err: describeError(err) }, 'scheduling pass failed'))
        .finally(() => {
          this.passRunning = undefined
        })
    })
  }

  private async pass(): Promise<void> {
    if (this.dirty.size === 0) return
    const held = this.opts.holdWhile?.()
    if (held) {
      if (this.heldFor === undefined) this.log.warn({ reason: held }, 'holding scheduling decisions; containers keep running')
      this.heldFor = held
      return // dirty stays marked; the periodic sweep retries
    }
    if (this.heldFor !== undefined) this.log.info('scheduling again')
    this.heldFor = undefined
    this.passes++
    const uris = [...this.dirty].sort()
    this.dirty.clear()
    const now = this.clock.now()
    const host = await this.host.snapshot()
    const profiles = new Map<Did, Profile>(this.view.profiles().map((p) => [p.meshlet, p]))
    const graph = this.cluster.current()
    // One replay of the ledger per pass: every bid this pass verifies, and this peer's own
    // priorities, come from the same balances (so an honest bid always verifies). Reused across
    // passes until a record it reads changes or the epoch turns (LedgerCache).
    const ledger = this.ledgers.get({ workloads: this.view.workloads(), bids: this.view.allBids(), statuses: this.view.allStatuses(), profiles: this.view.profiles(), ownerOf: (m) => graph.ownerOf(m), graph, now })
    const committed = this.committed()
    const declines = declineCounts(this.view.allBids(), this.opts.self.meshlet, (uri) => this.view.workload(uri))
    for (const owner of this.pendingDeclines.values()) declines.set(owner, (declines.get(owner) ?? 0) + 1)
    this.opts.when?.observe(now, host, this.guestCpu(committed))
    const runs = expandRuns(uris, this.view, now, this.opts.self.meshlet)
    for (const [uri, at] of runs.wakes) this.scheduleWake(uri, at, now)
    // burst spread (issue 16): replicas in hand and not running lower each bid; each peer bids first where it would win a tie
    const pending = pendingReplicas(this.view, this.opts.self.meshlet, [...this.decisions].filter(([, d]) => openBidCounts(d)).map(([uri]) => uri))
    const ordered = spreadOrderOf(runs.uris, this.view, this.opts.self.meshlet, [...profiles.keys()])
    for (const uri of this.debtorsLast(ordered, ledger)) {
      const workload = this.view.workload(uri)
      if (!workload) {
        this.forget(uri)
        continue
      }
      if ((this.inFlight.get(uri) ?? 0) > 0) continue // re-marked when the write lands
      try {
        this.evaluate(workload, { now, host, profiles, graph, ledger, committed, declines, pending })
      } catch (err) {
        this.log.error({ err: describeError(err), uri }, 'evaluating workload failed')
      }
    }
  }

  /**
   * Free riders (docs/protocol.md): workloads of owners below -DEBT_LIMIT are evaluated after the
   * others, so capacity committed in this pass goes to the rest first. Stable otherwise.
   */
  private debtorsLast(uris: AtUri[], ledger: Ledger): AtUri[] {
    return debtorsLast(uris, (uri) => this.view.workload(uri)?.owner, (o) => ledger.currentBalance(o).balance, this.opts.self.owner)
  }

  /** Resources of replicas this meshlet runs, has claimed, or has bid for in an open window. */
  private committed(): Map<AtUri, Resources> {
    const out = new Map<AtUri, Resources>()
    for (const s of this.view.statusesBy(this.opts.self.meshlet)) {
      const w = this.view.workload(s.workload.uri)
      if (w && s.workload.cid === w.cid && CLAIM_STATES.includes(s.state)) out.set(w.uri, w.resources)
    }
    for (const [uri, d] of this.decisions) {
      const w = this.view.workload(uri)
      // burst (issue 16): a bid already outranked by the bids in view is not counted (core/spread.ts
      // openBidCounts); sample (issue 16): nor is a decision outside the open rings (it writes no bid)
      if (w && openBidCounts(d) && !d.sampledOut) out.set(uri, w.resources)
    }
    return out
  }

  private evaluate(
    workload: Workload,
    ctx: { now: number; host: HostSnapshot; profiles: Map<Did, Profile>; graph: ReturnType<ClusterService['current']>; ledger: Ledger; committed: Map<AtUri, Resources>; declines: Map<Did, number>; pending: Set<AtUri> },
  ): void {
    const { self } = this.opts
    // Liveness by receipt: read on the monotonic clock, never against writers' dates.
    const elig = eligibility({ workload, graph: ctx.graph, profiles: ctx.profiles, monoNow: this.clock.monotonic(), lastReceived: this.opts.lastReceived, defaultLeaseMs: this.opts.leaseMs, leaseMsOf: (p) => p.leaseMs, suspected: this.opts.suspected })
    // when (issue 14): timing refusals drain; the owner's work that does not fit preempts guests.
    const when: WhenContext = evaluateWhen(workload, ctx, { view: this.view, policy: this.policy, draining: this.draining, self, when: this.opts.when, held: () => this.heldReplicas(), release: (w, reason) => this.apply(w, { type: 'release', reason }) })
    const { committed, usage } = committedBesides(workload, ctx.committed, (uri) => this.view.workload(uri)?.owner)
    const feas = checkFeasibility(workload, ctx.host, committed, this.policy, this.draining)
    const { offer, note: offerNote } = when.refusal ? { offer: { kind: 'decline', reason: when.refusal } as const, note: undefined } : feas.ok ? offerFor(workload, feas.free, usage, { ...ctx, pendingReplicas: ctx.pending.size - (ctx.pending.has(workload.uri) ? 1 : 0) }, this.opts) : { offer: { kind: 'decline', reason: feas.reason } as const, note: undefined }
    const spent = ctx.declines.get(workload.owner) ?? 0
    const quietNote = quietDeclineNote(workload, offer, spent, this.opts)
    const quietDecline = quietNote !== undefined
    const note = quietNote ?? offerNote
    const decision = decideWorkload({
      workload,
      bids: this.view.bidsFor(workload.uri),
      statuses: this.view.statusesFor(workload.uri),
      eligible: elig.eligible,
      electorate: elig.electorate,
      firstSeenAt: when.firstSeenAt ?? this.view.firstSeen(workload.uri, workload.cid) ?? ctx.now,
      now: ctx.now,
      self: { meshlet: self.meshlet, owner: self.owner, draining: this.draining || when.drain, recovering: ctx.now < this.recoveringUntil },
      offer,
      quietDecline,
      verifyBid: ctx.ledger.verifyBid,
      // Volumes (issue 12): a meshlet that holds this workload's data is asked first.
      preferred: volumeHolders(workload, ctx.profiles.values()),
      // A full view (core/view.ts caps) that gave up some of this workload's records: withdraw and release only.
      dropped: this.view.droppedFor(workload.uri),
    })
    if (note && decision.self) decision.self = { ...decision.self, reason: `${decision.self.reason} (${note})` }
    const wasAllowed = this.decisions.get(workload.uri)?.start?.allowed === true
    this.decisions.set(workload.uri, {
      ...decision,
      excluded: elig.excluded,
      offer: offer.kind === 'bid' ? { kind: 'bid', priority: offer.priority } : offer,
      ...(note ? { note } : {}),
      evaluatedAt: ctx.now,
    })
    if (offer.kind === 'bid' && decision.phase === 'bidding' && !decision.sampledOut) {
      ctx.committed.set(workload.uri, workload.resources)
      ctx.pending.add(workload.uri) // burst spread (issue 16)
    }
    if (decision.actions.some((a) => a.type === 'decline')) ctx.declines.set(workload.owner, spent + 1)
    this.scheduleWake(workload.uri, decision.wakeAt, ctx.now)
    for (const action of decision.actions) {
      // A drain for reasons of time says which, and hands over like a shutdown (make before break).
      if (when.drain && !this.draining && action.type === 'release' && action.reason.startsWith('draining')) this.apply(workload, { type: 'release', reason: `draining: ${when.refusal}` }, note, this.opts.onWhenDrain)
      else this.apply(workload, action, note)
    }
    if (decision.start?.allowed && !wasAllowed) this.opts.onStartAllowed?.(workload.uri)
  }

  /** Guests' committed CPU (millicores): their load is not the person's (when-policy activity). */
  private guestCpu(committed: Map<AtUri, Resources>): number {
    let cpu = 0
    for (const [uri, r] of committed) if (this.view.workload(uri)?.owner !== this.opts.self.owner) cpu += r.cpuMillis
    return cpu
  }

  /** The live claims this meshlet holds (current versions), for owner-first preemption. */
  private heldReplicas(): { workload: Workload; mayHaveStarted: boolean }[] {
    const out: { workload: Workload; mayHaveStarted: boolean }[] = []
    for (const s of this.view.statusesBy(this.opts.self.meshlet)) {
      const w = this.view.workload(s.workload.uri)
      if (!w || s.workload.cid !== w.cid || !CLAIM_STATES.includes(s.state)) continue
      out.push({ workload: w, mayHaveStarted: s.state !== 'pending' || this.decisions.get(w.uri)?.start?.allowed === true })
    }
    return out
  }

  private apply(workload: Workload, action: Decision['actions'][number], note?: string, release?: (w: Workload, reason: string) => Promise<unknown>): void {
    const ref = { uri: workload.uri, cid: workload.cid }
    const name = `${workload.name} (${workload.uri})`
    let p: Promise<unknown>
    let landed: Stage | undefined
    switch (action.type) {
      case 'bid':
        this.log.info({ workload: workload.uri, priority: action.priority }, `bid ${action.priority} on ${workload.name}${note ? ` (${note})` : ''}`)
        // epoch and resources let every peer recompute the priority, and keep the ledger after the workload is deleted.
        p = this.writer.create(NSID.bid, encodeBid({ workload: ref, priority: action.priority, capacity: action.capacity, epoch: workloadEpoch(workload), resources: workload.resources, createdAt: this.iso() }))
        landed = 'bid'
        break
      case 'decline':
        this.log.info({ workload: workload.uri }, `decline ${workload.name}: ${action.reason}`)
        this.pendingDeclines.set(workload.uri, workload.owner)
        p = this.writer.create(NSID.bid, encodeBid({ workload: ref, priority: 0, decline: action.reason, createdAt: this.iso() })).finally(() => this.pendingDeclines.delete(workload.uri))
        landed = 'bid'
        break
      case 'withdraw':
        this.log.debug({ workload: workload.uri, rkey: action.rkey }, `withdraw bid: ${action.reason}`)
        p = this.writer.delete(NSID.bid, action.rkey)
        break
      case 'claim':
        this.log.info({ workload: workload.uri, replica: action.replica }, `won ${name}: claiming replica ${action.replica}`)
        this.opts.timeline?.mark(workload.uri, 'closed')
        p = this.status.claim(workload, { bid: action.bid, priority: action.priority, replica: action.replica })
        landed = 'claimed'
        break
      case 'renumber':
        this.log.info({ workload: workload.uri, replica: action.replica }, `${name}: ${action.reason}`)
        p = this.status.renumber(workload, action.replica)
        break
      case 'release':
        this.log.info({ workload: workload.uri }, `releasing ${workload.name}: ${action.reason}`)
        p = release ? release(workload, action.reason) : this.status.release(workload, action.reason)
        break
      case 'revert':
        // issue 12 (rollout): back to the claim of the version it ran before (the runner runs it from its memory)
        this.log.info({ workload: workload.uri, cid: action.cid }, `${name}: ${action.reason}`)
        p = this.status.claim({ ...workload, cid: action.cid }, { bid: action.bid, priority: action.priority, replica: action.replica })
        break
      case 'ack': {
        // Re-put the own counting record at its rkey, unchanged but for the acks (docs/protocol.md, Batch).
        const rec = this.view.bidsFor(workload.uri).find((b) => b.meshlet === this.opts.self.meshlet && b.rkey === action.rkey)
        if (!rec) return
        this.log.info({ workload: workload.uri, acks: action.acks }, `ack ${workload.name}: ${action.reason}`)
        const { uri: _u, cid: _c, meshlet: _m, rkey: _r, ...fields } = rec
        p = this.writer.put(NSID.bid, action.rkey, encodeBid({ ...fields, acks: action.acks, ...(action.renounced ? { renounced: action.renounced } : {}) }))
        break
      }
    }
    this.inFlight.set(workload.uri, (this.inFlight.get(workload.uri) ?? 0) + 1)
    const timeline = this.opts.timeline
    const stage = landed
    if (timeline && stage) p = p.then(() => timeline.mark(workload.uri, stage))
    p.catch((err) => this.log.warn({ err: describeError(err), workload: workload.uri, action: action.type }, 'action failed; will retry'))
      .finally(() => {
        const n = (this.inFlight.get(workload.uri) ?? 1) - 1
        if (n <= 0) this.inFlight.delete(workload.uri)
        else this.inFlight.set(workload.uri, n)
        this.mark(workload.uri)
      })
  }

  private scheduleWake(uri: AtUri, wakeAt: number | undefined, now: number): void {
    const old = this.wakeTimers.get(uri)
    if (old) clearTimeout(old)
    this.wakeTimers.delete(uri)
    if (wakeAt === undefined || this.stopped) return
    const t = setTimeout(() => {
      this.wakeTimers.delete(uri)
      this.mark(uri)
    }, Math.max(0, wakeAt - now) + 5)
    t.unref()
    this.wakeTimers.set(uri, t)
  }

  /** The workload record is gone: withdraw this meshlet's bids for it, but the one its status references (the runner stops containers). */
  private forget(uri: AtUri): void {
    this.decisions.delete(uri)
    const t = this.wakeTimers.get(uri)
    if (t) clearTimeout(t)
    this.wakeTimers.delete(uri)
    // The bid our final status stands on stays: the ledger counts that usage after the workload is gone.
    const kept = new Set(this.view.statusesBy(this.opts.self.meshlet).flatMap((s) => (s.workload.uri === uri ? statusBidUris(s) : [])))
    for (const bid of this.view.bidsFor(uri)) {
      if (bid.meshlet !== this.opts.self.meshlet || kept.has(bid.uri)) continue
      this.writer.delete(NSID.bid, bid.rkey).catch((err) => this.log.warn({ err: describeError(err), uri }, 'could not withdraw bid'))
    }
  }

  private iso(): string {
    return new Date(this.clock.now()).toISOString()
  }
}
