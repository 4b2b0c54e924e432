// The adversarial commune of issue 10: honest peers that publish bids which VERIFY (recomputed
// priority from their owner's ledger balance and a capacity within their profile totals) and
// verify everyone else's with a replayed Ledger, plus one selfish member that tries every trick
// the issue lists, and two members whose clocks are a minute off. Built on the plain Simulation.
import type { Offer } from '../../src/core/decide.js'
import { EPOCH_MS, workloadEpoch } from '../../src/core/epoch.js'
import { statusRkey } from '../../src/core/hash.js'
import { Ledger } from '../../src/core/ledger.js'
import { bidPriority } from '../../src/core/priority.js'
import { CommuneView } from '../../src/core/view.js'
import type { BidVerifier } from '../../src/core/selection.js'
import { NSID, type AtUri, type Bid, type Did, type Profile, type RecordEvent, type Workload, type WorkloadStatus } from '../../src/core/types.js'
import { Simulation, type Peer, type SimOptions, type WorkloadTruth } from './harness.js'

export const SELFISH: Did = 'did:plc:selfish'
export const SELFISH_OWNER: Did = 'did:plc:selfowner'
/** The owner whose balance the 50 forged statuses try to push down. */
export const VICTIM: Did = 'did:plc:owner0'
/** Every workload is created in epoch 1; the history (real and forged) lies in epoch 0. */
export const T0 = EPOCH_MS + 120_000
export const FORGED_STATUSES = 50
/** Non-canonical statuses the selfish peer spams per workload. */
export const SPAM_PER_WORKLOAD = 4

export interface AdversaryOptions extends SimOptions {
  /** Skew of peer01 (ahead) and peer02 (behind), ms. */
  skewMs: number
  /** Rebuild a peer's Ledger at most once per this much of its virtual time. */
  ledgerEveryMs: number
  /** false: the control run, the same commune without the selfish member. */
  selfish?: boolean
}

export class AdversarialSimulation extends Simulation {
  readonly profiles = new Map<Did, Profile>()
  /** Every record the selfish peer wrote (to replay the ledger without them). */
  readonly selfishUris = new Set<AtUri>()
  /** The uris of the 50 forged history statuses. */
  readonly forgedUris: AtUri[] = []
  ledgerBuilds = 0
  private readonly ledgers = new Map<Did, { at: number; ledger: Ledger }>()
  private readonly capacities = new Map<string, Offer>()
  private readonly attacked = new Set<AtUri>()
  private selfishSeq = 0

  constructor(readonly adv: AdversaryOptions) {
    super(adv)
    const iso = new Date(T0).toISOString()
    for (const [i, p] of [...this.peers.values()].entries()) {
      this.profiles.set(p.did, { meshlet: p.did, endpoint: 'http://127.0.0.1:1', roles: [], labels: [], capabilities: [], cpuMillis: 2000 + 250 * i, memoryMb: 2048 + 256 * i, updatedAt: iso })
    }
    this.peers.get('did:plc:peer01')!.skewMs = adv.skewMs
    this.peers.get('did:plc:peer02')!.skewMs = -adv.skewMs
    // The selfish member is properly linked and eligible; it publishes a plausible profile.
    if (adv.selfish === false) return
    this.peers.set(SELFISH, { did: SELFISH, owner: SELFISH_OWNER, view: new CommuneView(), alive: true, recovering: false, dead: new Set(), rkeySeq: 0, wakes: new Map(), skewMs: 0 })
    this.profiles.set(SELFISH, { meshlet: SELFISH, endpoint: 'http://127.0.0.1:2', roles: [], labels: [], capabilities: [], cpuMillis: 8000, memoryMb: 16384, updatedAt: iso })
  }

  isHonest(did: Did): boolean {
    return did !== SELFISH
  }

