// notify (issue 16): the receiving and sending sides of hints, over in-memory ports (the proof check
// itself is tested with real repos in record-proof.test.ts, the whole path in integration/notify).
import { describe, expect, it } from 'vitest'
import { NSID, type StrongRef } from '../../src/core/types.js'
import { createLogger } from '../../src/logger.js'
import { loadRunConfig } from '../../src/config.js'
import type { HintApplied, HintTarget, PeerNotifier, ProofResult, ProvenRecord, RecordProofs } from '../../src/ports/record-hints.js'
import type { RecordSource } from '../../src/ports/record-source.js'
import { HintIntake } from '../../src/services/hint-intake.js'
import { HintSender } from '../../src/services/hint-sender.js'

const log = createLogger('test')
const ANN = 'did:plc:ann'
const BEN = 'did:plc:ben'
const wl = (rkey: string) => `at://${ANN}/${NSID.workload}/${rkey}`

class FakeProofs implements RecordProofs {
  calls: string[] = []
  result: (uri: string, cid: string) => ProofResult = (uri, cid) => {
    const [, , did, collection, rkey] = uri.split('/') as [string, string, string, string, string]
    return { ok: true, record: { did, collection, rkey, uri, cid, rev: '3k1', value: {} } }
  }
  gate: Promise<void> = Promise.resolve()
  async prove(did: string, collection: string, rkey: string, cid: string): Promise<ProofResult> {
    const uri = `at://${did}/${collection}/${rkey}`
    this.calls.push(`${uri} ${cid}`)
    await this.gate
    return this.result(uri, cid)
  }
}

function fakeSource(tracked: string[], outcome: HintApplied = 'applied'): RecordSource & { applied: ProvenRecord[] } {
  const applied: ProvenRecord[] = []
  return {
    applied,
    start: async () => {},
    setRepos: async () => {},
    isSynced: () => true,
    processAll: async () => {},
    stop: async () => {},
    tracks: (did) => tracked.includes(did),
    hinted: async (r) => (applied.push(r), outcome),
  }
}

