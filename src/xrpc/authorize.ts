// Authorisation: who may call what, decided from the verified issuer only (PROTOCOL §5).
import { AtUri, isValidDid } from '@atproto/syntax'
import type { AtUri as AtUriString, Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import type { ControlPlane } from '../ports/control-plane.js'
import { forbidden, invalidRequest, workloadNotFound } from './errors.js'
import { truncate } from './token.js'

/** Who called, once the token checked out. */
export interface ServiceCaller {
  /** The issuer's DID, without any `#service` fragment: what authorisation compares. */
  did: Did
  /** The `iss` claim as sent. */
  iss: string
  lxm: string
  /** Expiry, seconds since the epoch. */
  exp: number
}

/**
 * Members of this meshlet's cluster (and its own owner) may read it. `what` names the thing read,
 * for the message.
 */
export function assertClusterMember(control: ControlPlane, caller: ServiceCaller, what: string): void {
  if (!control.isClusterMember(caller.did)) {
    throw forbidden(`${caller.did} is not in this meshlet's cluster: only members of this meshlet's cluster may read ${what}`)
  }
}

/**
 * The workload's owner only. The owner is the repo the record lives in, so a caller who is not
 * that DID is refused before the workload is looked up: non-owners cannot probe what exists here.
 * Returns the normalised URI. `verb` completes "may ... it".
 */
export function assertWorkloadOwner(control: ControlPlane, caller: ServiceCaller, uri: AtUriString, verb: string): AtUriString {
  const { owner } = parseWorkloadUri(uri)
  if (owner !== caller.did) throw forbidden(`only the workload's owner ${owner} may ${verb} it`)
  const known = control.workloadOwner(uri)
  if (known === undefined) throw workloadNotFound(uri)
  if (known !== caller.did) throw forbidden(`only the workload's owner ${known} may ${verb} it`)
  return uri
}

/** The meshlet's owner only. `action` completes "may ...", e.g. "shut it down". */
export function assertMeshletOwner(control: ControlPlane, caller: ServiceCaller, action: string): void {
  if (caller.did !== control.ownerDid) {
    throw forbidden(`only this meshlet's owner ${control.ownerDid} may ${action}`)
  }
}

/**
 * A workload URI must name the owner by DID and point at a commune.scheduler.workload record.
 * Throws InvalidRequest saying what is off.
 */
export function parseWorkloadUri(uri: unknown): { uri: AtUriString; owner: Did; rkey: string } {
  if (typeof uri !== 'string' || uri.length === 0) throw invalidRequest('uri is required: the at:// URI of a workload record')
  const expected = `expected at://<owner did>/${NSID.workload}/<rkey>`
  let parsed: AtUri
  try {
    parsed = new AtUri(uri)
  } catch (err) {
    throw invalidRequest(`uri ${JSON.stringify(truncate(uri, 120))} is not an at:// URI; ${expected}`, err)
  }
  if (!isValidDid(parsed.host)) {
    throw invalidRequest(`uri ${JSON.stringify(truncate(uri, 120))} names its repo by handle; ${expected}`)
  }
  if (parsed.collection !== NSID.workload || !parsed.rkey) {
    throw invalidRequest(`uri ${JSON.stringify(truncate(uri, 120))} is not a workload record; ${expected}`)
  }
  return { uri, owner: parsed.host, rkey: parsed.rkey }
}
