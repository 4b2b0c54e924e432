// liveness (issue 16 part 3): the Ed25519 key that signs this meshlet's answers to farm.meshlet.ping
// (libsodium crypto_sign_detached; no crypto of our own). A fresh key per process: the public half
// goes into the profile at start, so nothing needs to be kept on disk, and an answer signed by a
// previous run's key no longer verifies.
import type { Did } from '../../core/types.js'
import type { PingAnswer, PingKeys, PingSigner as PingSignerPort } from '../../ports/ping-keys.js'
import { sodiumReady } from './sealing.js'

export type { PingAnswer }

/** The exact bytes signed: the method, nonce, DID and time, so no answer can be replayed for another question. */
export function pingMessage(a: { meshlet: Did; nonce: string; time: string }): Uint8Array {
  return Buffer.from(`farm.meshlet.ping|${a.nonce}|${a.meshlet}|${a.time}`, 'utf8')
}

export class PingSigner implements PingSignerPort {
  readonly #secretKey: Uint8Array

  private constructor(
    private readonly s: Awaited<ReturnType<typeof sodiumReady>>,
    readonly meshlet: Did,
    private readonly pk: Uint8Array,
    sk: Uint8Array,
  ) {
    this.#secretKey = sk
  }

  static async create(meshlet: Did): Promise<PingSigner> {
    const s = await sodiumReady()
    const kp = s.crypto_sign_keypair()
    return new PingSigner(s, meshlet, kp.publicKey, kp.privateKey)
  }

  /** Base64 of the 32-byte public key, published as the profile's pingKey. */
  get publicKey(): string {
    return Buffer.from(this.pk).toString('base64')
  }

  answer(nonce: string, now: number): PingAnswer {
    const a = { meshlet: this.meshlet, nonce, time: new Date(now).toISOString() }
    return { ...a, sig: Buffer.from(this.s.crypto_sign_detached(pingMessage(a), this.#secretKey)).toString('base64') }
  }

  toJSON(): unknown {
    return { publicKey: this.publicKey }
  }
}

/**
 * Why `answer` is not `meshlet`'s answer to `nonce` under `pingKey`, or undefined when it is. A
 * forged answer (another key), a replayed one (another nonce) or one for another meshlet fails.
 */
export async function pingAnswerProblem(answer: unknown, expect: { meshlet: Did; nonce: string; pingKey: string }): Promise<string | undefined> {
  const s = await sodiumReady()
  if (typeof answer !== 'object' || answer === null) return 'the answer is not an object'
  const a = answer as Partial<Record<keyof PingAnswer, unknown>>
  if (typeof a.meshlet !== 'string' || typeof a.nonce !== 'string' || typeof a.time !== 'string' || typeof a.sig !== 'string') return 'the answer lacks meshlet, nonce, time or sig'
  if (a.meshlet !== expect.meshlet) return `the answer is from ${a.meshlet}, not ${expect.meshlet}`
  if (a.nonce !== expect.nonce) return 'the answer is for another nonce (stale or replayed)'
  const sig = Buffer.from(a.sig, 'base64')
  const pk = Buffer.from(expect.pingKey, 'base64')
  if (sig.length !== s.crypto_sign_BYTES || pk.length !== s.crypto_sign_PUBLICKEYBYTES) return 'malformed signature or key'
  const ok = s.crypto_sign_verify_detached(sig, pingMessage({ meshlet: a.meshlet, nonce: a.nonce, time: a.time }), pk)
  return ok ? undefined : 'the signature does not verify with the pingKey of its profile'
}

/** The PingKeys port over libsodium. */
export const sodiumPingKeys: PingKeys = { create: (meshlet) => PingSigner.create(meshlet), problem: pingAnswerProblem }
