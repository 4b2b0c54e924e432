import { createHash } from 'node:crypto'
// Status leases: every claim-state status says leaseMs = 30 min, and the reporter re-writes the ones
// last written 10 minutes ago (in one commit), so the ledger sees a runner that stops renewing stop
// earning. The statuses go through the real RecordWriter, decode and view, to an in-memory repo.
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { STATUS_LEASE_MS, STATUS_RENEW_MS } from '../../src/core/liveness.js'
import { NSID, type StrongRef, type Workload } from '../../src/core/types.js'
import { CommuneView } from '../../src/core/view.js'
import type { RecordPublisher, RecordValue, RepoWrite } from '../../src/ports/record-publisher.js'
import { RecordWriter } from '../../src/services/record-writer.js'
import { StatusReporter } from '../../src/services/status-reporter.js'
import { workload as workloadFixture } from '../core/fixtures.js'

const MESHLET = 'did:plc:meshletmeshletmeshlet'
const OWNER = 'did:plc:ownerownerownerowner'
const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const B32 = 'abcdefghijklmnopqrstuvwxyz234567'
/** A valid CIDv1 (dag-cbor, sha-256 of `seed`) in base32: the lexicon checks CID syntax. */
function cid(seed: string): string {
  const bytes = Buffer.concat([Buffer.from([0x01, 0x71, 0x12, 0x20]), createHash('sha256').update(seed).digest()])
  let bits = 0
  let acc = 0
  let out = 'b'
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xfff
    bits += 8
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out
}

class MemoryRepo implements RecordPublisher {
  readonly did = MESHLET
  readonly commits: RepoWrite[][] = []
  private n = 0
  private ref(w: RepoWrite): StrongRef {
    return { uri: `at://${MESHLET}/${w.collection}/${w.op === 'create' ? `3t${++this.n}` : w.rkey}`, cid: cid(`commit ${++this.n}`) }
  }
  async put(collection: string, rkey: string, value: RecordValue) {
    return (await this.applyWrites([{ op: 'put', collection, rkey, value }]))[0]!
  }
  async create(collection: string, value: RecordValue) {
    return (await this.applyWrites([{ op: 'create', collection, value }]))[0]!
  }
  async delete(collection: string, rkey: string) {
    await this.applyWrites([{ op: 'delete', collection, rkey }])
  }
  async applyWrites(writes: RepoWrite[]) {
    this.commits.push(writes)
    return writes.map((w) => (w.op === 'delete' ? undefined : this.ref(w)))
  }
}

function workload(n: number): Workload {
  const rkey = `3kw00000000${n}`
  return workloadFixture({
    uri: `at://${OWNER}/${NSID.workload}/${rkey}`,
    cid: cid(`workload ${n}`),
    owner: OWNER,
    rkey,
    name: `w${n}`,
    resources: { cpuMillis: 100, memoryMb: 64 },
    createdAt: new Date(T0).toISOString(),
  })
}

function setup() {
  let now = T0
  const clock = { now: () => now, monotonic: () => now - T0 }
  const view = new CommuneView()
  const repo = new MemoryRepo()
  const writer = new RecordWriter(
    repo,
    (w) => {
      if (w.cid === undefined) return
      const ev = decodeRecord({ did: w.did, collection: w.collection, rkey: w.rkey, cid: w.cid, value: w.value })
      if (ev) view.apply(ev, now)
    },
    pino({ level: 'silent' }),
  )
  const reporter = new StatusReporter(view, writer, clock, MESHLET)
  const ws = [1, 2, 3].map(workload)
  for (const w of ws) view.apply({ op: 'put', did: OWNER, collection: NSID.workload, rkey: w.rkey, uri: w.uri, cid: w.cid, record: { collection: NSID.workload, value: w } }, now)
  return { view, repo, writer, reporter, ws, advance: (ms: number) => (now += ms), now: () => now }
}

const bidRef = { uri: `at://${MESHLET}/${NSID.bid}/3kb0000000001`, cid: cid('bid') }

describe('status leases', () => {
  test('claim states carry leaseMs = 30 min; ended states carry none', async () => {
    const { reporter, ws, writer } = setup()
    await reporter.claim(ws[0]!, { bid: bidRef, priority: 500, replica: 0 })
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBe(STATUS_LEASE_MS)
    await reporter.update(ws[0]!, { state: 'running', containerId: 'c1', message: 'running' })
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBe(1_800_000)
    await reporter.update(ws[0]!, { state: 'exited', containerId: 'c1', exitCode: 0, message: 'completed (exit 0)' })
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBeUndefined()
    await reporter.release(ws[0]!, 'stopped by its owner')
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBeUndefined()
    await writer.idle()
  })

  test('claim-state statuses are renewed 10 minutes after their last write, in one commit, unchanged but for updatedAt', async () => {
    const { reporter, ws, repo, writer, advance, now } = setup()
    await reporter.claim(ws[0]!, { bid: bidRef, priority: 500, replica: 0 })
    await reporter.update(ws[0]!, { state: 'running', containerId: 'c1', message: 'running', startedAt: new Date(now()).toISOString() })
    await reporter.claim(ws[1]!, { bid: bidRef, priority: 400, replica: 1 })
    await reporter.claim(ws[2]!, { bid: bidRef, priority: 300, replica: 0 })
    await reporter.update(ws[2]!, { state: 'failed', message: 'exit code 1' })
    await writer.idle()
    const before = reporter.own(ws[0]!.uri)!

    advance(STATUS_RENEW_MS - 1)
    expect(await reporter.renewDue()).toBe(0)
    advance(1)
    const commits = repo.commits.length
    expect(await reporter.renewDue()).toBe(2) // the two live claims; the failed one has ended
    await writer.idle()
    const after = reporter.own(ws[0]!.uri)!
    expect(after.updatedAt).toBe(new Date(now()).toISOString())
    const { updatedAt: _a, cid: _c, ...same } = after
    const { updatedAt: _b, cid: _d, ...was } = before
    expect(same).toEqual(was) // bid, priority, replica, containerId, startedAt, message, leaseMs kept
    expect(reporter.own(ws[1]!.uri)?.updatedAt).toBe(new Date(now()).toISOString())
    expect(reporter.own(ws[2]!.uri)?.state).toBe('failed')
    // Renewals that wait go out together: at most a lone put and one batch, never one commit each per status.
    expect(repo.commits.length - commits).toBeLessThanOrEqual(2)
    expect(repo.commits.slice(commits).flat()).toHaveLength(2)

    // Just renewed: nothing due until another 10 minutes pass.
    advance(STATUS_RENEW_MS - 1)
    expect(await reporter.renewDue()).toBe(0)
  })

  test('a status of an older version of the workload is not renewed', async () => {
    const { reporter, ws, view, advance, writer } = setup()
    await reporter.claim(ws[0]!, { bid: bidRef, priority: 500, replica: 0 })
    await writer.idle()
    const v2 = { ...ws[0]!, cid: cid('workload 1 v2') }
    view.apply({ op: 'put', did: OWNER, collection: NSID.workload, rkey: v2.rkey, uri: v2.uri, cid: v2.cid, record: { collection: NSID.workload, value: v2 } }, 0)
    advance(STATUS_RENEW_MS)
    expect(await reporter.renewDue()).toBe(0)
  })
})
