// The fair-share ledger, replayable (docs/protocol.md, "The ledger"): who ran whose work, from
// public records only, in integers, at fixed epoch boundaries that bids name. Any peer, or
// `meshlet explain` on records fetched from PDSes, gets the same balances from the same records,
// whatever order they arrived in. Pure: the observer's `now` is a parameter.
import { resolveRun } from './runs.js'
import { verifyBid, type BidCheck } from './bid-verify.js'
import { DECAY_DEN, DECAY_NUM, DECAY_WINDOW, epochOf, epochStart } from './epoch.js'
import { statusRkey } from './hash.js'
import { dedupeByUri, rankByPriority, type BidVerifier } from './selection.js'
import { MAX_STATUS_HISTORY, claimCutoffs, claimEnd, claimKey, claimsOf, type StatusClaim } from './status-history.js'
import { NSID, type AtUri, type Bid, type Cid, type Did, type Profile, type Resources, type Workload, type WorkloadStatus } from './types.js'

export * from './epoch.js'

/** Replica numbers a claim may name when the workload version is not on record (the lexicon's bound). */
export const MAX_REPLICAS = 64

/** Units of one replica, in thousandths: 1 core or 1 GiB = 1000. cpuMillis + floor(memoryMb x 1000 / 1024). */
export function unitsMilli(r: Pick<Resources, 'cpuMillis' | 'memoryMb'>): number {
  return r.cpuMillis + Math.floor((r.memoryMb * 1000) / 1024)
}

/**
 * Unit-seconds of `units` (milli-units) over [start, end) (epoch ms), per epoch:
 * floor(units x overlapMs / 1 000 000) for each epoch the interval overlaps. (The product stays
 * below 2^53: units <= ~1.8e7 by the lexicon, overlap <= 3.6e6.)
 */
export function usagePerEpoch(units: number, start: number, end: number): [epoch: number, unitSeconds: number][] {
  const out: [number, number][] = []
  if (!(end > start)) return out
  for (let j = epochOf(start); epochStart(j) < end; j++) {
    const overlap = Math.min(end, epochStart(j + 1)) - Math.max(start, epochStart(j))
    const u = Math.floor((units * overlap) / 1_000_000)
    if (u > 0) out.push([j, u])
  }
  return out
}

// Below this, x * DECAY_NUM is exact in a double; above it the recursion switches to BigInt.
const FAST_MAX = 2 ** 37
const FAST_MAX_BIG = BigInt(FAST_MAX)

function decaySteps(x: number | bigint, steps: number): number | bigint {
  for (let i = 0; i < steps; i++) {
    if (typeof x === 'number') {
      if (x === 0) return 0
      x = Math.floor((x * DECAY_NUM) / DECAY_DEN)
    } else {
      x = (x * BigInt(DECAY_NUM)) / BigInt(DECAY_DEN)
      if (x < FAST_MAX_BIG) x = Number(x)
    }
  }
  return x
}

/** One decay step: floor(x x 63670 / 65536). */
export function decayStep(x: bigint): bigint {
  return (x * BigInt(DECAY_NUM)) / BigInt(DECAY_DEN)
}

/**
 * X_k of per-epoch usage u: X = 0 at epoch k - DECAY_WINDOW, X_{j+1} = floor(X_j x 63670 / 65536) + u_j,
 * up to X_k. Usage at epochs outside [k - DECAY_WINDOW, k) is ignored.
 */
export function decayedSum(usage: ReadonlyMap<number, number>, k: number): bigint {
  const from = k - DECAY_WINDOW
  const epochs = [...usage.keys()].filter((j) => j >= from && j < k).sort((a, b) => a - b)
  let x: number | bigint = 0
  let at = from
  for (const j of epochs) {
    x = decaySteps(x, j - at + 1)
    const u = usage.get(j)!
    x = typeof x === 'number' && x + u < FAST_MAX ? x + u : BigInt(x) + BigInt(u)
    at = j + 1
  }
  return BigInt(decaySteps(x, k - at))
}

export interface Balance {
  /** Decayed unit-seconds this owner's meshlets ran OTHER owners' workloads. */
  contributed: bigint
  /** Decayed unit-seconds this owner's workloads ran on OTHER owners' meshlets. */
  consumed: bigint
  /** contributed - consumed: positive = gave more than took. */
  balance: bigint
}

