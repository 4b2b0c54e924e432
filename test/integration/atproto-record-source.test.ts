import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AtprotoIdentityResolver } from '../../src/adapters/atproto/identity.js'
import { AtprotoRecordSource } from '../../src/adapters/atproto/record-source.js'
import { listAllRecords } from '../../src/adapters/atproto/repo-reader.js'
import { MemoryCursorStore } from '../../src/adapters/memory/memory-cursor-store.js'
import { SqliteCursorStore } from '../../src/adapters/store/sqlite-cursor-store.js'
import { COLLECTIONS, NSID, type RecordEvent, type Workload } from '../../src/core/types.js'
import { DevNetwork, type DevAccount } from '../../src/devnet/network.js'

// One network for the file: two PDSes, tracked repos on both, one untracked neighbour.
let net: DevNetwork
let alice: DevAccount // PDS 0, tracked
let bob: DevAccount // PDS 1, tracked
let carol: DevAccount // PDS 0, never tracked
let dave: DevAccount // PDS 1, tracked later
let identity: AtprotoIdentityResolver
let dataDir: string
const sources: AtprotoRecordSource[] = []
const stores: SqliteCursorStore[] = []

class Collector {
  readonly events: RecordEvent[] = []
  readonly handler = (e: RecordEvent): void => {
    this.events.push(e)
  }
  find(op: RecordEvent['op'], uri: string): RecordEvent | undefined {
    return this.events.find((e) => e.op === op && e.uri === uri)
  }
  async waitFor(op: RecordEvent['op'], uri: string, cid?: string, timeoutMs = 20_000): Promise<RecordEvent> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.events.find((e) => e.op === op && e.uri === uri && (cid === undefined || (e.op !== 'delete' && e.cid === cid)))
      if (hit) return hit
      if (Date.now() > deadline) throw new Error(`no ${op} ${uri} within ${timeoutMs} ms; got:\n${this.events.map((e) => `${e.op} ${e.uri}`).join('\n')}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

async function eventually(check: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

const workload = (name: string, over: Record<string, unknown> = {}) => ({
  $type: NSID.workload,
  name,
  image: 'busybox:latest',
  replicas: 1,
  resources: { cpuMillis: 100, memoryMb: 16 },
  createdAt: new Date().toISOString(),
  ...over,
})

async function create(who: DevAccount, collection: string, record: Record<string, unknown>, rkey?: string) {
  const res = rkey
    ? await who.agent.com.atproto.repo.putRecord({ repo: who.did, collection, rkey, record })
    : await who.agent.com.atproto.repo.createRecord({ repo: who.did, collection, record })
  return { uri: res.data.uri, cid: res.data.cid, rkey: res.data.uri.split('/').pop()! }
}

async function remove(who: DevAccount, uri: string) {
  const [collection, rkey] = uri.split('/').slice(-2) as [string, string]
  await who.agent.com.atproto.repo.deleteRecord({ repo: who.did, collection, rkey })
}

function newSource(): { source: AtprotoRecordSource; store: SqliteCursorStore } {
  const store = SqliteCursorStore.open(dataDir)
  const source = new AtprotoRecordSource({ identity, cursorStore: store, allowInsecureHttp: true, retryBaseMs: 200, settleMs: 500 })
  stores.push(store)
  sources.push(source)
  return { source, store }
}

beforeAll(async () => {
  net = await DevNetwork.create({ pdsCount: 2 })
  ;[alice, bob, carol, dave] = await Promise.all([net.createAccount('alice', 0), net.createAccount('bob', 1), net.createAccount('carol', 0), net.createAccount('dave', 1)])
  identity = new AtprotoIdentityResolver({ plcUrl: net.plcUrl, allowInsecureHttp: true })
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-source-'))
})

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => {})
  for (const s of stores) await s.close().catch(() => {})
  await net?.close()
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
})

describe('AtprotoRecordSource over a real PLC + 2 PDSes', () => {
  const first = new Collector()
  let source1: AtprotoRecordSource
  let w0: { uri: string; cid: string }
  let w1: { uri: string; cid: string }

  test('backfills on start, then delivers live writes from both PDSes, decoded', async () => {
    w0 = await create(alice, NSID.workload, workload('before-start'))
    ;({ source: source1 } = newSource())
    // An unresolvable member must not stop the others.
    await source1.setRepos([alice.did, bob.did, 'did:plc:unresolvableunresolvable'])
    await source1.start(first.handler)
    await first.waitFor('put', w0.uri, w0.cid)

    w1 = await create(alice, NSID.workload, workload('web', { kind: 'batch' }))
    const membership = await create(bob, NSID.membership, { $type: NSID.membership, members: [alice.did, bob.did, alice.did], createdAt: new Date().toISOString() }, 'self')
    const bad = await create(bob, NSID.workload, workload('bad', { replicas: 0 }))

    const put = await first.waitFor('put', w1.uri, w1.cid)
    expect(put.op === 'put' && put.record.collection).toBe(NSID.workload)
    const value = put.op === 'put' ? (put.record.value as Workload) : undefined
    expect(value).toMatchObject({ uri: w1.uri, cid: w1.cid, owner: alice.did, name: 'web', kind: 'batch', restart: { policy: 'never' }, bidWindowMs: 5000 })

    const m = await first.waitFor('put', membership.uri, membership.cid)
    expect(m.op === 'put' && m.record.value).toEqual({ meshlet: bob.did, members: [alice.did, bob.did] })

    const rejected = await first.waitFor('rejected', bad.uri)
    expect(rejected.op === 'rejected' && rejected.reason).toContain('at $.replicas')
  })

  test('records from untracked repos are ignored', async () => {
    const foreign = await create(carol, NSID.workload, workload('not-ours'))
    // Same PDS, same stream, written after: once the marker is in, carol's record has been seen and dropped.
    const marker = await create(alice, NSID.workload, workload('marker-1'))
    await first.waitFor('put', marker.uri, marker.cid)
    await source1.processAll()
    expect(first.events.filter((e) => e.did === carol.did || e.uri === foreign.uri)).toEqual([])
  })

  test('a delete arrives', async () => {
    await remove(alice, w1.uri)
    await first.waitFor('delete', w1.uri)
  })

  test('restart: writes made while down all arrive; nothing stale or already deleted is replayed', async () => {
    await source1.processAll()
    await source1.stop()
    await stores.at(-1)!.close()

    // While no source runs: a create, a delete of a record the old handler knew, an update,
    // and a record that is created and deleted again.
    const w2 = await create(alice, NSID.workload, workload('while-down'))
    await remove(alice, w0.uri)
    const membership2 = await create(bob, NSID.membership, { $type: NSID.membership, members: [bob.did], createdAt: new Date().toISOString() }, 'self')
    const ephemeral = await create(alice, NSID.workload, workload('ephemeral'))
    await remove(alice, ephemeral.uri)

    const second = new Collector()
    const { source: source2 } = newSource()
    await source2.setRepos([alice.did, bob.did])
    await source2.start(second.handler)
    await second.waitFor('put', w2.uri, w2.cid)
    await second.waitFor('delete', w0.uri)
    await second.waitFor('put', membership2.uri, membership2.cid)
    // Everything the PDSes had queued for us before this marker has been through the handler.
    const marker = await create(alice, NSID.workload, workload('marker-2'))
    await second.waitFor('put', marker.uri, marker.cid)
    await source2.processAll()

    const current = new Map<string, string>()
    for (const who of [alice, bob]) {
      for (const c of COLLECTIONS) for (const r of await listAllRecords(who.pds, who.did, c)) current.set(r.uri, r.cid)
    }
    const puts = second.events.filter((e) => e.op !== 'delete') as Extract<RecordEvent, { cid?: string }>[]
    // Nothing missed: every current record was delivered with its current cid.
    for (const [uri, cid] of current) expect(puts.some((e) => e.uri === uri && e.cid === cid), `missing ${uri}`).toBe(true)
    // Nothing stale: no put/rejection of a version that is no longer current, none twice.
    for (const e of puts) expect(current.get(e.uri), `stale ${e.op} ${e.uri}`).toBe(e.cid)
    expect(new Set(puts.map((e) => `${e.uri} ${e.cid}`)).size).toBe(puts.length)
    // What was deleted before the restart stays gone; the short-lived record never shows up.
    expect(second.events.filter((e) => e.uri === w1.uri || e.uri === ephemeral.uri)).toEqual([])
    expect(second.events.filter((e) => e.op === 'delete')).toEqual([expect.objectContaining({ uri: w0.uri })])

    // Adding a repo backfills what it already holds, then follows it live.
    const older = await create(dave, NSID.workload, workload('dave-old'))
    await source2.setRepos([alice.did, bob.did, dave.did])
    await source2.processAll()
    expect(second.find('put', older.uri)).toBeDefined()
    const live = await create(dave, NSID.workload, workload('dave-live'))
    await second.waitFor('put', live.uri, live.cid)

    // Dropping a repo stops its events.
    await source2.setRepos([alice.did, dave.did])
    const dropped = await create(bob, NSID.workload, workload('bob-after-untrack'))
    const marker3 = await create(dave, NSID.workload, workload('marker-3'))
    await second.waitFor('put', marker3.uri, marker3.cid)
    await source2.processAll()
    expect(second.find('put', dropped.uri)).toBeUndefined()
  })

  test('a stored cursor the PDS has never reached (server reset) recovers: backfill, then live', async () => {
    const dir = fs.mkdtempSync(path.join(dataDir, 'future-'))
    const store = SqliteCursorStore.open(dir)
    stores.push(store)
    const wsKey = alice.pds.replace(/^http/, 'ws')
    await store.setCursor(wsKey, 1_000_000_000)
    const source = new AtprotoRecordSource({ identity, cursorStore: store, allowInsecureHttp: true, reconnectBaseMs: 100, settleMs: 500 })
    sources.push(source)
    const seen = new Collector()
    const existing = await create(alice, NSID.workload, workload('existing'))
    await source.setRepos([alice.did])
    await source.start(seen.handler)
    await seen.waitFor('put', existing.uri, existing.cid)
    const live = await create(alice, NSID.workload, workload('after-reset'))
    await seen.waitFor('put', live.uri, live.cid)
    // The stream now runs from live: the next event handled stores a real cursor over the bogus one.
    // (A write racing the resubscription is caught by backfill, not the stream: keep writing.)
    await eventually(async () => {
      const marker = await create(alice, NSID.workload, workload('cursor-marker'))
      await seen.waitFor('put', marker.uri, marker.cid)
      await source.processAll()
      expect(await store.getCursor(wsKey)).toBeLessThan(1_000_000_000)
    })
    await source.stop()
  })

  test('the cursor is stored in batches, not once per event, and the last handled position is stored on stop', async () => {
    class CountingStore extends MemoryCursorStore {
      writes = 0
      override async setCursor(source: string, seq: number): Promise<void> {
        this.writes++
        await super.setCursor(source, seq)
      }
    }
    const store = new CountingStore()
    const wsKey = alice.pds.replace(/^http/, 'ws')
    const source = new AtprotoRecordSource({ identity, cursorStore: store, allowInsecureHttp: true, reconnectBaseMs: 100, settleMs: 500 })
    sources.push(source)
    const seen = new Collector()
    await source.setRepos([alice.did])
    await source.start(seen.handler)
    const first = await create(alice, NSID.workload, workload('cursor-first'))
    await seen.waitFor('put', first.uri, first.cid)
    await eventually(async () => expect(await store.getCursor(wsKey)).toBeTypeOf('number'))
    const before = (await store.getCursor(wsKey))!
    const writesBefore = store.writes
    // 20 commits at once: each one is an event, handled one after another.
    const refs = await Promise.all(Array.from({ length: 20 }, (_, i) => create(alice, NSID.workload, workload(`cursor-burst-${i}`))))
    for (const r of refs) await seen.waitFor('put', r.uri, r.cid)
    await source.stop()
    expect(store.writes - writesBefore).toBeGreaterThan(0)
    expect(store.writes - writesBefore).toBeLessThan(20)
    // Nothing handled is forgotten: the store holds a position past all 20 (each commit is one seq).
    expect((await store.getCursor(wsKey))!).toBeGreaterThanOrEqual(before + 20)
  })

  test('relay mode: one stream for all tracked repos; a throwing handler does not stop intake', async () => {
    expect(() => new AtprotoRecordSource({ identity, cursorStore: new MemoryCursorStore(), relayUrl: alice.pds })).toThrow(/not encrypted/)
    // A PDS speaks the same subscribeRepos as a relay.
    const source = new AtprotoRecordSource({ identity, cursorStore: new MemoryCursorStore(), relayUrl: alice.pds, allowInsecureHttp: true, settleMs: 500 })
    sources.push(source)
    const seen = new Collector()
    await source.setRepos([alice.did])
    await source.start((e) => {
      seen.handler(e)
      throw new Error('handler bug')
    })
    const a = await create(alice, NSID.workload, workload('relay-a'))
    const b = await create(alice, NSID.workload, workload('relay-b'))
    await seen.waitFor('put', a.uri, a.cid)
    await seen.waitFor('put', b.uri, b.cid)
    await source.stop()
  })
})
