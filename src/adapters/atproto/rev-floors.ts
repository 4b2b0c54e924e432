// Per repo, the rev up to which the handler's view is complete (backfilled, or handled live on top
// of a backfill). Stream commits at or below it are already reflected and are skipped.
import type { Did } from '../../core/types.js'

export class RevFloors {
  private readonly floors = new Map<Did, string>()
  /** Rev of the commit being handled, per repo; becomes the floor once all its ops are through. */
  private readonly handling = new Map<Did, string>()

  /** The repo was read at least once: the view holds it. */
  has(did: Did): boolean {
    return this.floors.has(did)
  }

  /** notify (issue 16): the rev up to which the view is complete, if read at all. */
  floor(did: Did): string | undefined {
    return this.floors.get(did)
  }

  /** The view already reflects this rev of the repo. */
  covers(did: Did, rev: string): boolean {
    const floor = this.floors.get(did)
    return floor !== undefined && rev <= floor
  }

  /** An op of the commit at `rev` went to the handler (ops of one commit share its rev). */
  handlingOp(did: Did, rev: string): void {
    this.handling.set(did, rev)
  }

  /** The whole commit went through the handler. */
  commitHandled(did: Did): void {
    const rev = this.handling.get(did)
    if (rev === undefined) return
    this.handling.delete(did)
    // A live commit completes the view only on top of a backfill. Before the first one, raising
    // the floor would make that backfill skip the repo (head <= floor) and lose older records.
    if (this.floors.has(did)) this.raise(did, rev)
  }

  raise(did: Did, rev: string): void {
    const cur = this.floors.get(did)
    if (cur === undefined || rev > cur) this.floors.set(did, rev)
  }

  forget(did: Did): void {
    this.floors.delete(did)
    this.handling.delete(did)
  }
}
