// Which images this meshlet pulled for which guest (docs/protocol.md, Images (guests)): image id,
// ref, digest, owner, time. Kept in the local state store (CursorStore state key PULLED_IMAGES_KEY)
// so it survives restarts; it is the audit trail of the guest image policy (every guest start pulls
// and pins) and what an operator or test reads to see what a guest ran.
// Not the same record as CollectableImages (src/adapters/docker/image-gc.ts), on purpose: that one
// is the runtime's own list of refs that were NOT on the host before its pull (owner's pulls too),
// which is what makes an image safe to remove; this one records every guest pull, present before or
// not, keyed by owner. Image GC does not read this one: an entry here says nothing about whether
// the host held the image already. (Merging them would move image GC's file into the state store;
// left for a change that may alter on-disk state.)
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

export class GuestImagePulls {
  private entries: PulledImage[] | undefined
  private saving: Promise<void> = Promise.resolve()

  constructor(private readonly store: CursorStore) {}

  /** Every pull remembered, oldest first. */
  async list(): Promise<PulledImage[]> {
    return [...(await this.load())]
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
