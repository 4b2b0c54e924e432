// liveness (issue 16 part 3): the suspicion record and the profile's ping key, checked at the edge.
import { isValidDid } from '@atproto/syntax'
import type { Did, Suspicion } from '../../core/types.js'
import * as suspicionLex from '../../lexicons/commune/scheduler/suspicion.js'
import { parse, reject } from './record-checks.js'

/** An Ed25519 public key is 32 bytes: 44 characters of standard base64. Anything else is dropped (the meshlet then answers no probes). */
export function pingKeyOf(key: string | undefined): string | undefined {
  if (key === undefined || !/^[A-Za-z0-9+/]{43}=$/.test(key)) return undefined
  return Buffer.from(key, 'base64').length === 32 ? key : undefined
}

/** A suspicion lives at rkey = its subject's DID (one per prober and subject, updated in place). */
export function decodeSuspicion(did: Did, rkey: string, value: unknown): Suspicion {
  const v = parse(suspicionLex.$safeParse(value))
  if (!isValidDid(v.subject)) reject(`subject "${v.subject}" is not a DID`)
  if (rkey !== v.subject) reject(`a suspicion's record key must be its subject's DID (got "${rkey}", subject is "${v.subject}")`)
  if (v.subject === did) reject('a meshlet cannot suspect itself')
  return { accuser: did, subject: v.subject, createdAt: v.createdAt }
}
