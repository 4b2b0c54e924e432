// Which images this meshlet pulled, and for which owners (docs/protocol.md, Images). Kept in the
// local state store (CursorStore state key PULLED_IMAGES_KEY) so it survives restarts. Two readers:
// the image policy (a guest may only ever run an image this meshlet pulled for that guest, or one
// its owner shares) and image GC (only images this meshlet pulled are its to remove).
import type { Did } from '../core/types.js'
import type { CursorStore } from '../ports/cursor-store.js'

export const PULLED_IMAGES_KEY = 'pulledImages'
/** Entries kept at most (oldest pulls forgotten first): the store must not grow without bound. */
export const MAX_PULLED_IMAGES = 2000

export interface PulledImage {
  /** Engine image id, "sha256:<hex>". */
  imageId: string
  /** The reference pulled, as the workload named it. */
  ref: string
  /** "repo@sha256:<hex>" from the registry, when the engine reported one. */
  digest?: string
  /** The owner the pull was for. */
  owner: Did
  /** Epoch ms of the pull. */
  at: number
}

export class PulledImages {
  private entries: PulledImage[] | undefined
  private saving: Promise<void> = Promise.resolve()

  constructor(private readonly store: CursorStore) {}

  /** Every pull remembered, oldest first. */
  async list(): Promise<PulledImage[]> {
    return [...(await this.load())]
  }

  /** Whether this meshlet pulled image `imageId` for `owner`. */
  async pulledFor(owner: Did, imageId: string): Promise<boolean> {
    return (await this.load()).some((e) => e.owner === owner && e.imageId === imageId)
  }

  /** Remember a pull (one entry per owner, ref and image id; the newest replaces older ones). */
  async record(e: PulledImage): Promise<void> {
    const all = (await this.load()).filter((x) => !(x.owner === e.owner && x.ref === e.ref && x.imageId === e.imageId))
    all.push(e)
    if (all.length > MAX_PULLED_IMAGES) all.splice(0, all.length - MAX_PULLED_IMAGES)
    this.entries = all
    const snapshot = [...all]
    this.saving = this.saving.then(() => this.store.setState(PULLED_IMAGES_KEY, snapshot))
    await this.saving
  }

  private async load(): Promise<PulledImage[]> {
    if (!this.entries) {
      const saved = await this.store.getState<PulledImage[]>(PULLED_IMAGES_KEY).catch(() => undefined)
      this.entries ??= Array.isArray(saved) ? saved.filter((e) => typeof e?.imageId === 'string' && typeof e.owner === 'string') : []
    }
    return this.entries
  }
}
