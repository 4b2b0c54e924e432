// The intake's ordering guarantee: one queue per firehose source runs its events and backfills one
// at a time in arrival order, so a backfill sees a repo no earlier than the events queued before it.
import { describeError } from '../../errors.js'
import type { Logger } from '../../logger.js'

/** One task at a time, in order; a failing task is logged and the next one runs. */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve()
  private pending = 0
  private generation = 0

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.pending
  }

  add(task: () => Promise<void>): Promise<void> {
    const gen = this.generation
    this.pending++
    const run = this.tail.then(async () => {
      try {
        if (gen === this.generation) await task()
      } catch (err) {
        this.log.error({ reason: describeError(err) }, 'intake task failed')
      } finally {
        this.pending--
      }
    })
    this.tail = run
    return run
  }

  /** Tasks not yet started are skipped; the running one finishes. */
  clear(): void {
    this.generation++
  }

  async onIdle(): Promise<void> {
    while (this.pending > 0) await this.tail
  }
}
