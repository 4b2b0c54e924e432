// `meshlet explain`: the placement of one workload recomputed from public records alone, by anyone.
// It reads the repos a peer of the owner's cluster would follow, builds the same CommuneView, and
// runs the same pure core functions every peer runs, so its answer is theirs: who holds which
// replica, every bid with its validity and recomputed priority, the ledger behind the priorities.
import { volumeHolders } from '../core/volumes.js'
import { buildClusterGraph, type ClusterGraph } from '../core/cluster.js'
import { eligibility, type Exclusion } from '../core/eligibility.js'
import { Ledger, workloadEpoch, type StatusAccount } from '../core/ledger.js'
import { resolvePlacement } from '../core/placement.js'
import type { BidOutcome } from '../core/selection.js'
import { CommuneView } from '../core/view.js'
import type { AtUri, Did, Profile, Workload, WorkloadStatus } from '../core/types.js'
import { describeError } from '../errors.js'
import type { PublicRecordReader } from '../ports/public-records.js'

export interface ExplainOptions {
  /** Repos read at most (the owner's cluster and their meshlets). */
  maxRepos?: number
  /** Rounds of "read, rebuild the graph, read what it adds". */
  maxRounds?: number
  /** Repos read at once. */
  concurrency?: number
  /** Wall-clock time of the reading (epoch ms): stands in for receipt time, see Explanation.liveness. */
  now: number
}

export interface ExplainedHolder {
  meshlet: Did
  owner: Did | undefined
  replica: number | undefined
  state: WorkloadStatus['state']
  status: AtUri
}

/** One bid record of the workload, checked the way every peer checks it. */
export interface ExplainedBid {
  meshlet: Did
  uri: AtUri
  /** The priority the bid publishes (absent on a decline). */
  priority?: number
  decline?: string
  /** Whether the published priority and its inputs hold up; the reason when they do not. */
  verified: boolean
  problem?: string
  /** The priority recomputed from public records, with its parts, when it could be. */
  recomputed?: { priority: number; fairShare: number; fit: number; epoch: number; balance: string }
}

/** An owner's ledger balance (unit-seconds; decimal strings, since they are integers of any size). */
export interface ExplainedBalance {
  owner: Did
  epoch: number
  contributed: string
  consumed: string
  balance: string
}

export interface Explanation {
  uri: AtUri
  workload?: Workload
  /** Why the workload record is rejected, when it is. */
  rejection?: string
  /** Repos read, sorted. */
  repos: Did[]
  /** Repos that could not be read, with why: the answer may then differ from a peer's. */
  unreadable: { did: Did; reason: string }[]
  holders: ExplainedHolder[]
  /** One outcome per meshlet that bid, declined or holds a status, plus ignored records: the reasons peers show. */
  outcomes: BidOutcome[]
  /** Meshlets of the cluster that may not run it, with why. */
  excluded: Exclusion[]
  openSlots: number
  queued: boolean
  /** Every bid and decline on record for the workload, with its check. */
  bids: ExplainedBid[]
  /** Balances at the workload's epoch of the owners behind its bids and of the workload's owner. */
  balances: ExplainedBalance[]
  /** Why each status about this workload counts in the ledger, or not. */
  ledger: StatusAccount[]
  /** How liveness was judged: a reader of public records has no receipt history. */
  liveness: string
}

/** Reads the owner's cluster from public records, then explains the workload at `uri`. */
export async function explainWorkload(uri: AtUri, reader: PublicRecordReader, opts: ExplainOptions): Promise<Explanation> {
  const owner = ownerOf(uri)
  const { view, graph, repos, unreadable } = await readCluster(owner, reader, opts)
  return explainFromView(uri, view, graph, { repos, unreadable, now: opts.now })
}

/** The DID in an at:// workload URI. */
export function ownerOf(uri: AtUri): Did {
  const m = /^at:\/\/(did:[a-z]+:[A-Za-z0-9._:%-]+)\/commune\.scheduler\.workload\/[A-Za-z0-9._:~-]+$/.exec(uri)
  if (!m) throw new ExplainInputError(uri)
  return m[1]!
}

export class ExplainInputError extends Error {
  constructor(readonly uri: string) {
    super(`"${uri}" is not a workload URI: expected at://<owner did>/commune.scheduler.workload/<rkey>`)
    this.name = 'ExplainInputError'
  }
}

