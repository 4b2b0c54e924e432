// One peer's in-memory picture of the commune: the latest valid version of every record it
// tracks, indexed for the scheduler (bids and statuses by workload) and the cluster service.
// Pure data structure: the service layer feeds it RecordEvents; the simulation feeds it directly.
import { DroppedRecords } from './full-view.js'
import { RecordGroups, groupOf, rkeyOf } from './view-groups.js'
import { resolveRun } from './runs.js'
import { NSID, type AtUri, type Bid, type Cid, type Did, type Membership, type MeshletLink, type MeshletOwnerClaim, type Profile, type RecordEvent, type Rejection, type SecretRecord, type Workload, type WorkloadStatus } from './types.js'

export interface ViewChange {
  op: RecordEvent['op']
  collection: string
  uri: AtUri
  /** The workload this change is about: the workload itself, or the one a bid/status references (before or after the change). */
  workloadUri?: AtUri
  /** The repo the record lives in. */
  did: Did
  /** Set when this peer's bound (records or bytes) refused this record or evicted an older one: why. */
  full?: string
}

export interface ViewOptions {
  /** Most recent rejections kept (older ones are forgotten first). Default 1000. */
  maxRejections?: number
  /** Workload versions (cids) remembered per workload for firstSeen. Default 8. */
  maxVersionsPerWorkload?: number
  /**
   * Valid records held at most (all collections). When full, the repo+collection holding the most
   * records gives up its highest record key (possibly the new record itself), so a repo that
   * floods only loses its own records. Default DEFAULT_MAX_RECORDS.
   */
  maxRecords?: number
  /**
   * Approximate bytes of records held at most ({@link approxRecordBytes}). When a new record would
   * pass it, the repo+collection holding the most bytes gives up its highest record key (possibly
   * the new record itself) until it fits. Default DEFAULT_MAX_BYTES.
   */
  maxBytes?: number
}

/**
 * Sized for a commune of 10,000 live workloads: the 100-peer simulation holds ~16 records per
 * workload in every view (the workload, ~13 bids, its holders' statuses; ~22 while bids are in
 * flight), 158,164 at its largest; this leaves 2.5x for replicas, rollouts and late deliveries
 * (bench/measured.md §17).
 */
export const DEFAULT_MAX_RECORDS = 400_000
/**
 * 512 MiB of approximate record bytes: 400,000 honest records (~1.0-1.4 KB each with bookkeeping)
 * fit; records of 60 KB stop at ~8,800 instead of filling ~5.4 GB of heap at 100,000 records.
 */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024
/** (workload, repo) pairs a full view remembers it gave up at most (core/full-view.ts), oldest forgotten first. */
export const MAX_DROPPED_PAIRS = 65_536
/** Per-record bookkeeping (maps, indexes, uri) counted on top of its JSON. */
export const RECORD_OVERHEAD_BYTES = 512

/** What a record costs the view, roughly: its JSON length plus fixed overhead (heap ~ JSON size, measured). */
export function approxRecordBytes(uri: AtUri, value: unknown): number {
  let json = 0
  try {
    json = JSON.stringify(value)?.length ?? 0
  } catch {
    json = 0
  }
  return json + uri.length + RECORD_OVERHEAD_BYTES
}

/** Longest rejection reason kept (UTF-16 units); the decode edge already bounds it in bytes. */
export const MAX_REASON_CHARS = 1000

/** Two-level index: outer key -> (record uri -> record). */
class Index<T> {
  private readonly map = new Map<string, Map<AtUri, T>>()
  add(key: string, uri: AtUri, value: T): void {
    let inner = this.map.get(key)
    if (!inner) this.map.set(key, (inner = new Map()))
    inner.set(uri, value)
  }
  remove(key: string, uri: AtUri): void {
    const inner = this.map.get(key)
    if (!inner) return
    inner.delete(uri)
    if (inner.size === 0) this.map.delete(key)
  }
  get(key: string): T[] {
    const inner = this.map.get(key)
    return inner ? [...inner.values()] : []
  }
}

/**
 * Records are keyed by uri: a put replaces (a newer version), a delete removes, and a `rejected`
 * event removes any previous valid version at that uri and records the Rejection (a record that
 * became invalid stops being scheduled). Bids and statuses are indexed by workload uri (and
 * statuses by meshlet), so lookups stay O(records of that workload) with thousands of workloads.
 */
