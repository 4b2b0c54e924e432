// notify (issue 16): a hinted record is applied only with a proof signed by its repo's key, for that
// repo, at the hinted cid. Real repos and real keys (@atproto/repo, @atproto/crypto), no network.
import { Secp256k1Keypair } from '@atproto/crypto'
import { cidForRecord, getRecords, MemoryBlockstore, Repo, WriteOpAction } from '@atproto/repo'
import { describe, expect, it } from 'vitest'
import { check } from '../../src/adapters/atproto/record-proof.js'

const DID = 'did:plc:alice'
const BID = 'commune.scheduler.bid'

async function proofOf(repo: Repo, storage: MemoryBlockstore, collection: string, rkey: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of getRecords(storage, repo.cid, [{ collection, rkey }])) chunks.push(c)
  return Buffer.concat(chunks)
}

async function world() {
  const key = await Secp256k1Keypair.create()
  const storage = new MemoryBlockstore()
  const record = { $type: BID, priority: 7, createdAt: '2026-11-30T12:00:00.000Z' }
  let repo: Repo = await Repo.create(storage, DID, key, [{ action: WriteOpAction.Create, collection: BID, rkey: '3k1', record }])
  const cid = (await cidForRecord(record)).toString()
  return { key, storage, repo, record, cid, update: async (r: Record<string, unknown>) => (repo = await repo.applyWrites({ action: WriteOpAction.Update, collection: BID, rkey: '3k1', record: r as never }, key)) }
}

describe('record proof check', () => {
  it('accepts a genuine proof and reports the commit rev and the record', async () => {
    const w = await world()
    const r = await check(await proofOf(w.repo, w.storage, BID, '3k1'), DID, w.key.did(), BID, '3k1', w.cid)
    expect(r).toMatchObject({ ok: true, record: { did: DID, collection: BID, rkey: '3k1', cid: w.cid, rev: w.repo.commit.rev, uri: `at://${DID}/${BID}/3k1` } })
    if (r.ok) expect(r.record.value).toMatchObject({ priority: 7 })
  })

  it('refuses a proof signed by another key (bad-proof)', async () => {
    const w = await world()
    const other = await Secp256k1Keypair.create()
    const r = await check(await proofOf(w.repo, w.storage, BID, '3k1'), DID, other.did(), BID, '3k1', w.cid)
    expect(r).toMatchObject({ ok: false, reason: 'bad-proof' })
    if (!r.ok) expect(r.detail).toMatch(/signature/i)
  })

  it("refuses another repo's proof (bad-proof)", async () => {
    const w = await world()
    const r = await check(await proofOf(w.repo, w.storage, BID, '3k1'), 'did:plc:mallory', w.key.did(), BID, '3k1', w.cid)
    expect(r).toMatchObject({ ok: false, reason: 'bad-proof' })
  })

  it('refuses a hint whose cid is not the record at that key (cid-mismatch)', async () => {
    const w = await world()
    const updated = await w.update({ $type: BID, priority: 8, createdAt: '2026-11-30T12:00:01.000Z' })
    const r = await check(await proofOf(updated, w.storage, BID, '3k1'), DID, w.key.did(), BID, '3k1', w.cid)
    expect(r).toMatchObject({ ok: false, reason: 'cid-mismatch' })
  })

  it('a proof that shows no record at the key is absent (deleted, or never written)', async () => {
    const w = await world()
    const r = await check(await proofOf(w.repo, w.storage, BID, 'nope'), DID, w.key.did(), BID, 'nope', w.cid)
    expect(r).toMatchObject({ ok: false, reason: 'absent' })
  })

  it('garbage is a bad proof, not a crash', async () => {
    const w = await world()
    const r = await check(new Uint8Array([1, 2, 3]), DID, w.key.did(), BID, '3k1', w.cid)
    expect(r).toMatchObject({ ok: false, reason: 'bad-proof' })
  })
})
