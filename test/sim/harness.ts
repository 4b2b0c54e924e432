// A many-peer simulation of the scheduling protocol on a virtual clock. Every peer keeps its own
// CommuneView and runs decideWorkload on every delivery and wake-up; an in-memory "network"
// delivers every commit to every other peer with seeded random delays (so deliveries reorder and
// some arrive after bid windows close). No real sleeping: events run in virtual-time order.
import { decideWorkload, type Decision, type Offer, type PeerAction } from '../../src/core/decide.js'
import { workloadEpoch } from '../../src/core/epoch.js'
import { fnv1a64Hex, statusRkey } from '../../src/core/hash.js'
import { resolvePlacement } from '../../src/core/placement.js'
import type { BidVerifier, EligibleMeshlet } from '../../src/core/selection.js'
import { CommuneView } from '../../src/core/view.js'
import { NSID, type AtUri, type Bid, type Did, type RecordEvent, type Workload, type WorkloadStatus } from '../../src/core/types.js'

import { mulberry32 } from '../helpers/rng.js'
export { mulberry32 }

type SimEvent =
  | { kind: 'deliver'; to: Did; events: RecordEvent[] }
  | { kind: 'wake'; peer: Did; workload: AtUri }
  | { kind: 'lapse'; peer: Did; dead: Did }
  | { kind: 'revive-seen'; peer: Did; revived: Did }
  | { kind: 'call'; fn: () => void }

/** Binary min-heap on (time, insertion order): a stable virtual-time event queue. */
class EventQueue {
  private heap: { t: number; seq: number; e: SimEvent }[] = []
  private seq = 0
  get size(): number {
    return this.heap.length
  }
  push(t: number, e: SimEvent): void {
    const h = this.heap
    h.push({ t, seq: this.seq++, e })
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.less(h[p], h[i])) break
      ;[h[p], h[i]] = [h[i], h[p]]
      i = p
    }
  }
  pop(): { t: number; e: SimEvent } | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l], h[m])) m = l
        if (r < h.length && this.less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[m], h[i]] = [h[i], h[m]]
        i = m
      }
    }
    return top
  }
  private less(a: { t: number; seq: number }, b: { t: number; seq: number }): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq)
  }
}

export interface SimOptions {
  seed: number
  peers: number
  /** Uniform delivery delay per (commit, recipient). */
  maxDelayMs: number
  /** Probability that a delivery is late by an extra lateExtraMs (uniform). */
  lateProbability: number
  lateExtraMs: number
  bidWindowMs: number
  /** Heartbeat lease: a silent peer drops out of others' eligible sets after this (+ up to maxDelayMs). */
  leaseMs: number
  /** Probability that a peer cannot run a given workload (it declines). */
  declineProbability: number
  /** Probability that a workload's constraints exclude a given peer. */
  excludeProbability: number
  /** Bid priorities are drawn from [0, priorityRange): small ranges make many ties. */
  priorityRange: number
  /** Batch workloads: how long a started container runs before it exits 0 (uniform in [min, max] ms). */
  jobMs?: { min: number; max: number }
  /** issue 16 (sampled bidding): every eligible peer offers, as before sampling (the baseline). */
  allBid?: boolean
  /** Each peer's view bound (core/view.ts maxRecords; the peer's default when undefined). */
  viewMaxRecords?: number
}

/** One container start, as the runner model records it. */
export interface StartRecord {
  peer: Did
  workload: AtUri
  cid: string
  replica: number
  at: number
  /** When this peer's claim landed (its own view). */
  claimedAt: number
}

export interface Peer {
  did: Did
  owner: Did
  view: CommuneView
  alive: boolean
  recovering: boolean
  /** Peers this one believes dead (their heartbeat lapsed in its view). */
  dead: Set<Did>
  rkeySeq: number
  wakes: Map<AtUri, number>
  /** This peer's wall clock minus true time: its own "now" and the timestamps it writes are off by this. */
  skewMs: number
}

