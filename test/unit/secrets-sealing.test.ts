// Secrets (issue 13): sealed copies with real libsodium keys, as peers create and use them.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SEALING_KEY_FILE, SodiumSecretKeys, sealFor } from '../../src/adapters/crypto/sealing.js'
import { missingSecret, secretNameProblem } from '../../src/core/secrets.js'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { NSID, type SecretRecord, type Workload } from '../../src/core/types.js'

const OWNER = 'did:plc:owner0000000000000000000'
const M1 = 'did:plc:meshlet1000000000000000000'
const M2 = 'did:plc:meshlet2000000000000000000'
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-secrets-unit-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

async function keys(name: string): Promise<SodiumSecretKeys> {
  return SodiumSecretKeys.load(path.join(tmp, name))
}

async function record(name: string, version: number, value: string, targets: { meshlet: string; key: string }[]): Promise<SecretRecord> {
  const copies = await Promise.all(targets.map(async (t) => ({ meshlet: t.meshlet, sealingKey: t.key, ciphertext: await sealFor(t.key, { owner: OWNER, name, version, meshlet: t.meshlet, value: new TextEncoder().encode(value) }) })))
  return { uri: `at://${OWNER}/${NSID.secret}/${name}`, owner: OWNER, name, version, copies, createdAt: new Date().toISOString() }
}

describe('sealing keys', () => {
  it('are created once, mode 0600, and reused across restarts', async () => {
    const a = await keys('a')
    const file = path.join(tmp, 'a', SEALING_KEY_FILE)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const again = await keys('a')
    expect(again.publicKey).toBe(a.publicKey)
    expect(Buffer.from(a.publicKey, 'base64')).toHaveLength(32)
    // Never printed: JSON and inspect show the public half only.
    const priv = JSON.parse(fs.readFileSync(file, 'utf8')).privateKey as string
    expect(JSON.stringify(a)).not.toContain(priv)
    expect((await import('node:util')).inspect(a)).not.toContain(priv)
  })

  it('refuse a key file others can read', async () => {
    await keys('loose')
    fs.chmodSync(path.join(tmp, 'loose', SEALING_KEY_FILE), 0o644)
    await expect(keys('loose')).rejects.toThrow(/readable by others/)
  })
})

describe('sealed copies', () => {
  it('the meshlet a copy was sealed for opens it; another member meshlet cannot open that copy', async () => {
    const k1 = await keys('m1')
    const k2 = await keys('m2')
    const rec = await record('db', 3, 's3cr3t-value', [{ meshlet: M1, key: k1.publicKey }])
    const opened = k1.open(rec, M1)
    expect(opened.ok && new TextDecoder().decode(opened.value)).toBe('s3cr3t-value')
    // M2 has no copy of its own; taking M1's copy as if it were its own fails on the key.
    expect(k2.open(rec, M2)).toEqual({ ok: false, reason: 'no sealed copy of secret db' })
    const stolen = { ...rec, copies: [{ ...rec.copies[0]!, meshlet: M2 }] }
    const r = k2.open(stolen, M2)
    expect(r.ok).toBe(false)
    expect(!r.ok && r.reason).toMatch(/does not open with this meshlet's key/)
    expect(JSON.stringify(r)).not.toContain('s3cr3t')
  })

  it('a copy replayed under another name, version or meshlet is refused by its envelope', async () => {
    const k1 = await keys('m1')
    const rec = await record('db', 3, 'v', [{ meshlet: M1, key: k1.publicKey }])
    expect(k1.open({ ...rec, name: 'other' }, M1)).toMatchObject({ ok: false, reason: expect.stringMatching(/another name/) })
    expect(k1.open({ ...rec, version: 4 }, M1)).toMatchObject({ ok: false, reason: expect.stringMatching(/another version/) })
    expect(k1.open({ ...rec, owner: 'did:plc:someoneelse000000000000' }, M1)).toMatchObject({ ok: false, reason: expect.stringMatching(/another owner/) })
    // Sealed to M1's key but labelled for M1 while the envelope says M2: refused.
    const forM2 = await sealFor(k1.publicKey, { owner: OWNER, name: 'db', version: 3, meshlet: M2, value: new Uint8Array([1]) })
    expect(k1.open({ ...rec, copies: [{ meshlet: M1, sealingKey: k1.publicKey, ciphertext: forM2 }] }, M1)).toMatchObject({ ok: false, reason: expect.stringMatching(/another meshlet/) })
  })

  it('a decline names the secret a meshlet has no copy of, or an outdated key', async () => {
    const k1 = await keys('m1')
    const rec = await record('db', 1, 'v', [{ meshlet: M1, key: k1.publicKey }])
    const w = { owner: OWNER, secrets: ['db'] } as Workload
    const lookup = (o: string, n: string) => (o === OWNER && n === 'db' ? rec : undefined)
    expect(missingSecret(w, M1, k1.publicKey, lookup)).toBeUndefined()
    expect(missingSecret(w, M2, 'x', lookup)).toBe('no sealed copy of secret db')
    expect(missingSecret(w, M1, Buffer.alloc(32).toString('base64'), lookup)).toMatch(/current sealing key/)
    expect(missingSecret({ ...w, secrets: ['nope'] }, M1, k1.publicKey, lookup)).toBe(`no secret nope in ${OWNER}'s repo`)
    expect(missingSecret({ ...w, secrets: [], registryAuth: 'db' }, M2, 'x', lookup)).toBe('no sealed copy of secret db')
  })

  it('decodes at the edge: names are checked, a second copy for one meshlet is refused', async () => {
    const k1 = await keys('m1')
    const rec = await record('db', 1, 'v', [{ meshlet: M1, key: k1.publicKey }])
    const value = { $type: NSID.secret, version: 1, copies: rec.copies, createdAt: rec.createdAt }
    const ok = decodeRecord({ did: OWNER, collection: NSID.secret, rkey: 'db', cid: 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5kpqcsgz7soi2qy', value })
    expect(ok?.op).toBe('put')
    const twice = decodeRecord({ did: OWNER, collection: NSID.secret, rkey: 'db', cid: 'x', value: { ...value, copies: [...rec.copies, ...rec.copies] } })
    expect(twice).toMatchObject({ op: 'rejected', reason: expect.stringMatching(/second copy/) })
    expect(secretNameProblem('../etc')).toMatch(/not valid/)
    expect(secretNameProblem('db-password.v2')).toBeUndefined()
  })
})
