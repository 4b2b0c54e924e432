// Secrets (issue 13): sealed boxes with libsodium (crypto_box_seal: X25519 + XSalsa20-Poly1305 with
// an ephemeral sender key). No crypto of our own: this file only stores the key pair and calls
// libsodium. The private key lives in <data-dir>/sealing-key (mode 0600), created on first start
// and reused after; it is never logged (kept in a private field, not printed by inspect/JSON).
import fs from 'node:fs'
import path from 'node:path'
import sodium from 'libsodium-wrappers'
import type { Did, SecretRecord } from '../../core/types.js'
import { checkEnvelope, encodeEnvelope } from '../../core/secrets.js'
import type { SecretKeys } from '../../ports/secret-keys.js'
import { MeshletError } from '../../errors.js'

export const SEALING_KEY_FILE = 'sealing-key'

export class SealingKeyError extends MeshletError {}

export async function sodiumReady(): Promise<typeof sodium> {
  await sodium.ready
  return sodium
}

/** Seals `value` for one meshlet: base64 of crypto_box_seal(envelope, its public key). */
export async function sealFor(publicKeyB64: string, e: { owner: Did; name: string; version: number; meshlet: Did; value: Uint8Array }): Promise<string> {
  const s = await sodiumReady()
  const pk = Buffer.from(publicKeyB64, 'base64')
  if (pk.length !== s.crypto_box_PUBLICKEYBYTES) throw new SealingKeyError(`sealing key of ${e.meshlet} is not ${s.crypto_box_PUBLICKEYBYTES} bytes`)
  return Buffer.from(s.crypto_box_seal(encodeEnvelope(e), pk)).toString('base64')
}

export class SodiumSecretKeys implements SecretKeys {
  readonly #privateKey: Uint8Array
  readonly #publicKey: Uint8Array

  private constructor(
    private readonly s: typeof sodium,
    publicKey: Uint8Array,
    privateKey: Uint8Array,
  ) {
    this.#publicKey = publicKey
    this.#privateKey = privateKey
  }

  /** Loads the key pair from `dataDir`, or creates it (mode 0600) on first start. */
  static async load(dataDir: string): Promise<SodiumSecretKeys> {
    const s = await sodiumReady()
    const file = path.join(dataDir, SEALING_KEY_FILE)
    let text: string | undefined
    try {
      const st = fs.statSync(file)
      if ((st.mode & 0o077) !== 0) throw new SealingKeyError(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`)
      text = fs.readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (text === undefined) {
      const kp = s.crypto_box_keypair()
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      const body = JSON.stringify({ publicKey: Buffer.from(kp.publicKey).toString('base64'), privateKey: Buffer.from(kp.privateKey).toString('base64') })
      // wx: two peers on one data dir must not overwrite each other's key.
      fs.writeFileSync(file, `${body}\n`, { mode: 0o600, flag: 'wx' })
      return new SodiumSecretKeys(s, kp.publicKey, kp.privateKey)
    }
    let parsed: { publicKey?: unknown; privateKey?: unknown }
    try {
      parsed = JSON.parse(text) as typeof parsed
    } catch {
      throw new SealingKeyError(`${file} is not a sealing key file (JSON); move it away to create a new key (secrets sealed to the old key must then be resealed)`)
    }
    const pk = typeof parsed.publicKey === 'string' ? Buffer.from(parsed.publicKey, 'base64') : Buffer.alloc(0)
    const sk = typeof parsed.privateKey === 'string' ? Buffer.from(parsed.privateKey, 'base64') : Buffer.alloc(0)
    if (pk.length !== s.crypto_box_PUBLICKEYBYTES || sk.length !== s.crypto_box_SECRETKEYBYTES) throw new SealingKeyError(`${file} holds no valid X25519 key pair`)
    // The public half must be the private half's: a mismatched file would seal to a key nobody holds.
    if (!Buffer.from(s.crypto_scalarmult_base(sk)).equals(pk)) throw new SealingKeyError(`${file}: its public key does not belong to its private key`)
    return new SodiumSecretKeys(s, new Uint8Array(pk), new Uint8Array(sk))
  }

  get publicKey(): string {
    return Buffer.from(this.#publicKey).toString('base64')
  }

  open(secret: SecretRecord, meshlet: Did): { ok: true; value: Uint8Array } | { ok: false; reason: string } {
    const copy = secret.copies.find((c) => c.meshlet === meshlet)
    if (!copy) return { ok: false, reason: `no sealed copy of secret ${secret.name}` }
    let plain: Uint8Array
    try {
      plain = this.s.crypto_box_seal_open(Buffer.from(copy.ciphertext, 'base64'), this.#publicKey, this.#privateKey)
    } catch {
      return { ok: false, reason: `the sealed copy of secret ${secret.name} does not open with this meshlet's key (sealed to another key; reseal it)` }
    }
    const checked = checkEnvelope(plain, { owner: secret.owner, name: secret.name, version: secret.version, meshlet })
    plain.fill(0)
    return checked.ok ? checked : { ok: false, reason: `secret ${secret.name}: ${checked.reason}` }
  }

  toJSON(): unknown {
    return { publicKey: this.publicKey }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SodiumSecretKeys { publicKey: ${this.publicKey} }`
  }
}
