// Per repo+collection, the record keys the handler was told exist, persisted in the cursor store:
// a record deleted while this peer was down is missing from the next listing but still in here,
// so backfill can report its deletion.
import type { Did } from '../../core/types.js'
import { describeError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { CursorStore } from '../../ports/cursor-store.js'

/** Per repo+collection: the record keys some handler was told exist. Persisted, so deletes made while we were down are found. */
export class KnownIndex {
  private readonly sets = new Map<string, Set<string>>()
  private readonly loading = new Map<string, Promise<Set<string>>>()
  private readonly dirty = new Set<string>()

  constructor(
    private readonly store: CursorStore,
    private readonly log: Logger,
  ) {}

  private static key(did: Did, collection: string): string {
    return `known:${did}:${collection}`
  }

  async load(did: Did, collection: string): Promise<Set<string>> {
    const key = KnownIndex.key(did, collection)
    const have = this.sets.get(key)
    if (have) return have
    let p = this.loading.get(key)
    if (!p) {
      p = this.store.getState<string[]>(key).then(
        (list) => new Set(Array.isArray(list) ? list.filter((x) => typeof x === 'string') : []),
        (err) => {
          this.log.warn({ key, reason: describeError(err) }, 'cannot read known records; starting empty')
          return new Set<string>()
        },
      )
      this.loading.set(key, p)
    }
    const set = await p
    this.loading.delete(key)
    if (!this.sets.has(key)) this.sets.set(key, set)
    return this.sets.get(key)!
  }

  async add(did: Did, collection: string, rkey: string): Promise<void> {
    const set = await this.load(did, collection)
    if (set.has(rkey)) return
    set.add(rkey)
    this.dirty.add(KnownIndex.key(did, collection))
  }

  async remove(did: Did, collection: string, rkey: string): Promise<void> {
    const set = await this.load(did, collection)
    if (set.delete(rkey)) this.dirty.add(KnownIndex.key(did, collection))
  }

  /** Drops the in-memory copy (the stored one stays, so a re-tracked repo still gets its offline deletes). */
  forget(did: Did): void {
    const prefix = `known:${did}:`
    for (const key of [...this.sets.keys()]) if (key.startsWith(prefix) && !this.dirty.has(key)) this.sets.delete(key)
  }

  async flush(): Promise<void> {
    for (const key of [...this.dirty]) {
      this.dirty.delete(key)
      const set = this.sets.get(key)
      if (!set) continue
      try {
        await this.store.setState(key, [...set])
      } catch (err) {
        this.log.error({ key, reason: describeError(err) }, 'cannot store known records')
      }
    }
  }
}