export interface WorkloadTruth {
  workload: Workload
  publishedAt: number
  base: Did[]
  feasible: Set<Did>
  priority: Map<Did, number>
}

export class Simulation {
  readonly peers = new Map<Did, Peer>()
  readonly workloads = new Map<AtUri, WorkloadTruth>()
  /** Every record as it stands now, per repo (what a backfill would list). */
  protected readonly published = new Map<AtUri, RecordEvent>()
  /** from>to -> latest scheduled delivery time, so a heartbeat can follow the commits before it. */
  protected readonly lastDelivery = new Map<string, number>()
  /** (peer|workload) -> virtual time of its latest claim. */
  readonly claimedAt = new Map<string, number>()
  readonly queue = new EventQueue()
  now = 0
  evictions = 0
  /** Service claims moved to a free replica number instead of being evicted (one status write each). */
  renumbers = 0
  /** Renumbers of a claim whose container had started: the runner recreates it (MESHLET_REPLICA). */
  recreations = 0
  /** Bid records that reached a peer after its bid window for that workload had closed. */
  lateBids = 0
  claims = 0
  releases: { peer: Did; workload: AtUri; reason: string; at: number }[] = []
  decisions = 0
  /** Every container start (the runner model starts one only when its decision says it may). */
  readonly starts: StartRecord[] = []
  /** Ack records re-put (one per ack action). */
  ackWrites = 0
  /** Claims renounced after split acks (ack actions that add a renounced number). */
  renunciations = 0
  protected readonly rng: () => number

  constructor(readonly opts: SimOptions) {
    this.rng = mulberry32(opts.seed)
    for (let i = 0; i < opts.peers; i++) {
      const did = `did:plc:peer${String(i).padStart(2, '0')}`
      this.peers.set(did, { did, owner: `did:plc:owner${i % 5}`, view: this.newView(), alive: true, recovering: false, dead: new Set(), rkeySeq: 0, wakes: new Map(), skewMs: 0 })
    }
  }

  /** A peer's view, bounded as the run says (a restarted peer's too). */
  protected newView(): CommuneView {
    return new CommuneView({ maxRecords: this.opts.viewMaxRecords })
  }

  private delay(): number {
    let d = this.rng() * this.opts.maxDelayMs
    if (this.rng() < this.opts.lateProbability) d += this.rng() * this.opts.lateExtraMs
    return Math.floor(d)
  }

  /** Deliver one commit to every live peer except the author (who applied it already). */
  protected broadcast(from: Did | undefined, events: RecordEvent[]): void {
    for (const e of events) {
      if (e.op === 'delete') this.published.delete(e.uri)
      else this.published.set(e.uri, e)
    }
    for (const p of this.peers.values()) {
      if (p.did === from) continue
      // Commits of one repo arrive in order (the firehose is ordered per repo); different repos
      // reorder freely against each other.
      const link = `${from ?? 'owners'}>${p.did}`
      const at = Math.max(this.now + this.delay(), this.lastDelivery.get(link) ?? 0)
      this.lastDelivery.set(link, at)
      this.queue.push(at, { kind: 'deliver', to: p.did, events })
    }
  }

