import type { Did, SecretRecord } from '../core/types.js'

/** Secrets (issue 13): this meshlet's sealing key pair. The private half never leaves the adapter. */
export interface SecretKeys {
  /** X25519 public key, standard base64: published in the profile as `sealingKey`. */
  readonly publicKey: string
  /** This meshlet's copy of `secret`, opened and checked against (owner, name, version, meshlet); the reason never holds the value. */
  open(secret: SecretRecord, meshlet: Did): { ok: true; value: Uint8Array } | { ok: false; reason: string }
}
