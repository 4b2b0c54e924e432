// notify (issue 16): a proven record from a hint enters the record source's intake on its repo's
// serial queue, so it is ordered with that stream's events and backfills, then goes through the same
// emitter as they do (decode, dedup by uri+cid, core/hint-order's never-older-over-newer).
import type { HintApplied, ProvenRecord } from '../../ports/record-hints.js'
import type { RecordEmitter } from './record-emitter.js'
import type { SerialQueue } from './serial-queue.js'

export interface HintedRepo {
  queue: SerialQueue
  emitter: RecordEmitter
  /** Still tracked, on the same stream: checked again once the task runs. */
  wanted: () => boolean
  /** The rev up to which the view holds the repo. */
  floor: () => string | undefined
  flush: () => Promise<void>
}

export async function applyHinted(repo: HintedRepo, r: ProvenRecord): Promise<HintApplied> {
  let out: HintApplied = 'untracked'
  await repo.queue.add(async () => {
    if (!repo.wanted()) return
    const verdict = await repo.emitter.hint(r.did, r.collection, r.rkey, r.cid, r.value, r.rev, repo.floor())
    out = verdict === 'apply' ? 'applied' : verdict
    await repo.flush()
  })
  return out
}
