// notify (issue 16): a per-receiver circuit breaker for hints. A peer that does not answer is not
// tried on every write: after `threshold` failures in a row it is skipped for `openMs` (doubling per
// failed retry, up to `maxOpenMs`), then tried once; one success closes it. Time is a parameter.
export interface BreakerPolicy {
  threshold: number
  openMs: number
  maxOpenMs: number
}

export const DEFAULT_BREAKER: BreakerPolicy = { threshold: 3, openMs: 15_000, maxOpenMs: 300_000 }

interface BreakerState {
  failures: number
  /** Skipped until this time (monotonic ms); 0 = closed. */
  openUntil: number
  /** The current open period (ms), doubling on a failed retry. */
  period: number
  /** A retry is in flight: others wait for its outcome. */
  probing: boolean
}

export class Breakers<K> {
  private readonly states = new Map<K, BreakerState>()

  constructor(private readonly policy: BreakerPolicy = DEFAULT_BREAKER) {}

  /** May a call to `key` go out now? While half-open, only one call does. */
  allow(key: K, now: number): boolean {
    const s = this.states.get(key)
    if (!s || s.openUntil === 0) return true
    if (now < s.openUntil || s.probing) return false
    s.probing = true
    return true
  }

  succeeded(key: K): void {
    this.states.delete(key)
  }

  failed(key: K, now: number): void {
    const s = this.states.get(key) ?? { failures: 0, openUntil: 0, period: 0, probing: false }
    s.failures++
    if (s.probing) {
      s.probing = false
      s.period = Math.min(this.policy.maxOpenMs, s.period * 2)
      s.openUntil = now + s.period
    } else if (s.failures >= this.policy.threshold && s.openUntil === 0) {
      s.period = this.policy.openMs
      s.openUntil = now + s.period
    }
    this.states.set(key, s)
  }

  isOpen(key: K, now: number): boolean {
    const s = this.states.get(key)
    return s !== undefined && s.openUntil !== 0 && now < s.openUntil
  }

  forget(key: K): void {
    this.states.delete(key)
  }
}