export class CommuneView {
  private readonly workloadsByUri = new Map<AtUri, Workload>()
  private readonly bidsByUri = new Map<AtUri, Bid>()
  private readonly statusesByUri = new Map<AtUri, WorkloadStatus>()
  private readonly linksByUri = new Map<AtUri, MeshletLink>()
  private readonly ownersByUri = new Map<AtUri, MeshletOwnerClaim>()
  private readonly membershipsByUri = new Map<AtUri, Membership>()
  private readonly profilesByUri = new Map<AtUri, Profile>()
  private readonly profileUriByMeshlet = new Map<Did, AtUri>()
  private readonly bidIndex = new Index<Bid>()
  private readonly statusIndex = new Index<WorkloadStatus>()
  private readonly statusByMeshlet = new Index<WorkloadStatus>()
  private readonly firstSeenAt = new Map<AtUri, Map<Cid, number>>()
  private readonly rejected = new Map<AtUri, Rejection>()
  // Secrets (issue 13): sealed secret records, by uri (at://owner/commune.scheduler.secret/name).
  private readonly secretsByUri = new Map<AtUri, SecretRecord>()
  /** Repos whose bids/statuses about a workload the caps gave up (core/full-view.ts). */
  private readonly dropped: DroppedRecords
  /** "at://did/collection" -> uris held (with their approximate bytes): the unit the caps take from. */
  private readonly groups = new RecordGroups()
  /** Records the caps gave up so far (refused, or evicted for another). */
  private given = 0
  private readonly maxBytes: number
  private readonly maxRejections: number
  private readonly maxVersions: number
  private readonly maxRecords: number

  constructor(opts: ViewOptions = {}) {
    this.maxRejections = Math.max(0, opts.maxRejections ?? 1000)
    this.maxVersions = Math.max(1, opts.maxVersionsPerWorkload ?? 8)
    this.maxRecords = Math.max(1, opts.maxRecords ?? DEFAULT_MAX_RECORDS)
    this.maxBytes = Math.max(1, opts.maxBytes ?? DEFAULT_MAX_BYTES)
    // Its own bound, apart from the records': a flood of bids about made-up workloads must not
    // grow it to maxRecords entries outside the byte bound (~100 B a pair: ~6 MB at most).
    this.dropped = new DroppedRecords(Math.min(this.maxRecords, MAX_DROPPED_PAIRS))
  }

  /** Apply one record event seen at `seenAt` (epoch ms). Unknown collections are ignored (reported as a change all the same). */
  apply(event: RecordEvent, seenAt: number): ViewChange {
    const change: ViewChange = { op: event.op, collection: event.collection, uri: event.uri, did: event.did }
    if (event.op === 'put') {
      const rec = event.record
      change.collection = rec.collection
      // Drop the previous version first so the indexes never keep a stale entry (a bid may be
      // re-pointed); a mismatched event collection only happens in a corrupt stream.
      const before = this.remove(rec.collection, event.uri)
      if (event.collection !== rec.collection) this.remove(event.collection, event.uri)
      if (before) change.workloadUri = before
      this.rejected.delete(event.uri)
      const bytes = approxRecordBytes(event.uri, rec.value)
      const room = this.admit(event.uri, bytes)
      if (room.full) change.full = room.full
      if (room.refused) {
        this.noteRejection(event.uri, event.did, rec.collection, room.full!)
        if (rec.collection === NSID.bid || rec.collection === NSID.workloadStatus) this.dropped.note(rec.value.workload?.uri, event.did)
        return change
      }
      this.groups.hold(event.uri, bytes)
      switch (rec.collection) {
        case NSID.workload: {
          this.workloadsByUri.set(event.uri, rec.value)
          this.noteSeen(event.uri, rec.value.cid, seenAt)
          change.workloadUri = event.uri
          break
        }
        case NSID.bid:
          this.bidsByUri.set(event.uri, rec.value)
          this.bidIndex.add(rec.value.workload.uri, event.uri, rec.value)
          change.workloadUri = rec.value.workload.uri
          break
        case NSID.workloadStatus:
          this.statusesByUri.set(event.uri, rec.value)
          this.statusIndex.add(rec.value.workload.uri, event.uri, rec.value)
          this.statusByMeshlet.add(rec.value.meshlet, event.uri, rec.value)
          change.workloadUri = rec.value.workload.uri
          break
        case NSID.meshlet:
          this.linksByUri.set(event.uri, rec.value)
          break
        case NSID.meshletOwner:
          this.ownersByUri.set(event.uri, rec.value)
          break
        case NSID.membership:
          this.membershipsByUri.set(event.uri, rec.value)
          break
        case NSID.profile:
          this.profilesByUri.set(event.uri, rec.value)
          this.profileUriByMeshlet.set(rec.value.meshlet, event.uri)
          break
        case NSID.secret:
          this.secretsByUri.set(event.uri, rec.value)
          break
      }
      return change
    }
    const before = this.remove(event.collection, event.uri)
    if (before) change.workloadUri = before
    if (event.collection === NSID.workload) {
      change.workloadUri = event.uri
      // A rejected version is not scheduled either: keeping its firstSeen entries would let a
      // stream of invalid workloads grow this map without bound.
      this.firstSeenAt.delete(event.uri)
      this.dropped.forget(event.uri)
    }
    if (event.op === 'rejected') this.noteRejection(event.uri, event.did, event.collection, event.reason)
    else this.rejected.delete(event.uri)
    return change
  }

