// liveness (issue 16 part 3): the key that signs this meshlet's ping answers, and the check of
// another meshlet's answer (adapters/crypto/ping-key.ts implements both with libsodium).
import type { Did } from '../core/types.js'

/** What a ping answer carries (lexicon farm.meshlet.ping#answer). */
export interface PingAnswer {
  meshlet: Did
  nonce: string
  time: string
  sig: string
}

export interface PingSigner {
  /** Base64 of the 32-byte Ed25519 public key, published as the profile's pingKey. */
  readonly publicKey: string
  answer(nonce: string, now: number): PingAnswer
}

export interface PingKeys {
  create(meshlet: Did): Promise<PingSigner>
  /** Why `answer` is not `meshlet`'s signed answer to `nonce` under `pingKey`, or undefined. */
  problem(answer: unknown, expect: { meshlet: Did; nonce: string; pingKey: string }): Promise<string | undefined>
}
