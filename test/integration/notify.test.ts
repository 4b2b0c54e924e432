// notify (issue 16 part 1) on a real PLC + 2 stock PDSes and real peers: a hint is only a reason to
// look now. A genuine one is fetched, proven and applied once; forged or mismatched ones are dropped
// with their reason and the peer keeps running; and while the PDS's firehose has not polled yet, a
// hinted record is already seen (the bench measures the speed-up against the stock back-off).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import type { DevPds } from '../../src/devnet/network.js'
import { NotifyClient } from '../../src/adapters/atproto/notify-client.js'
import { NSID } from '../../src/core/types.js'
import type { Meshlet } from '../../src/meshlet.js'
import { sleeper } from '../helpers/faults.js'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { cmdSubmit, createClientContext } from '../../src/client/commands.js'

// No meshlet offers this role: the workload is seen and judged, never bid on or run.
const unplaceable = (name: string) => sleeper(name, { constraints: { roles: ['notify-test-none'] } })

function ownerNotifier(m: Member): NotifyClient {
  // A notify call may take a while on a loaded machine: these tests are about what happens, not speed.
  return new NotifyClient({ mint: async (aud, lxm, exp) => (await m.owner.agent.com.atproto.server.getServiceAuth({ aud, lxm, exp })).data.token, timeoutMs: 20_000 })
}

const counts = (p: Meshlet) => p.hints.intake!.counts
const puts = (p: Meshlet, uri: string) => p.feed.recent().filter((i) => i.uri === uri && i.op === 'put').length

interface SequencerInternals {
  exponentialBackoff(): Promise<void>
}

/**
 * Holds a PDS's firehose back: its sequencer finds new commits by polling and waits between polls
 * (up to 1 s when idle); while held it waits until released, as an idle PDS does between two polls.
 * `hold` resolves once the poller is parked, so no commit written after it reaches the firehose.
 */
function holdFirehose(pds: DevPds) {
  const seq = pds.server.ctx.sequencer as unknown as SequencerInternals
  const original = seq.exponentialBackoff.bind(seq)
  let gate: Promise<void> | undefined
  let open: (() => void) | undefined
  let parked = false
  seq.exponentialBackoff = async () => {
    await original()
    while (gate) {
      parked = true
      await gate
    }
    parked = false
  }
  return {
    async hold() {
      gate = new Promise((r) => (open = r))
      await waitFor(() => parked, { what: 'the PDS poller to park', intervalMs: 5 })
    },
    release() {
      gate = undefined
      open?.()
    },
    restore() {
      seq.exponentialBackoff = original
    },
  }
}