  /** An owner publishes a workload at `at` (virtual ms). */
  publishWorkload(at: number, index: number, replicas: number, kind: Workload['kind'] = 'service'): void {
    this.queue.push(at, {
      kind: 'call',
      fn: () => {
        const owner = `did:plc:owner${index % 5}`
        const rkey = `w${String(index).padStart(6, '0')}`
        const uri = `at://${owner}/${NSID.workload}/${rkey}`
        const workload: Workload = {
          uri,
          cid: `bafyw${fnv1a64Hex(uri)}`,
          owner,
          rkey,
          name: `job-${index}`,
          image: 'meshlet/busybox:test',
          replicas,
          resources: { cpuMillis: 100, memoryMb: 64 },
          env: [],
          kind,
          restart: { policy: kind === 'batch' ? 'never' : 'always' },
          constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' },
          bidWindowMs: this.opts.bidWindowMs,
          delivery: 'at-most-once',
          createdAt: new Date(at).toISOString(),
        }
        const base: Did[] = []
        const feasible = new Set<Did>()
        const priority = new Map<Did, number>()
        for (const p of this.peers.keys()) {
          if (this.rng() >= this.opts.excludeProbability) base.push(p)
          if (this.rng() >= this.opts.declineProbability) feasible.add(p)
          priority.set(p, Math.floor(this.rng() * this.opts.priorityRange))
        }
        this.workloads.set(uri, { workload, publishedAt: at, base, feasible, priority })
        this.broadcast(owner, [{ op: 'put', uri, did: owner, collection: NSID.workload, rkey, cid: workload.cid, record: { collection: NSID.workload, value: workload } }])
      },
    })
  }

  /** Peer `did` goes silent at `at`: it stops processing and publishing; others notice after the lease. */
  killAt(did: Did, at: number): void {
    this.queue.push(at, {
      kind: 'call',
      fn: () => {
        const p = this.peers.get(did)!
        p.alive = false
        for (const other of this.peers.values()) {
          if (other.did === did) continue
          this.queue.push(this.now + this.opts.leaseMs + Math.floor(this.rng() * this.opts.maxDelayMs), { kind: 'lapse', peer: other.did, dead: did })
        }
      },
    })
  }

  /**
   * Peer `did` restarts at `at` with an empty view, backfills every current record and evaluates
   * everything with recovering=true before its heartbeat is fresh again; others see it alive one
   * delivery later.
   */
  reviveAt(did: Did, at: number): void {
    this.queue.push(at, {
      kind: 'call',
      fn: () => {
        const p = this.peers.get(did)!
        p.alive = true
        p.recovering = true
        p.view = this.newView()
        p.wakes.clear()
        p.rkeySeq = 1_000_000 // TIDs keep growing across restarts
        for (const e of this.published.values()) p.view.apply(e, this.clock(p))
        // Fencing (runner.ts) killed its batch containers while it was cut off: report them lost.
        for (const w of p.view.workloads()) {
          const own = p.view.statusesFor(w.uri).find((s) => s.meshlet === p.did && s.workload.cid === w.cid)
          if (w.kind === 'batch' && own?.state === 'running') {
            const { containerId: _gone, ...rest } = own
            this.putStatus(p, w, { ...rest, state: 'failed', message: 'lost: killed by fencing: no heartbeat landed' })
          }
        }
        for (const w of p.view.workloads()) this.evaluate(p, w.uri)
        p.recovering = false
        // Its fresh heartbeat is written after the releases, and a repo's commits arrive in order,
        // so nobody sees it alive again before they see what it let go.
        for (const other of this.peers.values()) {
          if (other.did === did) continue
          const after = Math.max(this.now, this.lastDelivery.get(`${did}>${other.did}`) ?? 0)
          this.queue.push(after + 1 + Math.floor(this.rng() * this.opts.maxDelayMs), { kind: 'revive-seen', peer: other.did, revived: did })
        }
      },
    })
  }

  eligibleFor(peer: Peer, uri: AtUri): Map<Did, EligibleMeshlet> {
    const truth = this.workloads.get(uri)
    const out = new Map<Did, EligibleMeshlet>()
    if (!truth) return out
    for (const d of truth.base) if (!peer.dead.has(d)) out.set(d, { meshlet: d, owner: this.peers.get(d)!.owner })
    return out
  }

  /** Eligible ignoring liveness: the same on every peer (acks count against it). */
  electorateFor(uri: AtUri): Map<Did, EligibleMeshlet> {
    const truth = this.workloads.get(uri)
    const out = new Map<Did, EligibleMeshlet>()
    for (const d of truth?.base ?? []) out.set(d, { meshlet: d, owner: this.peers.get(d)!.owner })
    return out
  }

