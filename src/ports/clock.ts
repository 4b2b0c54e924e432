export interface Clock {
  /** Wall clock, epoch ms: what goes into records (updatedAt, createdAt) and bid windows. */
  now(): number
  /**
   * Monotonic ms (arbitrary origin, never steps back, immune to NTP jumps): receipt times for
   * liveness are read on it, so a wall-clock step on this host cannot revive or kill a peer.
   */
  monotonic(): number
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() }
