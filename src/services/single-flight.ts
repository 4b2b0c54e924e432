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