  /** A peer's own wall clock (true time + its skew). */
  clock(p: Peer): number {
    return this.now + p.skewMs
  }

  /** What this peer offers for a workload (a random priority unless a subclass recomputes it). */
  protected offerFor(peer: Peer, _w: Workload, truth: WorkloadTruth): Offer {
    return truth.feasible.has(peer.did)
      ? { kind: 'bid', priority: truth.priority.get(peer.did)!, capacity: { cpuMillisFree: 1000, memoryMbFree: 1000 } }
      : { kind: 'decline', reason: 'insufficient memory: needs 64 MiB, 10 MiB free' }
  }

  /** burst (issue 16): the order a peer evaluates the workloads one delivery touched (default: as delivered). */
  protected orderTouched(_peer: Peer, uris: AtUri[]): AtUri[] {
    return uris
  }

  /** How this peer checks others' bids (none by default: every bid counts at its word). */
  protected verifierFor(_peer: Peer): BidVerifier | undefined {
    return undefined
  }

  protected evaluate(peer: Peer, uri: AtUri): Decision | undefined {
    const w = peer.view.workload(uri)
    const truth = this.workloads.get(uri)
    if (!w || !truth) return undefined
    this.decisions++
    const now = this.clock(peer)
    const d = decideWorkload({
      workload: w,
      bids: peer.view.bidsFor(uri),
      statuses: peer.view.statusesFor(uri),
      eligible: this.eligibleFor(peer, uri),
      electorate: this.electorateFor(uri),
      verifyBid: this.verifierFor(peer),
      firstSeenAt: peer.view.firstSeen(uri, w.cid) ?? now,
      now,
      self: { meshlet: peer.did, owner: peer.owner, draining: false, recovering: peer.recovering },
      offer: this.offerFor(peer, w, truth),
      allBid: this.opts.allBid,
      dropped: peer.view.droppedFor(uri),
    })
    if (d.actions.length > 0) this.publish(peer, w, d.actions)
    this.runnerStep(peer, w, d)
    if (d.wakeAt !== undefined) {
      const at = Math.max(this.now, d.wakeAt - peer.skewMs) // its wake-up is on its own clock
      if (peer.wakes.get(uri) !== at) {
        peer.wakes.set(uri, at)
        this.queue.push(at, { kind: 'wake', peer: peer.did, workload: uri })
      }
    }
    return d
  }

  /**
   * The runner model, as services/runner.ts: a claim of this peer that is still pending starts
   * its container only when the decision says it may (batch: a quorum of acks); the start is
   * recorded and reported `running`; a batch container exits 0 after jobMs.
   */
  private runnerStep(peer: Peer, w: Workload, d: Decision): void {
    if (!d.start?.allowed) return
    const own = peer.view.statusesFor(w.uri).find((s) => s.meshlet === peer.did && s.workload.cid === w.cid)
    if (!own || own.state !== 'pending' || own.replica !== d.start.replica) return
    this.starts.push({ peer: peer.did, workload: w.uri, cid: w.cid, replica: own.replica, at: this.now, claimedAt: this.claimedAt.get(`${peer.did}|${w.uri}`) ?? this.now })
    this.putStatus(peer, w, { ...own, state: 'running', containerId: `c-${this.starts.length}`, message: `running` })
    if (w.kind !== 'batch') return
    const { min, max } = this.opts.jobMs ?? { min: 1000, max: 5000 }
    const runFor = min + Math.floor(this.rng() * (max - min + 1))
    this.queue.push(this.now + runFor, {
      kind: 'call',
      fn: () => {
        if (!peer.alive) return // a silent peer's job is fenced: it never reports
        const cur = peer.view.statusesFor(w.uri).find((s) => s.meshlet === peer.did && s.workload.cid === w.cid)
        if (cur?.state === 'running') this.putStatus(peer, w, { ...cur, state: 'exited', exitCode: 0, message: 'exited 0' })
      },
    })
  }