describe('HintIntake', () => {
  it('refuses what is not ours or not followed before any fetch', async () => {
    const proofs = new FakeProofs()
    const intake = new HintIntake({ proofs, source: fakeSource([ANN]), log })
    const accepted = intake.receive(BEN, [
      { uri: `at://${ANN}/app.bsky.feed.post/1`, cid: 'c1' },
      { uri: 'at://ann.example.com/commune.scheduler.workload/1', cid: 'c1' },
      { uri: `at://${BEN}/${NSID.workload}/1`, cid: 'c1' },
      { uri: wl('1'), cid: '' },
    ])
    await intake.idle()
    expect(accepted).toBe(0)
    expect(proofs.calls).toEqual([])
    expect(intake.counts).toEqual({ 'bad-uri': 3, untracked: 1 })
  })

  it('applies a proven record once; the same uri+cid again costs no fetch', async () => {
    const proofs = new FakeProofs()
    const source = fakeSource([ANN])
    const intake = new HintIntake({ proofs, source, log })
    expect(intake.receive(BEN, [{ uri: wl('1'), cid: 'c1' }])).toBe(1)
    expect(intake.receive(BEN, [{ uri: wl('1'), cid: 'c1' }])).toBe(0)
    await intake.idle()
    expect(proofs.calls).toEqual([`${wl('1')} c1`])
    expect(source.applied.map((r) => r.uri)).toEqual([wl('1')])
    expect(intake.counts).toEqual({ applied: 1, duplicate: 1 })
    // A new version of the record is a new hint.
    intake.receive(BEN, [{ uri: wl('1'), cid: 'c2' }])
    await intake.idle()
    expect(proofs.calls).toHaveLength(2)
  })

  it('a hint that does not verify is dropped with its reason and not remembered: a genuine one later is fetched', async () => {
    const proofs = new FakeProofs()
    const source = fakeSource([ANN])
    const intake = new HintIntake({ proofs, source, log })
    const genuine = proofs.result
    proofs.result = () => ({ ok: false, reason: 'bad-proof', detail: 'Invalid signature' })
    intake.receive(BEN, [{ uri: wl('1'), cid: 'c1' }])
    await intake.idle()
    expect(intake.counts).toEqual({ 'bad-proof': 1 })
    expect(source.applied).toEqual([])
    proofs.result = genuine
    intake.receive(BEN, [{ uri: wl('1'), cid: 'c1' }])
    await intake.idle()
    expect(intake.counts).toEqual({ 'bad-proof': 1, applied: 1 })
  })

  it('what the source says (stale, duplicate) is counted as such', async () => {
    const intake = new HintIntake({ proofs: new FakeProofs(), source: fakeSource([ANN], 'stale'), log })
    intake.receive(BEN, [{ uri: wl('1'), cid: 'c1' }])
    await intake.idle()
    expect(intake.counts).toEqual({ stale: 1 })
  })

  it("forwards a workload once, only when its own repo's owner told about it and it was applied", async () => {
    const forwarded: [StrongRef, string][] = []
    const forward = (ref: StrongRef, except: string) => void forwarded.push([ref, except])
    const intake = new HintIntake({ proofs: new FakeProofs(), source: fakeSource([ANN]), log, forward })
    intake.receive(ANN, [{ uri: wl('1'), cid: 'c1' }]) // the owner (meshlet submit): forwarded
    intake.receive(BEN, [{ uri: wl('2'), cid: 'c2' }]) // someone else's hint: not forwarded again
    intake.receive(ANN, [{ uri: `at://${ANN}/${NSID.bid}/3`, cid: 'c3' }]) // not a workload
    await intake.idle()
    expect(forwarded).toEqual([[{ uri: wl('1'), cid: 'c1' }, ANN]])
    const stale = new HintIntake({ proofs: new FakeProofs(), source: fakeSource([ANN], 'duplicate'), log, forward })
    stale.receive(ANN, [{ uri: wl('4'), cid: 'c4' }])
    await stale.idle()
    expect(forwarded).toHaveLength(1)
  })

  it('fetches a few at a time and drops what overflows the queue', async () => {
    const proofs = new FakeProofs()
    let open!: () => void
    proofs.gate = new Promise((r) => (open = r))
    const intake = new HintIntake({ proofs, source: fakeSource([ANN]), log, concurrency: 2, maxQueued: 3 })
    const refs = Array.from({ length: 8 }, (_, i) => ({ uri: wl(String(i)), cid: `c${i}` }))
    expect(intake.receive(BEN, refs)).toBe(5) // 2 fetching + 3 waiting
    await new Promise((r) => setImmediate(r))
    expect(proofs.calls).toHaveLength(2)
    open()
    await intake.idle()
    expect(intake.counts).toEqual({ applied: 5, overloaded: 3 })
  })
})

class FakeNotifier implements PeerNotifier {
  calls: { to: string; uris: string[] }[] = []
  failing = new Set<string>()
  async notify(t: HintTarget, records: StrongRef[]): Promise<void> {
    this.calls.push({ to: t.did, uris: records.map((r) => r.uri) })
    if (this.failing.has(t.did)) throw new Error('connection refused')
  }
}