  /** A Ledger replayed from what `peer` sees now: what verifying bids and computing its own priority use. */
  ledgerOf(peer: Peer, exclude?: ReadonlySet<AtUri>, now = this.clock(peer)): Ledger {
    const keep = <T extends { uri: AtUri }>(xs: T[]) => (exclude ? xs.filter((x) => !exclude.has(x.uri)) : xs)
    return new Ledger({
      workloads: peer.view.workloads(),
      bids: keep(peer.view.allBids()),
      statuses: keep(peer.view.allStatuses()),
      profiles: [...this.profiles.values()],
      ownerOf: (m) => this.peers.get(m)?.owner,
      now,
    })
  }

  /** The peer's ledger, rebuilt when ledgerEveryMs of its virtual time passed (a full replay per evaluation is too slow at 11 x 1,000). */
  private ledgerFor(peer: Peer): Ledger {
    const cur = this.ledgers.get(peer.did)
    if (cur && this.now - cur.at < this.adv.ledgerEveryMs) return cur.ledger
    this.ledgerBuilds++
    const ledger = this.ledgerOf(peer)
    this.ledgers.set(peer.did, { at: this.now, ledger })
    return ledger
  }

  protected override verifierFor(peer: Peer): BidVerifier {
    return this.ledgerFor(peer).verifyBid
  }

  /** A capacity snapshot drawn once per (peer, workload), bounded by the peer's profile; the priority recomputed as every verifier will. */
  protected override offerFor(peer: Peer, w: Workload, truth: WorkloadTruth): Offer {
    if (!truth.feasible.has(peer.did)) return { kind: 'decline', reason: 'insufficient memory: needs 64 MiB, 10 MiB free' }
    const key = `${peer.did}|${w.uri}|${w.cid}`
    let offer = this.capacities.get(key)
    if (!offer) {
      const prof = this.profiles.get(peer.did)!
      const capacity = {
        cpuMillisFree: Math.floor(this.rng() * (prof.cpuMillis + 1)),
        memoryMbFree: Math.floor(this.rng() * (prof.memoryMb + 1)),
        loadPermille: Math.floor(this.rng() * 1001),
        onBattery: this.rng() < 0.3,
      }
      const balance = this.ledgerFor(peer).balanceAt(peer.owner, workloadEpoch(w)).balance
      const { priority } = bidPriority({ balance, capacity, totals: { cpuMillis: prof.cpuMillis, memoryMb: prof.memoryMb }, need: w.resources })
      offer = { kind: 'bid', priority, capacity }
      this.capacities.set(key, offer)
    }
    return offer
  }

  protected override evaluate(peer: Peer, uri: AtUri) {
    if (peer.did !== SELFISH) return super.evaluate(peer, uri)
    const w = peer.view.workload(uri)
    if (w && this.workloads.has(uri) && !this.attacked.has(`${uri}|${w.cid}`)) {
      this.attacked.add(`${uri}|${w.cid}`)
      this.attack(w)
    }
    return undefined
  }

  /** Publish records in the selfish repo (never applied to any view but through the network). */
  private selfishPut(events: RecordEvent[]): void {
    for (const e of events) this.selfishUris.add(e.uri)
    this.broadcast(SELFISH, events)
  }

  private selfishBid(w: Pick<Workload, 'uri' | 'cid' | 'resources' | 'createdAt'>, createdAt: string): Bid {
    const rkey = `3s${String(++this.selfishSeq).padStart(11, '0')}`
    const uri = `at://${SELFISH}/${NSID.bid}/${rkey}`
    // Maximum priority with a capacity well within its published totals: plausible, but not what anyone recomputes.
    return { uri, cid: `bafysb${this.selfishSeq}`, meshlet: SELFISH, rkey, workload: { uri: w.uri, cid: w.cid }, priority: 1000, capacity: { cpuMillisFree: 4000, memoryMbFree: 8000, loadPermille: 0, onBattery: false, thermal: 'nominal' }, epoch: workloadEpoch(w), resources: w.resources, createdAt }
  }