  /** Publish one status transition of `peer` (same record, new cid). */
  protected putStatus(peer: Peer, w: Workload, value: WorkloadStatus): void {
    const rkey = statusRkey(w.uri)
    const v = { ...value, cid: `bafyt${this.starts.length}-${this.now}-${value.state}`, updatedAt: new Date(this.clock(peer)).toISOString() }
    const e: RecordEvent = { op: 'put', uri: v.uri, did: peer.did, collection: NSID.workloadStatus, rkey, cid: v.cid, record: { collection: NSID.workloadStatus, value: v } }
    peer.view.apply(e, this.clock(peer))
    this.broadcast(peer.did, [e])
    // Its own status changed: decide again (an exited replica frees nothing, but a start may follow).
  }

  /** Turn a decision's actions into one commit: applied to the author's view now, broadcast to the rest. */
  protected publish(peer: Peer, w: Workload, actions: PeerAction[]): void {
    const events: RecordEvent[] = []
    const iso = new Date(this.clock(peer)).toISOString()
    const sRkey = statusRkey(w.uri)
    const statusUri = `at://${peer.did}/${NSID.workloadStatus}/${sRkey}`
    const ref = { uri: w.uri, cid: w.cid }
    for (const a of actions) {
      if (a.type === 'bid' || a.type === 'decline') {
        const rkey = `3k${String(++peer.rkeySeq).padStart(11, '0')}`
        const uri = `at://${peer.did}/${NSID.bid}/${rkey}`
        const value: Bid = { uri, cid: `bafyb${fnv1a64Hex(uri)}`, meshlet: peer.did, rkey, workload: ref, priority: a.type === 'bid' ? a.priority : 0, createdAt: iso }
        if (a.type === 'bid') Object.assign(value, { capacity: a.capacity, epoch: workloadEpoch(w), resources: w.resources })
        else value.decline = a.reason
        events.push({ op: 'put', uri, did: peer.did, collection: NSID.bid, rkey, cid: value.cid, record: { collection: NSID.bid, value } })
      } else if (a.type === 'withdraw') {
        events.push({ op: 'delete', uri: `at://${peer.did}/${NSID.bid}/${a.rkey}`, did: peer.did, collection: NSID.bid, rkey: a.rkey })
      } else if (a.type === 'ack') {
        // Re-put the own counting record at its rkey with the acks (as scheduler.ts does).
        const rec = peer.view.bidsFor(w.uri).find((b) => b.meshlet === peer.did && b.rkey === a.rkey)
        if (!rec) continue
        this.ackWrites++
        if ((a.renounced?.length ?? 0) > (rec.renounced?.length ?? 0)) this.renunciations++
        const value: Bid = { ...rec, acks: a.acks, ...(a.renounced ? { renounced: a.renounced } : {}), cid: `bafyb${fnv1a64Hex(`${rec.uri}|${a.acks.length}|${a.renounced?.length ?? 0}`)}` }
        events.push({ op: 'put', uri: rec.uri, did: peer.did, collection: NSID.bid, rkey: rec.rkey, cid: value.cid, record: { collection: NSID.bid, value } })
      } else if (a.type === 'renumber') {
        // The same claim under its new number (as StatusReporter.renumber); a started container is recreated.
        const prev = peer.view.statusesFor(w.uri).find((s) => s.meshlet === peer.did && s.workload.cid === w.cid)
        if (!prev) continue
        this.renumbers++
        if (prev.state !== 'pending') this.recreations++ // its container started under the old number
        const value: WorkloadStatus = { ...prev, replica: a.replica, cid: `bafyn${this.renumbers}`, updatedAt: iso }
        events.push({ op: 'put', uri: statusUri, did: peer.did, collection: NSID.workloadStatus, rkey: sRkey, cid: value.cid!, record: { collection: NSID.workloadStatus, value } })
      } else {
        const prev = peer.view.statusesFor(w.uri).find((s) => s.meshlet === peer.did)
        const value: WorkloadStatus =
          a.type === 'claim'
            ? { uri: statusUri, cid: `bafys${this.claims}`, meshlet: peer.did, workload: ref, state: 'pending', bid: a.bid, priority: a.priority, replica: a.replica, startedAt: iso, updatedAt: iso }
            : { ...(prev ?? { uri: statusUri, meshlet: peer.did, workload: ref }), cid: `bafyr${this.releases.length}`, workload: ref, state: 'stopped', message: a.reason, updatedAt: iso }
        if (a.type === 'claim') {
          this.claims++
          this.claimedAt.set(`${peer.did}|${w.uri}`, this.now)
        } else {
          this.releases.push({ peer: peer.did, workload: w.uri, reason: a.reason, at: this.now })
          if (a.reason.startsWith('lost claim conflict')) this.evictions++
        }
        events.push({ op: 'put', uri: statusUri, did: peer.did, collection: NSID.workloadStatus, rkey: sRkey, cid: value.cid!, record: { collection: NSID.workloadStatus, value } })
      }
    }
    for (const e of events) peer.view.apply(e, this.clock(peer))
    this.broadcast(peer.did, events)
  }

