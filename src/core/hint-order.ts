// notify (issue 16): may a hinted record be applied, and which later stream ops does it outrank?
// A hint delivers ONE record of a commit ahead of the firehose. It must never apply an older version
// over a newer one, and the firehose, which later delivers the commits in between, must not undo it
// with an older version of the same record. Revs are TIDs: they sort as strings, in commit order.
import type { Cid, Did } from './types.js'

export type HintVerdict = 'apply' | 'duplicate' | 'stale'

export interface HintFacts {
  /** The rev of the commit the hinted record was proven in. */
  rev: string
  cid: Cid
  /** The cid the view holds for this record ('' when deleted there), if any. */
  seenCid: Cid | undefined
  /** The rev up to which the view holds the whole repo (backfilled and handled live), if any. */
  floor: string | undefined
}

/** Bound of remembered hinted revs (one per record hinted ahead of the stream). */
const MAX_TRACKED = 50_000

export class HintedRevs {
  /** did -> record path (collection/rkey) -> rev of the hint applied for it. */
  private readonly byRepo = new Map<Did, Map<string, string>>()
  private size = 0

  /** Whether a verified hint for `path` may be applied. */
  judge(did: Did, path: string, f: HintFacts): HintVerdict {
    if (f.seenCid === f.cid) return 'duplicate'
    // The view already holds the repo at or past this commit: this record is in it, or newer.
    if (f.floor !== undefined && f.rev <= f.floor) return 'stale'
    const hinted = this.byRepo.get(did)?.get(path)
    if (hinted !== undefined && f.rev <= hinted) return 'stale'
    return 'apply'
  }

  /** A hint for `path` at `rev` was applied: older ops of that record are superseded. */
  applied(did: Did, path: string, rev: string): void {
    let m = this.byRepo.get(did)
    if (!m) this.byRepo.set(did, (m = new Map()))
    if (!m.has(path)) {
      if (this.size >= MAX_TRACKED) this.evictOne()
      this.size++
    }
    m.set(path, rev)
  }

  /**
   * Is a stream or backfill op on `path`, from the commit at `rev` (a backfill: the head it read),
   * older than a hint applied for it? Then it is skipped. Once the stream reaches the hinted rev the
   * entry is done (the stream is no longer behind for that record).
   */
  superseded(did: Did, path: string, rev: string): boolean {
    const m = this.byRepo.get(did)
    const hinted = m?.get(path)
    if (hinted === undefined) return false
    if (rev < hinted) return true
    m!.delete(path)
    this.size--
    if (m!.size === 0) this.byRepo.delete(did)
    return false
  }

  forget(did: Did): void {
    const m = this.byRepo.get(did)
    if (!m) return
    this.size -= m.size
    this.byRepo.delete(did)
  }

  get tracked(): number {
    return this.size
  }

  private evictOne(): void {
    // The oldest repo's oldest entry: losing it only risks a brief regression the stream repairs.
    const [did, m] = this.byRepo.entries().next().value as [Did, Map<string, string>]
    const path = m.keys().next().value as string
    m.delete(path)
    this.size--
    if (m.size === 0) this.byRepo.delete(did)
  }
}