describe('HintSender', () => {
  const SELF = 'did:plc:self'
  const targets = () => [
    { did: SELF, endpoint: 'http://127.0.0.1:1' },
    { did: 'did:plc:m1', endpoint: 'http://127.0.0.1:2' },
    { did: 'did:plc:m2', endpoint: 'http://127.0.0.1:3' },
  ]
  const bid = (i: number) => `at://${SELF}/${NSID.bid}/${i}`

  it('coalesces the writes of one tick into one call per other meshlet; never itself; no deletes or foreign collections', async () => {
    const n = new FakeNotifier()
    let now = 0
    const s = new HintSender({ self: SELF, notifier: n, targets, log, now: () => now })
    s.written(NSID.bid, bid(1), 'c1')
    s.written(NSID.workloadStatus, `at://${SELF}/${NSID.workloadStatus}/x`, 'c2')
    s.written(NSID.profile, `at://${SELF}/${NSID.profile}/self`, 'c3') // a (rare) heartbeat or a refute: hinted
    s.written(NSID.suspicion, `at://${SELF}/${NSID.suspicion}/s1`, 'c4') // starts observers' confirm window: hinted
    s.written('app.bsky.feed.post', `at://${SELF}/app.bsky.feed.post/p`, 'c5') // not ours: not hinted
    s.written(NSID.bid, bid(2), undefined) // a delete: not hinted
    await s.idle()
    expect(n.calls.map((c) => c.to).sort()).toEqual(['did:plc:m1', 'did:plc:m2'])
    expect(n.calls[0]!.uris).toEqual([bid(1), `at://${SELF}/${NSID.workloadStatus}/x`, `at://${SELF}/${NSID.profile}/self`, `at://${SELF}/${NSID.suspicion}/s1`])
    now++
  })

  it('splits more than 16 records into several calls', async () => {
    const n = new FakeNotifier()
    const s = new HintSender({ self: SELF, notifier: n, targets: () => targets().slice(0, 2), log, now: () => 0 })
    for (let i = 0; i < 20; i++) s.written(NSID.bid, bid(i), `c${i}`)
    await s.idle()
    expect(n.calls.map((c) => c.uris.length)).toEqual([16, 4])
  })

  it('a receiver that keeps failing is skipped while its breaker is open, then tried once', async () => {
    const n = new FakeNotifier()
    n.failing.add('did:plc:m1')
    let now = 0
    const s = new HintSender({ self: SELF, notifier: n, targets, log, now: () => now, breaker: { threshold: 2, openMs: 1000, maxOpenMs: 4000 } })
    for (let i = 0; i < 5; i++) {
      s.written(NSID.bid, bid(i), `c${i}`)
      await s.idle()
    }
    expect(n.calls.filter((c) => c.to === 'did:plc:m1')).toHaveLength(2)
    expect(n.calls.filter((c) => c.to === 'did:plc:m2')).toHaveLength(5)
    expect(s.counts).toEqual({ sent: 5, failed: 2, skipped: 3 })
    now = 1000
    n.failing.clear()
    s.written(NSID.bid, bid(9), 'c9')
    await s.idle()
    expect(n.calls.filter((c) => c.to === 'did:plc:m1')).toHaveLength(3)
  })

  it('forwarding skips the one who told', async () => {
    const n = new FakeNotifier()
    const s = new HintSender({ self: SELF, notifier: n, targets, log, now: () => 0 })
    s.send({ uri: wl('1'), cid: 'c1' }, 'did:plc:m2')
    await s.idle()
    expect(n.calls.map((c) => c.to)).toEqual(['did:plc:m1'])
  })
})

describe('--notify', () => {
  const base = ['--did', 'did:plc:a', '--owner', 'did:plc:o', '--password', 'x', '--allow-http']
  it('is on by default; off turns it off; anything else is refused', () => {
    expect(loadRunConfig(base, {}).notify).toBe(true)
    expect(loadRunConfig([...base, '--notify', 'off'], {}).notify).toBe(false)
    expect(loadRunConfig(base, { MESHLET_NOTIFY: 'off' }).notify).toBe(false)
    expect(() => loadRunConfig([...base, '--notify', 'maybe'], {})).toThrow(/notify.*on or off/)
  })
})

describe('HintIntake and what the view holds', () => {
  it('a record the source already delivered (the firehose was first) costs no fetch', async () => {
    const proofs = new FakeProofs()
    const source = { ...fakeSource([ANN]), knows: (_d: string, _c: string, rkey: string, cid: string) => rkey === '1' && cid === 'c1' }
    const intake = new HintIntake({ proofs, source, log })
    expect(intake.receive(BEN, [{ uri: wl('1'), cid: 'c1' }, { uri: wl('1'), cid: 'c0' }])).toBe(1)
    await intake.idle()
    expect(proofs.calls).toEqual([`${wl('1')} c0`])
    expect(intake.counts.duplicate).toBe(1)
  })
})