describe('notify: direct hints between peers', () => {
  let c: DevCommune
  let ann: Member
  let ben: Member
  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann', pdsIndex: 0 }, { name: 'ben', pdsIndex: 1 }], leaseMs: 8000 })
    await c.startAll()
    ann = c.member('ann')
    ben = c.member('ben')
    // Hints are taken only from the cluster: under load the peers may start before each has seen the
    // other's linkage and membership records (CI: "is not in this meshlet's cluster").
    await waitFor(() => ben.peer!.control.isClusterMember(ann.owner.did) && ben.peer!.control.isClusterMember(ann.meshlet.did) && ann.peer!.control.isClusterMember(ben.owner.did), { what: 'ann and ben in each other\'s cluster', timeoutMs: 60_000 })
  }, 120_000)
  afterAll(async () => c?.close())

  test('a genuine hint and the firehose copy of the record reach the view once; the token is reused', async () => {
    const notifier = ownerNotifier(ann)
    const peer = ben.peer!
    const target = { did: ben.meshlet.did, endpoint: peer.url }
    const ref = await c.publishWorkload(ann, unplaceable('hinted'))
    await notifier.notify(target, [ref])
    await notifier.notify(target, [ref]) // the same hint again: known, no second fetch
    await waitFor(() => peer.view.workload(ref.uri)?.cid === ref.cid, { what: 'ben to hold the workload' })
    await peer.hints.intake!.idle()
    // Whichever came first (the hint, usually), the firehose's copy comes too: a later record left to
    // the firehose alone is seen after it (one stream per PDS, in order).
    const marker = await c.publishWorkload(ann, unplaceable('marker'))
    await waitFor(() => peer.view.workload(marker.uri), { what: 'ben to see the marker through the firehose' })
    expect(puts(peer, ref.uri)).toBe(1)
    expect(counts(peer).duplicate ?? 0).toBeGreaterThanOrEqual(1)
    // One getServiceAuth for both calls: notify accepts its token again within exp.
    expect(notifier.minted).toBe(1)
    await c.deleteRecord(ann.owner.agent, ref.uri)
    await c.deleteRecord(ann.owner.agent, marker.uri)
  })

  test('forged or mismatched hints are dropped with their reason, and the peer keeps running', async () => {
    const peer = ben.peer!
    const notifier = ownerNotifier(ann)
    const target = { did: ben.meshlet.did, endpoint: peer.url }
    const real = await c.publishWorkload(ann, unplaceable('real'))
    const other = await c.publishWorkload(ann, unplaceable('other'))
    const before = { ...counts(peer) }
    const delta = (k: string) => (counts(peer)[k] ?? 0) - (before[k] ?? 0)
    await notifier.notify(target, [
      { uri: real.uri, cid: other.cid }, // wrong cid: the proof shows another record at that key
      { uri: `at://did:plc:notamember0000000000000/${NSID.workload}/3kabc`, cid: real.cid }, // a repo ben does not follow
      { uri: real.uri.replace(NSID.workload, 'app.bsky.feed.post'), cid: real.cid }, // not one of our collections
      { uri: `${real.uri.slice(0, real.uri.lastIndexOf('/'))}/3kgone`, cid: real.cid }, // no such record
    ])
    await peer.hints.intake!.idle()
    expect(delta('cid-mismatch')).toBe(1)
    expect(delta('untracked')).toBe(1)
    expect(delta('bad-uri')).toBe(1)
    expect(delta('absent')).toBe(1)
    // Nothing from the forged hints reached the view; the real records came in as usual.
    await waitFor(() => peer.view.workload(real.uri)?.cid === real.cid && peer.view.workload(other.uri)?.cid === other.cid, { what: 'the real records' })
    expect(peer.view.workload(`${real.uri.slice(0, real.uri.lastIndexOf('/'))}/3kgone`)).toBeUndefined()
    const health = await fetch(`${peer.url}/health`)
    expect(health.status).toBe(200)
    await c.deleteRecord(ann.owner.agent, real.uri)
    await c.deleteRecord(ann.owner.agent, other.uri)
  })

  test('while the firehose is held back (an idle PDS between polls), a hinted workload is seen and a plain one waits', async () => {
    const peer = ben.peer!
    const annPeer = ann.peer!
    const notifier = ownerNotifier(ann)
    const target = { did: ben.meshlet.did, endpoint: peer.url }
    const hold = holdFirehose(c.net.pdses[0]!) // ann's PDS
    const seenMs: number[] = []
    try {
      for (let i = 0; i < 3; i++) {
        await hold.hold()
        const applied = counts(peer).applied ?? 0
        const plain = await c.publishWorkload(ann, unplaceable(`held-${i}-p`))
        const t0 = Date.now()
        const hinted = await c.publishWorkload(ann, unplaceable(`held-${i}-h`))
        await notifier.notify(target, [hinted])
        const seen = await waitFor(() => peer.timeline.get(hinted.uri)?.seen, { what: 'ben to see the hinted workload with the firehose held', intervalMs: 5, timeoutMs: 20_000 })
        seenMs.push(seen - t0)
        await peer.hints.intake!.idle()
        expect(counts(peer).applied).toBe(applied + 1)
        // The plain one is in the PDS but not on its firehose yet: nobody told ben.
        expect(peer.view.workload(plain.uri)).toBeUndefined()
        hold.release()
        await waitFor(() => peer.view.workload(plain.uri), { what: 'the plain workload once the firehose polls again' })
        await c.deleteRecord(ann.owner.agent, plain.uri)
        await c.deleteRecord(ann.owner.agent, hinted.uri)
      }
    } finally {
      hold.release()
      hold.restore()
    }
    console.log(`record -> seen at ben through a hint, firehose held: ${JSON.stringify(seenMs.map(Math.round))} ms`)
    // Ben applied hints from the records' own repo (ann, as meshlet submit does), so it forwarded them
    // once to ann's meshlet, with tokens from its own PDS; ann's meshlet took them (applied or known).
    await waitFor(() => peer.hints.sender!.counts.sent > 0 && Object.values(counts(annPeer)).reduce((a, b) => a + b, 0) > 0, { what: "the forwarded hint at ann's meshlet", onTimeout: () => JSON.stringify({ ben: counts(peer), sent: peer.hints.sender!.counts, ann: counts(annPeer) }) })
  }, 180_000)

  test('meshlet submit hints the owner\'s meshlet: with the firehose held, the workload is seen', async () => {
    const ctx = await createClientContext({ service: ann.owner.pds, identifier: ann.owner.handle, password: ann.owner.password, plcUrl: c.net.plcUrl, allowInsecureHttp: true })
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-notify-'))
    const file = path.join(dir, 'held-submit.json')
    await fs.writeFile(file, JSON.stringify(unplaceable('held-submit')))
    const hold = holdFirehose(c.net.pdses[0]!)
    let uri = ''
    try {
      await hold.hold()
      const res = await cmdSubmit(ctx, file, { json: true })
      const out = JSON.parse(res.text) as { uri: string; notified: string[] }
      uri = out.uri
      expect(out.notified).toEqual([ann.meshlet.did])
      // Ann's meshlet heard it from its owner, checked it, and forwarded it to ben: both see it
      // although the record has not been on the firehose yet.
      await waitFor(() => ann.peer!.view.workload(uri) && ben.peer!.view.workload(uri), { what: 'both meshlets to see the submitted workload', timeoutMs: 20_000 })
    } finally {
      hold.release()
      hold.restore()
      await fs.rm(dir, { recursive: true, force: true })
    }
    if (uri) await c.deleteRecord(ann.owner.agent, uri)
  }, 60_000)
})
