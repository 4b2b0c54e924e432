import type { HostSnapshot } from '../core/types.js'

export interface HostProbe {
  /** Live readings. Never throws for a missing sensor: unknown readings get neutral values. */
  snapshot(): Promise<HostSnapshot>
}
