import type { Did } from '../core/types.js'

export interface ResolvedIdentity {
  did: Did
  handle?: string
  /** The PDS endpoint from the DID document. */
  pds: string
  /** did:key of the atproto signing key. */
  signingKey: string
}

export interface IdentityResolver {
  /** Throws DidResolutionError (unknown DID, no PDS, bad document). Cached; `force` refreshes. */
  resolve(did: Did, opts?: { force?: boolean }): Promise<ResolvedIdentity>
}
