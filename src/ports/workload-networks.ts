import type { Did, Isolation } from '../core/types.js'

/** What the network adapter enforces on this host (the network part of a profile's isolation). */
export interface NetworkEnforcement {
  /** 'owner-bridge': each owner's containers get a bridge of their own; 'shared-bridge': the engine's default bridge. */
  network: Isolation['network']
  hostBlocked: boolean
  lanBlocked: boolean
  /** Why something is not enforced, for the start log and the profile. */
  note?: string
}

/**
 * The networks workloads run on (docs/protocol.md, Execution defaults): a bridge per owner whose
 * traffic to the host, the LAN, link-local/metadata addresses and other owners' bridges is refused.
 */
export interface WorkloadNetworks {
  /** Sets up host rules once (idempotent) and says what is enforced. Never throws for missing rights: it reports them. */
  prepare(): Promise<NetworkEnforcement>
  /** The engine network for this owner's containers, created on demand, with its rules in place. */
  networkFor(owner: Did): Promise<string>
  /** Removes this meshlet's owner networks that no container uses (and their rules). Returns how many. */
  prune(): Promise<number>
}
