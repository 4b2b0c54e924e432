// EvictionStore as one JSON file in the data directory (evictions.json), rewritten atomically
// (temp file + rename) on each change: evictions are rare, and a crash leaves the old or the new list.
import fs from 'node:fs'
import path from 'node:path'
import type { AtUri } from '../../core/types.js'
import { describeError } from '../../errors.js'
import type { EvictionStore } from '../../ports/eviction-store.js'

/** More than this is a mistake or an attack on the owner's own machine; refuse rather than grow. */
export const MAX_EVICTIONS = 10_000

export class EvictionFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`eviction list ${file}: ${reason}`, opts)
    this.name = 'EvictionFileError'
  }
}

export class FileEvictionStore implements EvictionStore {
  private readonly uris: Set<AtUri>
  private writing: Promise<void> = Promise.resolve()

  private constructor(
    readonly file: string,
    uris: AtUri[],
  ) {
    this.uris = new Set(uris)
  }

  /** Reads `<dataDir>/evictions.json` (absent: none). Throws EvictionFileError on a corrupt file. */
  static open(dataDir: string): FileEvictionStore {
    const file = path.join(dataDir, 'evictions.json')
    let uris: AtUri[] = []
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
      const list = (parsed as { evicted?: unknown }).evicted
      if (!Array.isArray(list) || !list.every((u) => typeof u === 'string')) throw new Error('expected {"evicted": ["at://..."]}')
      uris = list as AtUri[]
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new EvictionFileError(file, describeError(err), { cause: err })
    }
    return new FileEvictionStore(file, uris)
  }

  has(uri: AtUri): boolean {
    return this.uris.has(uri)
  }

  list(): AtUri[] {
    return [...this.uris].sort()
  }

  async add(uri: AtUri): Promise<void> {
    if (this.uris.has(uri)) return
    if (this.uris.size >= MAX_EVICTIONS) throw new EvictionFileError(this.file, `already ${MAX_EVICTIONS} evictions; lift some first`)
    this.uris.add(uri)
    await this.save()
  }

  async remove(uri: AtUri): Promise<void> {
    if (!this.uris.delete(uri)) return
    await this.save()
  }

  /** Writes are serialised so two quick changes land in order. */
  private save(): Promise<void> {
    const body = `${JSON.stringify({ evicted: this.list() }, null, 2)}\n`
    // A failed write must not poison the ones after it: each starts whatever the last one did.
    this.writing = this.writing.catch(() => {}).then(async () => {
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true })
      const tmp = `${this.file}.${process.pid}.tmp`
      await fs.promises.writeFile(tmp, body, { mode: 0o600 })
      await fs.promises.rename(tmp, this.file)
    })
    return this.writing
  }
}
