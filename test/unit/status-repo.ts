// An in-memory repo behind the real RecordWriter, decode and view, for tests of the status writer.
import { createHash } from 'node:crypto'
import { pino } from 'pino'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { NSID, type StrongRef, type Workload } from '../../src/core/types.js'
import { CommuneView } from '../../src/core/view.js'
import type { RecordPublisher, RecordValue, RepoWrite } from '../../src/ports/record-publisher.js'
import { RecordWriter } from '../../src/services/record-writer.js'
import { StatusReporter } from '../../src/services/status-reporter.js'
import { workload as workloadFixture } from '../core/fixtures.js'

export const MESHLET = 'did:plc:meshletmeshletmeshlet'
export const OWNER = 'did:plc:ownerownerownerowner'
export const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const B32 = 'abcdefghijklmnopqrstuvwxyz234567'
/** A valid CIDv1 (dag-cbor, sha-256 of `seed`) in base32: the lexicon checks CID syntax. */
export function cid(seed: string): string {
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

const S32 = '234567abcdefghijklmnopqrstuvwxyz'
/** A valid TID record key for the n-th create (decode checks bid keys are TIDs). */
function tid(n: number): string {
  return `3kb${Array.from({ length: 10 }, (_, i) => S32[Math.floor(n / 32 ** (9 - i)) % 32]).join('')}`
}

export class MemoryRepo implements RecordPublisher {
  readonly did = MESHLET
  readonly commits: RepoWrite[][] = []
  private n = 0
  private ref(w: RepoWrite): StrongRef {
    return { uri: `at://${MESHLET}/${w.collection}/${w.op === 'create' ? tid(++this.n) : w.rkey}`, cid: cid(`commit ${++this.n}`) }
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

export function workload(n: number): Workload {
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

export function setup(opts: { onHistoryFull?: (uri: string, dropped: number) => void } = {}) {
  let now = T0
  const clock = { now: () => now, monotonic: () => now - T0 }
  const view = new CommuneView()
  const repo = new MemoryRepo()
  const writer = new RecordWriter(
    repo,
    (w) => {
      if (w.cid === undefined) return void view.apply({ op: 'delete', did: w.did, collection: w.collection, rkey: w.rkey, uri: w.uri }, now)
      const ev = decodeRecord({ did: w.did, collection: w.collection, rkey: w.rkey, cid: w.cid, value: w.value })
      if (ev) view.apply(ev, now)
    },
    pino({ level: 'silent' }),
  )
  const reporter = new StatusReporter(view, writer, clock, MESHLET, opts.onHistoryFull)
  const ws = [1, 2, 3].map(workload)
  for (const w of ws) view.apply({ op: 'put', did: OWNER, collection: NSID.workload, rkey: w.rkey, uri: w.uri, cid: w.cid, record: { collection: NSID.workload, value: w } }, now)
  return { view, repo, writer, reporter, ws, advance: (ms: number) => (now += ms), setNow: (t: number) => (now = t), now: () => now }
}