  /** Run until no event is left (quiescence). Returns the virtual time reached. */
  run(maxEvents = 50_000_000): number {
    let n = 0
    for (let next = this.queue.pop(); next; next = this.queue.pop()) {
      if (++n > maxEvents) throw new Error(`simulation did not quiesce after ${maxEvents} events`)
      this.now = next.t
      const e = next.e
      switch (e.kind) {
        case 'call':
          e.fn()
          break
        case 'deliver': {
          const p = this.peers.get(e.to)!
          if (!p.alive) break // a silent peer hears nothing
          const touched = new Set<AtUri>()
          for (const ev of e.events) {
            if (ev.op === 'put' && ev.record.collection === NSID.bid) {
              const w = p.view.workload(ev.record.value.workload.uri)
              const seen = w && p.view.firstSeen(w.uri, w.cid)
              if (w && seen !== undefined && this.clock(p) >= seen + w.bidWindowMs) this.lateBids++
            }
            const ch = p.view.apply(ev, this.clock(p))
            if (ch.workloadUri) touched.add(ch.workloadUri)
          }
          for (const uri of this.orderTouched(p, [...touched])) this.evaluate(p, uri)
          break
        }
        case 'wake': {
          const p = this.peers.get(e.peer)!
          if (!p.alive || p.wakes.get(e.workload) !== this.now) break
          p.wakes.delete(e.workload)
          this.evaluate(p, e.workload)
          break
        }
        case 'lapse': {
          const p = this.peers.get(e.peer)!
          if (!p.alive || this.peers.get(e.dead)!.alive) break
          p.dead.add(e.dead)
          for (const w of p.view.workloads()) this.evaluate(p, w.uri)
          break
        }
        case 'revive-seen': {
          const p = this.peers.get(e.peer)!
          if (!p.alive) break
          p.dead.delete(e.revived)
          for (const w of p.view.workloads()) this.evaluate(p, w.uri)
          break
        }
      }
    }
    return this.now
  }

  /** Holders of a workload as one peer's view computes them (kept live claims, in rank order). */
  holdersSeenBy(peer: Did, uri: AtUri): Did[] {
    const p = this.peers.get(peer)!
    const w = p.view.workload(uri)
    if (!w) return []
    return resolvePlacement(w, p.view.bidsFor(uri), p.view.statusesFor(uri), this.eligibleFor(p, uri), undefined, this.electorateFor(uri)).kept.map((s) => s.meshlet)
  }

  /** min(replicas, peers that are alive, allowed by the constraints and able to run it). */
  expectedCopies(uri: AtUri): number {
    const t = this.workloads.get(uri)!
    const able = t.base.filter((d) => this.peers.get(d)!.alive && t.feasible.has(d)).length
    return Math.min(t.workload.replicas, able)
  }
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