/** The public records a ledger is replayed from. */
export interface LedgerRecords {
  workloads: readonly Workload[]
  bids: readonly Bid[]
  statuses: readonly WorkloadStatus[]
  profiles: readonly Profile[]
  /** A meshlet's verified owner (cluster graph). */
  ownerOf: (meshlet: Did) => Did | undefined
  /**
   * The observer's clock (epoch ms). Only its epoch matters: usage is counted up to the start of
   * that epoch (the newest boundary that has passed) and not more than 2 x DECAY_WINDOW epochs
   * before it (bounds the work a forged, ancient interval can cause). So a replay depends on the
   * records and the epoch only, and can be reused within the epoch (LedgerCache).
   */
  now: number
}

/** Why a status counts in the ledger, or why not: what `meshlet explain` shows. */
export interface StatusAccount {
  status: AtUri
  /** For a claim of the status's history: its index there, and the version it was for. */
  history?: number
  version?: Cid
  counted: boolean
  reason: string
  /** Undecayed unit-seconds credited (counted statuses). */
  unitSeconds?: number
  runnerOwner?: Did
  workloadOwner?: Did
}

interface Candidate {
  key: string
  status: WorkloadStatus
  history?: number
  cid: Cid
  bid: Bid
  epoch: number
  start: number
  end: number
  units: number
  replica: number
  runnerOwner: Did
  workloadOwner: Did
}

/** The DID a record URI lives in ("at://did/collection/rkey"). */
export function repoOf(uri: AtUri): Did {
  return uri.startsWith('at://') ? uri.slice(5).split('/')[0] : ''
}

/** [start, end) minus every interval in `cut`: the pieces left, in order. */
export function subtractIntervals(start: number, end: number, cut: readonly [number, number][]): [number, number][] {
  let pieces: [number, number][] = [[start, end]]
  for (const [a, b] of cut) {
    const next: [number, number][] = []
    for (const [s, e] of pieces) {
      if (b <= s || a >= e) next.push([s, e])
      else {
        if (a > s) next.push([s, a])
        if (b < e) next.push([b, e])
      }
    }
    pieces = next
  }
  return pieces
}

/**
 * A replayed ledger. Build one per scheduling pass (or per `meshlet explain`) from the records at
 * hand; balances are memoised per (owner, epoch) and computed lazily, epoch group by epoch group:
 * verifying a bid that names epoch k needs balances at k, which count only statuses whose bids name
 * epochs < k (usage starts at the bid's epoch), so the recursion is well founded.
 */
export class Ledger {
  /** Bid verifier over this ledger's balances (the BidVerifier selection/placement/decide take), memoised per bid. */
  readonly verifyBid: BidVerifier & { check(bid: Bid): BidCheck }
  private readonly workloads = new Map<AtUri, Workload>()
  private readonly profiles = new Map<Did, Profile>()
  private readonly groups = new Map<number, Candidate[]>()
  private readonly groupEpochs: number[]
  private nextGroup = 0
  private readonly contributed = new Map<Did, Map<number, number>>()
  private readonly consumed = new Map<Did, Map<number, number>>()
  private readonly memo = new Map<string, Balance>()
  // appview (issue 15): energy cost; CPU milli-core-ms per owner, undecayed, over the counted intervals
  private readonly cpu = new Map<Did, { contributed: bigint; consumed: bigint }>()
  private readonly accounts = new Map<AtUri, StatusAccount>()
  private readonly floor: number
  private readonly horizon: number
  private readonly now: number

  constructor(records: LedgerRecords) {
    this.now = records.now
    this.horizon = epochStart(epochOf(records.now))
    this.floor = epochStart(epochOf(records.now) - 2 * DECAY_WINDOW)
    for (const w of records.workloads) this.workloads.set(w.uri, w)
    for (const p of records.profiles) this.profiles.set(p.meshlet, p)
    const bids = new Map<AtUri, Bid>()
    for (const b of dedupeByUri(records.bids)) bids.set(b.uri, b)
    const ownerOf = records.ownerOf
    this.verifyBid = verifyBid({
      workload: (uri) => this.workloads.get(uri) ?? resolveRun((u) => this.workloads.get(u), uri), // when: runs of schedules
      profile: (m) => this.profiles.get(m),
      ownerOf,
      balanceAt: (o, e) => this.balanceAt(o, e).balance,
    })
    const rkeys = new Map<AtUri, string>()
    for (const s of dedupeByUri(records.statuses)) {
      const problem = this.statusProblem(s, rkeys)
      if (problem) {
        this.accounts.set(s.uri, { status: s.uri, counted: false, reason: problem })
        continue
      }
      const claims = claimsOf(s)
      const cutoffs = claimCutoffs(claims)
      claims.forEach((claim, i) => {
        const c = this.candidate(claim, cutoffs[i], bids, ownerOf)
        if (typeof c === 'string') this.accounts.set(claimKey(claim), { ...about(claim), counted: false, reason: c })
        else {
          const g = this.groups.get(c.epoch)
          if (g) g.push(c)
          else this.groups.set(c.epoch, [c])
        }
      })
    }
    this.groupEpochs = [...this.groups.keys()].sort((a, b) => a - b)
  }