  private status(rkey: string, w: Pick<Workload, 'uri' | 'cid'>, fields: Omit<WorkloadStatus, 'uri' | 'meshlet' | 'workload'>): RecordEvent {
    const uri = `at://${SELFISH}/${NSID.workloadStatus}/${rkey}`
    const value: WorkloadStatus = { uri, meshlet: SELFISH, workload: { uri: w.uri, cid: w.cid }, cid: `bafyss${++this.selfishSeq}`, ...fields }
    return { op: 'put', uri, did: SELFISH, collection: NSID.workloadStatus, rkey, cid: value.cid!, record: { collection: NSID.workloadStatus, value } }
  }

  private bidEvent(b: Bid): RecordEvent {
    return { op: 'put', uri: b.uri, did: SELFISH, collection: NSID.bid, rkey: b.rkey, cid: b.cid, record: { collection: NSID.bid, value: b } }
  }

  /** Everything the selfish peer does about one workload, on first sight. */
  private attack(w: Workload): void {
    const iso = new Date(this.now).toISOString()
    const canonical = statusRkey(w.uri)
    const bid = this.selfishBid(w, iso)
    // 1. the maximum bid; 2. a claim at the canonical rkey backed by no bid at all, at 1e6.
    const nothing = { uri: `at://${SELFISH}/${NSID.bid}/3nothing${this.selfishSeq}`, cid: 'bafynothing' }
    const claim = { state: 'pending' as const, bid: nothing, priority: 1_000_000, replica: 0, startedAt: iso, updatedAt: iso }
    const spam: RecordEvent[] = []
    for (let i = 0; i < SPAM_PER_WORKLOAD; i++) {
      spam.push(this.status(`spam${this.selfishSeq}x${i}`, w, { state: 'running', bid: { uri: bid.uri, cid: bid.cid }, priority: 1000, replica: i % Math.max(1, w.replicas), startedAt: iso, updatedAt: iso }))
    }
    this.selfishPut([this.bidEvent(bid), this.status(canonical, w, claim), ...spam])
    // 3. it "runs" its claim, and (batch) forges completions of every replica after the honest
    // winners started, so a runner that believed it would stop its job and the slot would count as done.
    this.queue.push(this.now + 1500, {
      kind: 'call',
      fn: () => {
        const at = new Date(this.now).toISOString()
        this.selfishPut([this.status(canonical, w, { ...claim, state: 'running', updatedAt: at })])
        if (w.kind !== 'batch') return
        const forged: RecordEvent[] = [this.status(canonical, w, { ...claim, state: 'exited', exitCode: 0, message: 'exited 0', updatedAt: at })]
        for (let r = 0; r < w.replicas; r++) {
          forged.push(this.status(`done${this.selfishSeq}r${r}`, w, { state: 'exited', exitCode: 0, bid: { uri: bid.uri, cid: bid.cid }, priority: 1000, replica: r, startedAt: iso, updatedAt: at }))
        }
        this.selfishPut(forged)
      },
    })
  }

