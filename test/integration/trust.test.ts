// Trust on a real AT network (issue 10): a rogue member — properly linked and mutually verified, so
// every peer follows its repo — writes records by hand with a plain @atproto/api client, the way a
// modified peer would. Honest peers must check what it claims against public records, and its
// records must change nothing they run. Checked on the Docker engine, not just in the views.
// On a loaded 2-core machine one process hosting PDSes and peers may starve long enough that a
// meshlet's heartbeat does not land and it fences its batch job (killed, not re-run: at most once);
// the job-count test accepts that outcome, never a second start.
import type { AtpAgent } from '@atproto/api'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import { statusRkey } from '../../src/core/hash.js'
import { NSID } from '../../src/core/types.js'
import { LABEL } from '../../src/adapters/docker/labels.js'
import { runExplain } from '../../src/client/explain-command.js'
import { copiesOf, docker, keptHolders, sleep, sleeper } from '../helpers/faults.js'

const LEASE_MS = 8000
const EPOCH_MS = 3_600_000

/** The rogue's meshlet repo: linkage, membership and a profile, then a heartbeat, all by hand. */
class Rogue {
  private timer: NodeJS.Timeout | undefined
  constructor(
    private readonly c: DevCommune,
    readonly m: Member,
  ) {}
  get agent(): AtpAgent {
    return this.m.meshlet.agent
  }
  get did(): string {
    return this.m.meshlet.did
  }

  async join(): Promise<void> {
    const now = new Date().toISOString()
    await this.put(NSID.meshletOwner, 'self', { ownerDid: this.m.owner.did, createdAt: now })
    await this.put(NSID.membership, 'self', { members: this.c.members.filter((x) => x !== this.m).map((x) => x.owner.did), createdAt: now })
    await this.heartbeat()
    this.timer = setInterval(() => void this.heartbeat().catch(() => {}), LEASE_MS / 4)
  }

  heartbeat(): Promise<unknown> {
    return this.put(NSID.profile, 'self', {
      endpoint: 'http://127.0.0.1:9',
      roles: ['worker'],
      labels: [],
      capabilities: [],
      cpuMillis: 4000,
      memoryMb: 8192,
      leaseMs: LEASE_MS,
      updatedAt: new Date().toISOString(),
    })
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  async put(collection: string, rkey: string, record: Record<string, unknown>): Promise<{ uri: string; cid: string }> {
    const res = await this.agent.com.atproto.repo.putRecord({ repo: this.did, collection, rkey, record: { $type: collection, ...record }, validate: false })
    return { uri: res.data.uri, cid: res.data.cid }
  }

  /** The highest bid the lexicon allows an honest peer to publish, with a capacity snapshot that looks real. */
  async inflatedBid(w: { uri: string; cid: string }, resources: { cpuMillis: number; memoryMb: number }): Promise<{ uri: string; cid: string }> {
    const res = await this.agent.com.atproto.repo.createRecord({
      repo: this.did,
      collection: NSID.bid,
      record: {
        $type: NSID.bid,
        workload: w,
        priority: 1000,
        capacity: { cpuMillisFree: 4000, memoryMbFree: 8192, loadPermille: 0, onBattery: false, thermal: 'nominal' },
        epoch: Math.floor(Date.now() / EPOCH_MS),
        resources,
        createdAt: new Date().toISOString(),
      },
      validate: false,
    })
    return { uri: res.data.uri, cid: res.data.cid }
  }

  /** A status at the canonical key, claiming `state` with the given bid reference and priority. */
  status(w: { uri: string; cid: string }, state: string, extra: Record<string, unknown>): Promise<{ uri: string; cid: string }> {
    const now = new Date().toISOString()
    return this.put(NSID.workloadStatus, statusRkey(w.uri), { workload: w, state, replica: 0, startedAt: now, updatedAt: now, leaseMs: 1_800_000, ...extra })
  }
}

/** Container start events on the engine for one workload since `since` (seconds). */
async function startEvents(uri: string, since: number): Promise<{ id: string; meshlet: string }[]> {
  const stream = (await docker.getEvents({ since, until: Math.ceil(Date.now() / 1000) + 1, filters: { type: ['container'], event: ['start'], label: [`${LABEL.workload}=${uri}`] } })) as unknown as NodeJS.ReadableStream
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; Actor: { Attributes: Record<string, string> } })
    .map((e) => ({ id: e.id, meshlet: e.Actor.Attributes[LABEL.meshlet] ?? '' }))
}

