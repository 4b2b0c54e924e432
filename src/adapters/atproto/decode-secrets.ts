// Secrets (issue 13) at the decode edge: the secret record, the workload's `secrets` and
// `registryAuth` fields, and the profile's sealing key. Lexicon checks first, then what a lexicon
// cannot say (name syntax, key and ciphertext encodings, one copy per meshlet).
import type { Artifact, SecretRecord } from '../../core/types.js'
import { secretNameProblem } from '../../core/secrets.js'
import * as secretLex from '../../lexicons/commune/scheduler/secret.js'
import { checkHttpUrl, clip, parse, reject } from './record-checks.js'

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Why `key` is not a base64 X25519 public key (32 bytes), or undefined. */
export function sealingKeyProblem(key: string): string | undefined {
  if (!BASE64.test(key) || key.length !== 44 || Buffer.from(key, 'base64').length !== 32) return 'sealingKey must be 32 bytes in standard base64 (44 characters)'
  return undefined
}

export function decodeSecret(did: string, rkey: string, uri: string, value: unknown): SecretRecord {
  const nameProblem = secretNameProblem(rkey)
  if (nameProblem) reject(`record key: ${nameProblem}`)
  const v = parse(secretLex.$safeParse(value))
  const seen = new Set<string>()
  const copies = v.copies.map((c, i) => {
    if (seen.has(c.meshlet)) reject(`copies[${i}]: a second copy for ${clip(c.meshlet)}`)
    seen.add(c.meshlet)
    const keyProblem = sealingKeyProblem(c.sealingKey)
    if (keyProblem) reject(`copies[${i}].${keyProblem}`)
    // A sealed box is at least 48 bytes (ephemeral key + MAC).
    if (!BASE64.test(c.ciphertext) || Buffer.from(c.ciphertext, 'base64').length < 48) reject(`copies[${i}].ciphertext must be a sealed box in standard base64`)
    return { meshlet: c.meshlet, sealingKey: c.sealingKey, ciphertext: c.ciphertext }
  })
  return { uri, owner: did, name: rkey, version: v.version, copies, createdAt: v.createdAt }
}

/** The workload's secret fields, checked; absent when it names none (so older records decode as before). */
export function workloadSecrets(v: { secrets?: readonly string[]; registryAuth?: string; artifact?: { url: string; sha256: string; args?: readonly string[] } }): { secrets?: string[]; registryAuth?: string; artifact?: Artifact } {
  const out: { secrets?: string[]; registryAuth?: string; artifact?: Artifact } = {}
  if (v.artifact !== undefined) {
    checkHttpUrl(v.artifact.url, 'artifact.url')
    if (!/^[0-9a-f]{64}$/.test(v.artifact.sha256)) reject('artifact.sha256 must be 64 lowercase hex characters')
    const args = [...(v.artifact.args ?? [])]
    if (args.some((a) => a.includes('\0'))) reject('artifact.args cannot contain NUL')
    out.artifact = { url: v.artifact.url, sha256: v.artifact.sha256, args }
  }
  if (v.secrets && v.secrets.length > 0) {
    for (const [i, name] of v.secrets.entries()) {
      const problem = secretNameProblem(name)
      if (problem) reject(`secrets[${i}]: ${problem}`)
    }
    out.secrets = [...new Set(v.secrets)]
  }
  if (v.registryAuth !== undefined) {
    const problem = secretNameProblem(v.registryAuth)
    if (problem) reject(`registryAuth: ${problem}`)
    out.registryAuth = v.registryAuth
  }
  return out
}