  /** Checks of the status record as a whole, or why none of its claims counts. */
  private statusProblem(s: WorkloadStatus, rkeys: Map<AtUri, string>): string | undefined {
    const wUri = s.workload?.uri
    if (!wUri) return 'status names no workload'
    let rkey = rkeys.get(wUri)
    if (rkey === undefined) rkeys.set(wUri, (rkey = statusRkey(wUri)))
    const canonical = `at://${s.meshlet}/${NSID.workloadStatus}/${rkey}`
    if (s.uri !== canonical) return `status at ${s.uri}, expected ${canonical}`
    // The edge rejects these; the ledger also replays records fetched without it (explain).
    if (s.history !== undefined && (!Array.isArray(s.history) || s.history.length > MAX_STATUS_HISTORY)) return `its history holds more than ${MAX_STATUS_HISTORY} versions`
    return undefined
  }

  /**
   * Structural checks of one claim (everything but its bid's verification), or why it does not
   * count. `cutoff`: where the status's next claim starts (its claims never earn at once).
   */
  private candidate(claim: StatusClaim, cutoff: number, bids: Map<AtUri, Bid>, ownerOf: (m: Did) => Did | undefined): Candidate | string {
    const s = claim.status
    const wUri = s.workload.uri
    const bid = claim.bid ? bids.get(claim.bid.uri) : undefined
    if (!bid) return 'claim without a bid'
    if (bid.meshlet !== s.meshlet || repoOf(bid.uri) !== s.meshlet) return `its bid ${bid.uri} is not this meshlet's`
    if (bid.decline !== undefined) return 'its bid is a decline'
    if (bid.workload?.uri !== wUri || bid.workload.cid !== claim.cid) return 'its bid is for another workload version'
    if (claim.priority !== bid.priority) return `claim priority ${String(claim.priority)} differs from its bid's ${bid.priority}`
    if (typeof bid.epoch !== 'number' || !Number.isSafeInteger(bid.epoch) || bid.epoch < 0) return 'its bid names no ledger epoch'
    const w = this.workloads.get(wUri)
    const maxReplicas = w && w.cid === claim.cid ? w.replicas : MAX_REPLICAS
    if (typeof claim.replica !== 'number' || !Number.isSafeInteger(claim.replica) || claim.replica < 0 || claim.replica >= maxReplicas) {
      return `replica ${String(claim.replica)} is not in [0, ${maxReplicas})`
    }
    const workloadOwner = repoOf(wUri)
    const runnerOwner = ownerOf(s.meshlet)
    if (!runnerOwner) return `${s.meshlet} has no verified owner`
    if (runnerOwner === workloadOwner) return 'its owner ran its own workload (not counted)'
    const r = bid.resources
    if (!r || !(r.cpuMillis >= 0) || !(r.memoryMb >= 0)) return 'its bid carries no resources'
    const started = claim.startedAt === undefined ? NaN : Date.parse(claim.startedAt)
    if (!Number.isFinite(started)) return 'never started'
    const last = claimEnd(claim)
    if (!Number.isFinite(last)) return 'updatedAt is not a date'
    const start = Math.max(started, epochStart(bid.epoch), this.floor)
    const end = Math.min(last, cutoff, this.horizon)
    if (!(end > start)) return 'empty interval'
    return { key: claimKey(claim), status: s, history: claim.history, cid: claim.cid, bid, epoch: bid.epoch, start, end, units: unitsMilli(r), replica: claim.replica, runnerOwner, workloadOwner }
  }

  /** Process every epoch group below k (each needs balances at its own epoch only). */
  private ensureBelow(k: number): void {
    while (this.nextGroup < this.groupEpochs.length && this.groupEpochs[this.nextGroup] < k) {
      const e = this.groupEpochs[this.nextGroup++]
      this.processGroup(this.groups.get(e)!)
    }
  }