/** The owner's cluster from public records: the view and graph a peer of that cluster would build (also `meshlet advise` and `meshlet secret`). */
export async function readCluster(owner: Did, reader: PublicRecordReader, opts: ExplainOptions) {
  const view = new CommuneView()
  const read = new Set<Did>()
  const unreadable: { did: Did; reason: string }[] = []
  const maxRepos = opts.maxRepos ?? 512
  let graph = buildClusterGraph({ links: [], owners: [], memberships: [] })
  let frontier: Did[] = [owner]
  for (let round = 0; round < (opts.maxRounds ?? 6) && frontier.length > 0; round++) {
    for (const did of frontier) read.add(did)
    await forEachLimited(frontier, opts.concurrency ?? 8, async (did) => {
      try {
        for (const event of await reader.readRepo(did)) view.apply(event, opts.now)
      } catch (err) {
        unreadable.push({ did, reason: describeError(err) })
      }
    })
    graph = buildClusterGraph({ links: view.links(), owners: view.owners(), memberships: view.memberships() })
    frontier = graph.trackedRepos(owner, [], maxRepos).filter((d) => !read.has(d))
  }
  unreadable.sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0))
  return { view, graph, repos: [...read].sort(), unreadable }
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
}

/**
 * The computation, given the records: eligibility with every meshlet that has a profile taken as
 * alive (no receipt history exists for a reader of public records), then placement exactly as a
 * peer computes it.
 */
export function explainFromView(uri: AtUri, view: CommuneView, graph: ClusterGraph, ctx: { repos: Did[]; unreadable: { did: Did; reason: string }[]; now: number }): Explanation {
  const base = { uri, repos: ctx.repos, unreadable: ctx.unreadable, liveness: LIVENESS_NOTE }
  const workload = view.workload(uri)
  if (!workload) {
    const rejection = view.rejection(uri)?.reason ?? 'no such record in the owner\'s repo'
    return { ...base, rejection, holders: [], outcomes: [], excluded: [], openSlots: 0, queued: false, bids: [], balances: [], ledger: [] }
  }
  const profiles = new Map<Did, Profile>(view.profiles().map((p) => [p.meshlet, p]))
  // Every meshlet with a profile counts as heard from just now (see LIVENESS_NOTE).
  const elig = eligibility({ workload, graph, profiles, monoNow: 0, lastReceived: (m) => (profiles.has(m) ? 0 : undefined), defaultLeaseMs: 1 })
  // The same replay of the ledger a peer builds each pass, from the same kinds of records.
  const ledger = new Ledger({ workloads: view.workloads(), bids: view.allBids(), statuses: view.allStatuses(), profiles: view.profiles(), ownerOf: (m) => graph.ownerOf(m), now: ctx.now })
  const bidRecords = view.bidsFor(uri)
  const placement = resolvePlacement(workload, bidRecords, view.statusesFor(uri), elig.electorate, ledger.verifyBid, elig.electorate, volumeHolders(workload, view.profiles()))
  const holders = placement.kept.map((s) => ({ meshlet: s.meshlet, owner: graph.ownerOf(s.meshlet), replica: s.replica, state: s.state, status: s.uri }))
  const bids: ExplainedBid[] = bidRecords
    .filter((b) => b.workload.cid === workload.cid)
    .sort((a, b) => (a.meshlet < b.meshlet ? -1 : a.meshlet > b.meshlet ? 1 : a.rkey < b.rkey ? -1 : 1))
    .map((b) => {
      if (b.decline !== undefined) return { meshlet: b.meshlet, uri: b.uri, decline: b.decline, verified: true }
      const c = ledger.verifyBid.check(b)
      const recomputed = c.parts ? { priority: c.parts.priority, fairShare: c.parts.fairShare, fit: c.parts.fit, epoch: c.ok ? c.epoch : workloadEpoch(workload), balance: String(c.ok ? c.balance : '?') } : undefined
      return { meshlet: b.meshlet, uri: b.uri, priority: b.priority, verified: c.ok, ...(c.ok ? {} : { problem: c.reason }), ...(recomputed ? { recomputed } : {}) }
    })
  const epoch = workloadEpoch(workload)
  const owners = [...new Set([workload.owner, ...bids.map((b) => graph.ownerOf(b.meshlet)).filter((o): o is Did => o !== undefined)])].sort()
  const balances = owners.map((owner) => {
    const b = ledger.balanceAt(owner, epoch)
    return { owner, epoch, contributed: String(b.contributed), consumed: String(b.consumed), balance: String(b.balance) }
  })
  const statusUris = new Set(view.statusesFor(uri).map((s) => s.uri))
  const accounts = ledger.statusAccounts().filter((a) => statusUris.has(a.status))
  return { ...base, workload, holders, outcomes: placement.outcomes, excluded: elig.excluded, openSlots: placement.openSlots, queued: placement.queued, bids, balances, ledger: accounts }
}

export const LIVENESS_NOTE =
  'every meshlet with a profile is taken as alive: liveness is judged by when a peer received records, which public records cannot show; a peer that lost touch with a holder may already have moved its replica'
