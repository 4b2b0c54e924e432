// Images this meshlet pulled, so it can remove them once no container uses them, and never an image
// it did not pull (the host's own, another peer's). The record is a small JSON file in the data dir:
// images carry no labels of their own, and a restarted peer must still know what it pulled.
// Not GuestImagePulls (src/services/guest-image-pulls.ts), on purpose: that one records each guest
// pull with its owner, image id and digest, including images the host already had; only the
// runtime sees whether a ref was present before its pull, so this record of what is collectable
// lives here, in the adapter, for every pull (owner's or guest's).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type Docker from 'dockerode'
import type { Logger } from '../../logger.js'
import { describeError } from '../../errors.js'
import { engineMessage, statusCodeOf } from './engine-errors.js'

interface Pulled {
  ref: string
  /** Epoch ms of the pull: a fresh pull is about to be used, not garbage. */
  at: number
}

export class CollectableImages {
  private readonly pulled = new Map<string, Pulled>()

  /** `file` undefined: kept in memory only (tests, or no data dir). */
  constructor(private readonly file?: string) {
    if (!file) return
    try {
      const rows = JSON.parse(readFileSync(file, 'utf8')) as unknown
      if (Array.isArray(rows)) for (const r of rows) if (typeof r?.ref === 'string' && typeof r.at === 'number') this.pulled.set(r.ref, { ref: r.ref, at: r.at })
    } catch {
      // none yet (or unreadable: then nothing is collected, which is the safe side)
    }
  }

  add(ref: string, at = Date.now()): void {
    this.pulled.set(ref, { ref, at })
    this.save()
  }

  has(ref: string): boolean {
    return this.pulled.has(ref)
  }

  forget(ref: string): void {
    if (this.pulled.delete(ref)) this.save()
  }

  all(): Pulled[] {
    return [...this.pulled.values()]
  }

  private save(): void {
    if (!this.file) return
    mkdirSync(dirname(this.file), { recursive: true })
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(this.all()))
    renameSync(tmp, this.file)
  }
}

/**
 * Removes every image in `pulled` that no container on the engine (any state, anyone's) uses and
 * that was pulled more than graceMs ago. Removal is by reference: a tag the host also holds under
 * another name only loses this name. Returns the references removed.
 */
export async function collectImages(docker: Docker, pulled: CollectableImages, graceMs: number, log: Logger): Promise<string[]> {
  const candidates = pulled.all().filter((p) => Date.now() - p.at >= graceMs)
  if (candidates.length === 0) return []
  const containers = await docker.listContainers({ all: true })
  const removed: string[] = []
  for (const { ref } of candidates) {
    let image: Docker.ImageInspectInfo
    try {
      image = await docker.getImage(ref).inspect()
    } catch (err) {
      if (statusCodeOf(err) === 404) pulled.forget(ref) // removed by someone else already
      continue
    }
    // Used under this name, or by id when this name is its last (removing it would delete the image).
    // Under another name only, the image stays: removing this tag changes nothing for that container.
    const lastName = (image.RepoTags ?? []).length <= 1
    if (containers.some((c) => c.Image === ref || (lastName && c.ImageID === image.Id))) continue
    try {
      await docker.getImage(ref).remove()
      pulled.forget(ref)
      removed.push(ref)
      log.info({ image: ref }, 'unused pulled image removed')
    } catch (err) {
      const status = statusCodeOf(err)
      if (status === 404) pulled.forget(ref)
      // 409: a container started on it meanwhile; next time.
      else if (status !== 409) log.warn({ image: ref, err: describeError(err), engine: engineMessage(err) }, 'could not remove unused image')
    }
  }
  return removed
}
