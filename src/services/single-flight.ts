// Concurrent callers asking for the same thing share one run of it (issue 16, burst): a burst of
// starts of one image for one owner pulls it once, not once per replica. Nothing is cached: the
// next call after the shared run settles starts a new one, so a sequential start still pulls fresh.

export class SingleFlight<K> {
  private readonly running = new Map<K, Promise<void>>()

  /** Runs `fn` unless a run for `key` is in flight; then waits for that one (its error too). */
  run(key: K, fn: () => Promise<void>): Promise<void> {
    const cur = this.running.get(key)
    if (cur) return cur
    const p = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.running.get(key) === p) this.running.delete(key)
      })
    this.running.set(key, p)
    return p
  }

  /** Runs in flight now. */
  get size(): number {
    return this.running.size
  }
}

/**
 * Calls `report` only if `cancel()` has not come within `delayMs` (issue 16): a step that is quick
 * costs no status commit, a slow one is still said while it runs. A failed report is logged by
 * the caller's `onError`, never thrown into the step.
 */
export function delayedReport(delayMs: number, report: () => Promise<unknown>, onError: (err: unknown) => void): { cancel(): void } {
  const t = setTimeout(() => {
    report().catch(onError)
  }, delayMs)
  t.unref?.()
  return { cancel: () => clearTimeout(t) }
}