/** Every running peer sees the same kept holders for `uri`; returns them. */
async function agreedHolders(c: DevCommune, uri: string, n = 1): Promise<string[]> {
  return waitFor(
    () => {
      const views = c.peers().map((p) => (keptHolders(p, uri) ?? []).join(','))
      return views[0] && views.every((v) => v === views[0]) && views[0].split(',').length === n ? views[0].split(',') : false
    },
    { what: `peers to agree on ${n} holder(s) of ${uri}`, timeoutMs: 40_000 },
  )
}

describe('a rogue member changes nothing honest peers run', () => {
  let c: DevCommune
  let rogue: Rogue
  const since = Math.floor(Date.now() / 1000) - 1
  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }, { name: 'mal', silent: true }], leaseMs: LEASE_MS, bidWindowMs: 2000 })
    rogue = new Rogue(c, c.member('mal'))
    await rogue.join()
    await c.startAll()
  }, 120_000)
  afterAll(async () => {
    rogue?.stop()
    await c?.close()
  })

  test('an inflated bid and a claim without a bid are invalid everywhere; the honest container keeps running', async () => {
    const resources = { cpuMillis: 100, memoryMb: 32 }
    const w = await c.publishWorkload(c.member('ann'), sleeper('rogue-target', { resources }))
    const bid = await rogue.inflatedBid(w, resources)
    const holders = await agreedHolders(c, w.uri)
    expect(holders[0]).not.toBe(rogue.did)
    const running = await waitFor(async () => {
      const copies = await copiesOf(w.uri)
      return copies.length === 1 && copies[0]!.meshlet === holders[0] ? copies[0]! : false
    }, { what: 'the honest holder to run its container', timeoutMs: 30_000 })

    // A claim at the lexicon's top priority, standing on a bid that does not exist.
    await rogue.status(w, 'running', { priority: 1_000_000, bid: { uri: `at://${rogue.did}/${NSID.bid}/3kzzzzzzzzzz2`, cid: bid.cid } })
    // And one standing on its real (inflated) bid, with that bid's priority.
    await sleep(3000)
    await rogue.status(w, 'running', { priority: 1000, bid })
    await sleep(3000)
    for (const p of c.peers()) {
      expect(keptHolders(p, w.uri), `${p.settings.did} still keeps the honest holder`).toEqual(holders)
      const mine = p.control.workloadStatus(w.uri).bids.filter((b) => b.meshlet === rogue.did)
      expect(mine.length, `${p.settings.did} explains the rogue's records`).toBeGreaterThan(0)
      expect(mine.every((b) => b.outcome === 'invalid'), JSON.stringify(mine)).toBe(true)
      expect(mine.map((b) => b.reason).join('\n')).toMatch(/recomputed/)
    }
    const after = await copiesOf(w.uri)
    expect(after.map((x) => x.id), 'the same container, never stopped or replaced').toEqual([running.id])
    expect((await startEvents(w.uri, since)).map((e) => e.id)).toEqual([running.id])

    // Anyone can check it: explain, with no credentials, gives every peer's answer.
    const res = await runExplain([w.uri, '--json', '--plc', c.net.plcUrl, '--allow-http'], {})
    expect(res.code, res.text).toBe(0)
    const x = JSON.parse(res.text) as { holders: { meshlet: string }[]; outcomes: { meshlet: string; outcome: string; priority?: number }[] }
    expect(x.holders.map((h) => h.meshlet)).toEqual(holders)
    const key = (o: { meshlet: string; outcome: string; priority?: number }) => `${o.meshlet} ${o.outcome} ${o.priority ?? ''}`
    for (const p of c.peers()) {
      const theirs = (p.scheduler.decisions.get(w.uri)?.outcomes ?? []).map(key).sort()
      expect(x.outcomes.map(key).sort(), `explain agrees with ${p.settings.did}`).toEqual(theirs)
    }
    await c.deleteRecord(c.member('ann').owner.agent, w.uri)
  }, 90_000)

  test('a forged completion does not end a batch job that another meshlet is running', async () => {
    const resources = { cpuMillis: 100, memoryMb: 32 }
    const w = await c.publishWorkload(c.member('ben'), { name: 'rogue-batch', image: 'meshlet/busybox:test', command: ['sleep', '10'], kind: 'batch', replicas: 1, resources })
    const bid = await rogue.inflatedBid(w, resources)
    const holders = await agreedHolders(c, w.uri)
    const running = await waitFor(async () => {
      const copies = await copiesOf(w.uri)
      return copies.length === 1 ? copies[0]! : false
    }, { what: 'the batch job to start', timeoutMs: 30_000 })
    expect(running.meshlet).toBe(holders[0])
    await rogue.status(w, 'exited', { exitCode: 0, priority: 1000, bid, containerId: 'f'.repeat(64) })
    await sleep(3000)
    expect((await copiesOf(w.uri)).map((x) => x.id), 'still running after the forged completion').toEqual([running.id])
    // It ends by itself, reported by the meshlet that ran it.
    const done = await waitFor(() => {
      const s = c.peers()[0]!.view.statusesFor(w.uri).find((x) => x.meshlet === holders[0])
      return s?.state === 'exited' ? s : false
    }, { what: 'the holder to report the job exited', timeoutMs: 30_000 })
    expect(done.exitCode).toBe(0)
    expect(await startEvents(w.uri, since)).toHaveLength(1)
  }, 90_000)

  test('batch jobs of one replica each start exactly once (counted on the engine)', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => c.publishWorkload(c.member(['ann', 'ben', 'cat'][i % 3]!), { name: `once-${i}`, image: 'meshlet/busybox:test', command: ['sleep', '1'], kind: 'batch', replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 } })),
    )
    for (const w of jobs) {
      // Ended: exited, or failed when a loaded machine's heartbeat lapsed and its meshlet fenced
      // the job (at most once: a fenced job is not run again; counted below all the same).
      await waitFor(() => c.peers().some((p) => p.view.statusesFor(w.uri).some((s) => (s.state === 'exited' || s.state === 'failed') && s.meshlet !== rogue.did)), {
        what: `${w.uri} to finish`,
        // Acks wait to hear every live member (or a grace past the window): on a loaded 2-core CI
        // machine, six jobs at once can take over a minute to settle.
        timeoutMs: 150_000,
        // What each peer saw and decided, so a stall says why.
        onTimeout: () => JSON.stringify(c.peers().map((p) => ({ peer: p.settings.did, statuses: p.view.statusesFor(w.uri).map((s) => `${s.meshlet} ${s.state} r${s.replica} ${s.message ?? ''}`), bids: p.view.bidsFor(w.uri).map((b) => `${b.meshlet} ${b.priority} acks=${JSON.stringify(b.acks ?? [])} renounced=${JSON.stringify(b.renounced ?? [])}`), decision: p.scheduler.decisions.get(w.uri) && { phase: p.scheduler.decisions.get(w.uri)!.phase, start: p.scheduler.decisions.get(w.uri)!.start, holders: p.scheduler.decisions.get(w.uri)!.holders, self: p.scheduler.decisions.get(w.uri)!.self } })), null, 1),
      })
    }
    await sleep(2000)
    for (const w of jobs) {
      const starts = await startEvents(w.uri, since)
      // (Which meshlet started which container, and every peer's statuses, so a failure says why.)
      const why = JSON.stringify({ starts: starts.map((e) => `${e.meshlet} ${e.id.slice(0, 12)}`), statuses: c.peers()[0]!.view.statusesFor(w.uri).map((s) => `${s.meshlet} ${s.state} replica ${s.replica} ${s.containerId?.slice(0, 12) ?? ''} ${s.message ?? ''}`) })
      const ended = c.peers()[0]!.view.statusesFor(w.uri).find((s) => s.meshlet !== rogue.did && (s.state === 'exited' || s.state === 'failed'))
      if (ended?.state === 'failed') {
        // Only fencing may end one of these jobs early, and it says so; it still ran at most once.
        expect(ended.message, why).toMatch(/fencing/)
        expect(starts.length, `${w.uri} start events: ${why}`).toBeLessThanOrEqual(1)
      } else expect(starts, `${w.uri} start events: ${why}`).toHaveLength(1)
    }
  }, 240_000)
})