  private noteRejection(uri: AtUri, did: Did, collection: string, reason: string): void {
    this.rejected.delete(uri) // re-insert at the end: most recent last
    // Capped in size as well as count: a reason may echo a hostile value.
    const text = typeof reason === 'string' && reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}...` : String(reason)
    this.rejected.set(uri, { uri, did, collection, reason: text })
    while (this.rejected.size > this.maxRejections) {
      const oldest = this.rejected.keys().next().value as AtUri
      this.rejected.delete(oldest)
    }
  }

  /**
   * Room for a new record at `uri` of `bytes`, or why not. Over either cap (records, approximate
   * bytes), the group that holds the most of what is over (records, or bytes; the new record
   * counted in its own group; ties: the smaller key) gives up its highest record key: the new
   * record itself (refused), or an older one (evicted, remembered as a rejection), until the new
   * record fits. Honest repos hold few, small records, so a flood costs its sender. `full` says why
   * whenever anything was given up; `refused` when it was the new record.
   */
  private admit(uri: AtUri, bytes: number): { refused: boolean; full?: string } {
    const own = groupOf(uri)
    let full: string | undefined
    for (;;) {
      const overCount = this.groups.held >= this.maxRecords
      const overBytes = this.groups.heldBytes + bytes > this.maxBytes
      if (!overCount && !overBytes) return full === undefined ? { refused: false } : { refused: false, full }
      const measure = (key: string): number =>
        overCount ? this.groups.count(key) + (key === own ? 1 : 0) : this.groups.bytes(key) + (key === own ? bytes : 0)
      let victim = own
      let victimSize = measure(own)
      for (const key of this.groups.keys()) {
        const size = measure(key)
        if (size > victimSize || (size === victimSize && key < victim)) {
          victim = key
          victimSize = size
        }
      }
      const held = this.groups.top(victim)
      const top = victim === own && (held === undefined || rkeyOf(uri) > rkeyOf(held)) ? uri : held
      const reason = overCount
        ? `this peer holds its limit of ${this.maxRecords} records and ${victim.slice('at://'.length)} holds the most (${victimSize}); its records with the highest keys are not kept`
        : `this peer holds its limit of ${this.maxBytes} record bytes and ${victim.slice('at://'.length)} holds the most (${victimSize} bytes); its records with the highest keys are not kept`
      full = reason
      this.given++
      if (top === uri) return { refused: true, full }
      const [, , did, collection] = top!.split('/') as [string, string, Did, string]
      const about = this.remove(collection, top!)
      if (collection === NSID.bid || collection === NSID.workloadStatus) this.dropped.note(about, did)
      this.noteRejection(top!, did, collection, reason)
    }
  }

  /** Remove the record at `uri` in `collection`; returns the workload uri it was about, if any. */
  private remove(collection: string, uri: AtUri): AtUri | undefined {
    this.groups.release(uri)
    switch (collection) {
      case NSID.workload:
        return this.workloadsByUri.delete(uri) ? uri : undefined
      case NSID.bid: {
        const b = this.bidsByUri.get(uri)
        if (!b) return undefined
        this.bidsByUri.delete(uri)
        this.bidIndex.remove(b.workload.uri, uri)
        return b.workload.uri
      }
      case NSID.workloadStatus: {
        const s = this.statusesByUri.get(uri)
        if (!s) return undefined
        this.statusesByUri.delete(uri)
        this.statusIndex.remove(s.workload.uri, uri)
        this.statusByMeshlet.remove(s.meshlet, uri)
        return s.workload.uri
      }
      case NSID.meshlet:
        this.linksByUri.delete(uri)
        return undefined
      case NSID.meshletOwner:
        this.ownersByUri.delete(uri)
        return undefined
      case NSID.membership:
        this.membershipsByUri.delete(uri)
        return undefined
      case NSID.profile: {
        const p = this.profilesByUri.get(uri)
        if (p && this.profileUriByMeshlet.get(p.meshlet) === uri) this.profileUriByMeshlet.delete(p.meshlet)
        this.profilesByUri.delete(uri)
        return undefined
      }
      case NSID.secret:
        this.secretsByUri.delete(uri)
        return undefined
      default:
        return undefined
    }
  }

  private noteSeen(uri: AtUri, cid: Cid, seenAt: number): void {
    let versions = this.firstSeenAt.get(uri)
    if (!versions) this.firstSeenAt.set(uri, (versions = new Map()))
    if (versions.has(cid)) return
    versions.set(cid, seenAt)
    while (versions.size > this.maxVersions) versions.delete(versions.keys().next().value as Cid)
  }

  /** Secrets (issue 13): the owner's secret record of that name. */
  secret(owner: Did, name: string): SecretRecord | undefined {
    return this.secretsByUri.get(`at://${owner}/${NSID.secret}/${name}`)
  }

  secrets(): SecretRecord[] {
    return [...this.secretsByUri.values()]
  }

  workload(uri: AtUri): Workload | undefined {
    // when (issue 14): a run of a scheduled workload resolves from its workload (core/runs.ts).
    return this.workloadsByUri.get(uri) ?? (uri.includes('#') ? resolveRun((u) => this.workloadsByUri.get(u), uri) : undefined)
  }

  workloads(): Workload[] {
    return [...this.workloadsByUri.values()]
  }

  /**
   * Repos some of whose bids or statuses about the workload this view gave up to its caps (this
   * peer's own included), or undefined. Where one of them may run it, this view cannot tell who
   * holds what (decideWorkload `dropped`). Forgotten when the workload is deleted.
   */
  droppedFor(workloadUri: AtUri): ReadonlySet<Did> | undefined {
    return this.dropped.get(workloadUri)
  }

  rejection(uri: AtUri): Rejection | undefined {
    return this.rejected.get(uri)
  }

  /** Most recent last; capped (ViewOptions.maxRejections). */
  rejections(): Rejection[] {
    return [...this.rejected.values()]
  }

  /** When this peer first saw version `cid` of the workload (epoch ms), while it remembers it. */
  firstSeen(uri: AtUri, cid: Cid): number | undefined {
    return this.firstSeenAt.get(uri)?.get(cid)
  }

  /** Every bid/decline record that references the workload uri (any cid). */
  bidsFor(workloadUri: AtUri): Bid[] {
    return this.bidIndex.get(workloadUri)
  }

  /** Every status record that references the workload uri (any cid). */
  statusesFor(workloadUri: AtUri): WorkloadStatus[] {
    return this.statusIndex.get(workloadUri)
  }

  /** Every status record published by one meshlet. */
  statusesBy(meshlet: Did): WorkloadStatus[] {
    return this.statusByMeshlet.get(meshlet)
  }

  allStatuses(): WorkloadStatus[] {
    return [...this.statusesByUri.values()]
  }

  allBids(): Bid[] {
    return [...this.bidsByUri.values()]
  }

  links(): MeshletLink[] {
    return [...this.linksByUri.values()]
  }

  owners(): MeshletOwnerClaim[] {
    return [...this.ownersByUri.values()]
  }

  memberships(): Membership[] {
    return [...this.membershipsByUri.values()]
  }

  profile(meshlet: Did): Profile | undefined {
    const uri = this.profileUriByMeshlet.get(meshlet)
    return uri ? this.profilesByUri.get(uri) : undefined
  }

  profiles(): Profile[] {
    return [...this.profilesByUri.values()]
  }

  /** The bounds this view keeps (ViewOptions, defaults filled in). */
  limits(): { maxRecords: number; maxBytes: number } {
    return { maxRecords: this.maxRecords, maxBytes: this.maxBytes }
  }

  /** Records the caps gave up since this view began (each refused or evicted record counts once). */
  droppedRecords(): number {
    return this.given
  }

  /** Records held (what ViewOptions.maxRecords bounds). */
  records(): number {
    return this.groups.held
  }

  /** Approximate bytes of the records held (what ViewOptions.maxBytes bounds). */
  bytes(): number {
    return this.groups.heldBytes
  }

  size(): { workloads: number; bids: number; statuses: number; records: number } {
    const workloads = this.workloadsByUri.size
    const bids = this.bidsByUri.size
    const statuses = this.statusesByUri.size
    const records = workloads + bids + statuses + this.linksByUri.size + this.ownersByUri.size + this.membershipsByUri.size + this.profilesByUri.size
    return { workloads, bids, statuses, records }
  }
}
