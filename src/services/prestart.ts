// Pre-start steps (pull, create) that fail are tried again on this peer with backoff while its
// claim is kept, then the slot is yielded (docs/reliability.md, "When a pull fails"): a registry
// outage must not leave a workload with zero copies until its owner republishes it.
import { prestartDecision, type PrestartStep } from '../core/restart.js'
import { describeError } from '../errors.js'
import type { Logger } from '../logger.js'

export interface PrestartHooks {
  /** Undo what a failed attempt left (a created-but-unstarted container holds the name). */
  cleanup(): Promise<void>
  /** Between attempts: the claim is kept, its status says what happens next. */
  retrying(message: string): Promise<void>
  /** After the last attempt: release the claim with this "start failed: ..." message. */
  yieldSlot(message: string): Promise<void>
  /** Still worth trying after the wait (claim kept, same version, peer not stopping)? */
  stillWanted(): boolean
  /** Errors that fail the same way on every peer: no retry, no yield (the caller reports them). */
  permanent?(err: unknown): boolean
  sleep?(ms: number): Promise<void>
}

/**
 * Runs `step` up to PRESTART_ATTEMPTS times, 1 s, 2 s, 4 s, 8 s apart. True once it succeeded;
 * false when it gave up (slot yielded) or the claim went away meanwhile. Permanent errors throw.
 */
export async function withPrestartRetries(step: PrestartStep, run: () => Promise<void>, hooks: PrestartHooks, log: Logger): Promise<boolean> {
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()))
  for (let attempt = 1; ; attempt++) {
    try {
      await run()
      return true
    } catch (err) {
      if (hooks.permanent?.(err)) throw err
      // Lost, released or replaced by a new version meanwhile: nothing to start, nothing to report.
      if (!hooks.stillWanted()) return false
      const reason = describeError(err)
      await hooks.cleanup().catch(() => {})
      const next = prestartDecision(step, attempt, reason)
      log.warn({ err: reason, attempt }, `${step} failed`)
      if (next.action === 'yield') {
        await hooks.yieldSlot(next.message).catch((e) => log.warn({ err: describeError(e) }, 'could not release after start failures'))
        return false
      }
      await hooks.retrying(next.message).catch(() => {})
      await sleep(next.delayMs)
      if (!hooks.stillWanted()) return false
    }
  }
}