  private processGroup(group: Candidate[]): void {
    // Claims for one replica number of one workload version: a higher-ranked claim shadows the
    // lower ones for as long as it runs, so a non-winner claiming beside the holder earns nothing.
    const slots = new Map<string, Candidate[]>()
    for (const c of group) {
      const check = this.verifyBid.check(c.bid)
      if (!check.ok) {
        this.accounts.set(c.key, { ...about(c), counted: false, reason: `its bid is invalid: ${check.reason}` })
        continue
      }
      const key = `${c.status.workload.uri}\n${c.cid}\n${c.replica}`
      const list = slots.get(key)
      if (list) list.push(c)
      else slots.set(key, [c])
    }
    for (const list of slots.values()) {
      const ranked = rankByPriority(list, list[0].cid, (c) => c.status.meshlet, (c) => c.bid.priority)
      const above: [number, number][] = []
      for (const c of ranked) {
        const pieces = subtractIntervals(c.start, c.end, above)
        above.push([c.start, c.end])
        let total = 0
        for (const [s, e] of pieces) {
          addCpu(this.cpu, c.runnerOwner, c.workloadOwner, BigInt(c.bid.resources?.cpuMillis ?? 0) * BigInt(e - s)) // appview (issue 15): energy
          for (const [j, u] of usagePerEpoch(c.units, s, e)) {
            add(this.contributed, c.runnerOwner, j, u)
            add(this.consumed, c.workloadOwner, j, u)
            total += u
          }
        }
        const shadowed = pieces.length === 1 && pieces[0][0] === c.start && pieces[0][1] === c.end ? '' : `, shadowed in part by a higher-ranked claim on replica ${c.replica}`
        this.accounts.set(c.key, {
          ...about(c),
          counted: total > 0,
          reason: total > 0 ? `counts ${total} unit-seconds${shadowed}` : `a higher-ranked claim holds replica ${c.replica} for its whole interval`,
          unitSeconds: total,
          runnerOwner: c.runnerOwner,
          workloadOwner: c.workloadOwner,
        })
      }
    }
  }

  /** An owner's balance at the boundary of epoch k: usage strictly before k x EPOCH_MS, decayed. */
  balanceAt(owner: Did, k: number): Balance {
    const key = `${owner}\n${k}`
    let b = this.memo.get(key)
    if (b) return b
    this.ensureBelow(k)
    const contributed = decayedSum(this.contributed.get(owner) ?? EMPTY, k)
    const consumed = decayedSum(this.consumed.get(owner) ?? EMPTY, k)
    b = { contributed, consumed, balance: contributed - consumed }
    this.memo.set(key, b)
    return b
  }

  /** Balance at the current epoch's boundary (the newest one that cannot change any more). */
  currentBalance(owner: Did): Balance {
    return this.balanceAt(owner, epochOf(this.now))
  }

  /** Every owner with usage on record, sorted, with its balance at epoch k. */
  balances(k: number): Map<Did, Balance> {
    this.ensureBelow(Infinity)
    const owners = [...new Set([...this.contributed.keys(), ...this.consumed.keys()])].sort()
    return new Map(owners.map((o) => [o, this.balanceAt(o, k)]))
  }

  /** appview (issue 15): CPU core-ms an owner's meshlets gave others, and its workloads took on others' (every counted interval, undecayed). */
  cpuUse(owner: Did): { contributedCoreMs: bigint; consumedCoreMs: bigint } {
    this.ensureBelow(Infinity)
    const u = this.cpu.get(owner)
    return { contributedCoreMs: (u?.contributed ?? 0n) / 1000n, consumedCoreMs: (u?.consumed ?? 0n) / 1000n }
  }

  /** Why each status counts or not (all epoch groups replayed). */
  statusAccounts(): StatusAccount[] {
    this.ensureBelow(Infinity)
    const key = (a: StatusAccount) => (a.history === undefined ? a.status : `${a.status}#history[${a.history}]`)
    return [...this.accounts.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  }
}

const EMPTY: ReadonlyMap<number, number> = new Map()

/** Which claim an account is about: the status, and for a history entry its index and version. */
function about(c: { status: WorkloadStatus; history?: number; cid: Cid }): Pick<StatusAccount, 'status' | 'history' | 'version'> {
  return c.history === undefined ? { status: c.status.uri } : { status: c.status.uri, history: c.history, version: c.cid }
}

function add(map: Map<Did, Map<number, number>>, owner: Did, epoch: number, u: number): void {
  let m = map.get(owner)
  if (!m) map.set(owner, (m = new Map()))
  m.set(epoch, (m.get(epoch) ?? 0) + u)
}

/** appview (issue 15): milli-core-ms of one counted piece, to the runner's owner and the workload's. */
function addCpu(map: Map<Did, { contributed: bigint; consumed: bigint }>, runner: Did, owner: Did, milliCoreMs: bigint): void {
  const get = (d: Did) => map.get(d) ?? (map.set(d, { contributed: 0n, consumed: 0n }), map.get(d)!)
  get(runner).contributed += milliCoreMs
  get(owner).consumed += milliCoreMs
}