  /**
   * Epoch-0 history, known to every peer before the run: honest batch jobs run by members for other
   * owners (valid bids: balances differ per owner, so priorities do), and FORGED_STATUSES forged
   * statuses of the selfish peer claiming it ran the victim's jobs for hours.
   */
  seedHistory(jobs: number): void {
    const events: RecordEvent[] = []
    const honest = [...this.peers.values()].filter((p) => this.isHonest(p.did))
    const victimJobs: Workload[] = []
    for (let j = 0; j < jobs; j++) {
      const owner = `did:plc:owner${j % 5}`
      const rkey = `h${String(j).padStart(5, '0')}`
      const uri = `at://${owner}/${NSID.workload}/${rkey}`
      const created = 60_000 * (1 + j)
      const w: Workload = {
        uri, cid: `bafyh${j}`, owner, rkey, name: `history-${j}`, image: 'meshlet/busybox:test', replicas: 1,
        resources: { cpuMillis: 250 * (1 + (j % 4)), memoryMb: 256 * (1 + (j % 3)) }, env: [], kind: 'batch', restart: { policy: 'never' },
        constraints: { roles: [], labels: [], capabilities: [], members: [], privacy: 'shared' }, bidWindowMs: 1500, delivery: 'at-most-once', createdAt: new Date(created).toISOString(),
      }
      if (owner === VICTIM) victimJobs.push(w)
      events.push({ op: 'put', uri, did: owner, collection: NSID.workload, rkey, cid: w.cid, record: { collection: NSID.workload, value: w } })
      // Runner: an honest peer of another owner; its bid verifies at epoch 0 (every balance is 0 there).
      const runner = honest.filter((p) => p.owner !== owner)[(j * 7) % (honest.length - 2)]
      const prof = this.profiles.get(runner.did)!
      const capacity = { cpuMillisFree: prof.cpuMillis, memoryMbFree: prof.memoryMb, loadPermille: 100, onBattery: false }
      const { priority } = bidPriority({ balance: 0n, capacity, totals: prof, need: w.resources })
      const bRkey = `3h${String(j).padStart(11, '0')}`
      const bUri = `at://${runner.did}/${NSID.bid}/${bRkey}`
      const bid: Bid = { uri: bUri, cid: `bafyhb${j}`, meshlet: runner.did, rkey: bRkey, workload: { uri, cid: w.cid }, priority, capacity, epoch: 0, resources: w.resources, createdAt: w.createdAt }
      events.push({ op: 'put', uri: bUri, did: runner.did, collection: NSID.bid, rkey: bRkey, cid: bid.cid, record: { collection: NSID.bid, value: bid } })
      const sRkey = statusRkey(uri)
      const sUri = `at://${runner.did}/${NSID.workloadStatus}/${sRkey}`
      const st: WorkloadStatus = { uri: sUri, cid: `bafyhs${j}`, meshlet: runner.did, workload: { uri, cid: w.cid }, state: 'exited', exitCode: 0, bid: { uri: bUri, cid: bid.cid }, priority, replica: 0, startedAt: new Date(created + 2000).toISOString(), updatedAt: new Date(created + 2000 + 600_000 * (1 + (j % 3))).toISOString() }
      events.push({ op: 'put', uri: sUri, did: runner.did, collection: NSID.workloadStatus, rkey: sRkey, cid: st.cid!, record: { collection: NSID.workloadStatus, value: st } })
    }
    // The forged statuses: one per victim job at the canonical rkey (backed by an inflated bid),
    // the rest under other rkeys, half backed by a bid that does not exist; each "ran" all of epoch 0.
    const forged: RecordEvent[] = []
    for (let i = 0; i < (this.peers.has(SELFISH) ? FORGED_STATUSES : 0); i++) {
      const w = victimJobs[i % victimJobs.length]
      const canonical = i < victimJobs.length
      const bid = this.selfishBid(w, w.createdAt)
      if (i % 2 === 0) forged.push(this.bidEvent(bid))
      const backing = i % 2 === 0 ? { uri: bid.uri, cid: bid.cid } : { uri: `at://${SELFISH}/${NSID.bid}/3gone${i}`, cid: 'bafygone' }
      const e = this.status(canonical ? statusRkey(w.uri) : `forged${i}`, w, { state: 'running', bid: backing, priority: 1000, replica: 0, startedAt: new Date(1000).toISOString(), updatedAt: new Date(EPOCH_MS - 1000).toISOString() })
      forged.push(e)
      this.forgedUris.push(e.uri)
    }
    for (const e of forged) this.selfishUris.add(e.uri)
    for (const e of [...events, ...forged]) {
      if (e.op === 'put') this.published.set(e.uri, e)
      for (const p of this.peers.values()) if (p.did !== SELFISH) p.view.apply(e, this.clock(p))
    }
  }

  /** Publish workload `index` at `at`; the selfish member is eligible for it but can run nothing. */
  addWorkload(at: number, index: number, replicas: number, kind: Workload['kind']): void {
    this.publishWorkload(at, index, replicas, kind)
    this.queue.push(at, {
      kind: 'call',
      fn: () => {
        const uri = `at://did:plc:owner${index % 5}/${NSID.workload}/w${String(index).padStart(6, '0')}`
        this.workloads.get(uri)!.feasible.delete(SELFISH)
      },
    })
  }
}
