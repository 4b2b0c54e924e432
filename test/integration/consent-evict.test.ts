// Issue 17, consent per machine and the owner's eviction, on a real commune (real PLC + 2 PDS,
// real firehose, real Docker): ann owns two meshlets, ann-mesh (lists ben) and ann2-mesh (lists
// nobody); ben owns ben-mesh (lists ann). ann2-mesh never runs ben's work although its sibling
// lists ben; ann evicts ben's workload from ann-mesh, and the eviction survives a restart.
import fs from 'node:fs'
import path from 'node:path'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createIdResolver } from '../../src/client/commands.js'
import { MeshletCallError } from '../../src/client/errors.js'
import { MeshletClient } from '../../src/client/meshlet-client.js'
import { NSID } from '../../src/core/types.js'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import type { DevAccount } from '../../src/devnet/network.js'
import { EVICTED_REASON } from '../../src/ports/eviction-store.js'
import { sleeper } from '../helpers/faults.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const running = (uri: string, meshlet?: string) =>
  docker.listContainers({ filters: { label: [`farm.meshlet.workload=${uri}`, ...(meshlet ? [`farm.meshlet.meshlet=${meshlet}`] : [])] } })

async function callError(p: Promise<unknown>): Promise<MeshletCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof MeshletCallError)) throw new Error(`expected an XRPC error, got ${err === undefined ? 'success' : String(err)}`)
  return err
}

describe('consent per machine and eviction (issue 17)', () => {
  let c: DevCommune
  let ann: Member
  let ben: Member
  /** ann's second meshlet: linked by ann, its own membership lists nobody. */
  let ann2: Member
  let annClient: MeshletClient
  let benClient: MeshletClient

  beforeAll(async () => {
    c = await DevCommune.create({
      pdsCount: 2,
      leaseMs: 9000,
      bidWindowMs: 1500,
      members: [{ name: 'ann', members: ['ben'] }, { name: 'ben', members: ['ann'] }, { name: 'ann2', silent: true, unlinked: true }],
    })
    ann = c.member('ann')
    ben = c.member('ben')
    ann2 = c.member('ann2')
    // ann links ann2's meshlet as hers; the peer publishes its meshletOwner (ann) and an empty membership.
    await ann.owner.agent.com.atproto.repo.putRecord({
      repo: ann.owner.did,
      collection: NSID.meshlet,
      rkey: ann2.meshlet.did,
      record: { $type: NSID.meshlet, meshletDid: ann2.meshlet.did, createdAt: new Date().toISOString() },
    })
    await Promise.all([c.startPeer(ann), c.startPeer(ben), c.startPeer(ann2, {}, { owner: ann.owner.did, clusterMembers: [] })])
    // Every peer sees ann2-mesh as ann's verified meshlet before anything is published.
    await waitFor(() => c.peers().every((p) => p.cluster.current().ownerOf(ann2.meshlet.did) === ann.owner.did), { what: 'ann2-mesh verified everywhere', timeoutMs: 30_000 })
    const idResolver = createIdResolver({ plcUrl: c.net.plcUrl, allowInsecureHttp: true })
    // A generous per-request timeout: these files share a loaded 2-core machine with other suites.
    const make = (agent: DevAccount['agent']) => new MeshletClient({ agent, idResolver, allowInsecureHttp: true, timeoutMs: 60_000 })
    annClient = make(ann.owner.agent)
    benClient = make(ben.owner.agent)
  }, 120_000)
  afterAll(async () => c?.close(), 120_000)

  test("a meshlet whose own list lacks ben never runs ben's work, though its sibling lists ben", async () => {
    // Only ann's machines may run it (members constraint); 2 replicas, one per machine if both consented.
    const w = await c.publishWorkload(ben, sleeper('ac-consent', { replicas: 2, bidWindowMs: 1500, constraints: { members: [ann.owner.did] } }))
    await waitFor(async () => (await running(w.uri, ann.meshlet.did)).length === 1, { what: 'the replica on ann-mesh', timeoutMs: 30_000 })
    const own = await waitFor(() => ann2.peer!.control.workloadStatus(w.uri).self ?? false, { what: 'ann2-mesh to explain itself', timeoutMs: 20_000 })
    expect(own.outcome).toBe('invalid')
    expect(own.reason).toBe(`its own membership list does not name ${ben.owner.did} (a meshlet runs work only for its owner and the owners it lists itself)`)
    // Every peer agrees: one replica placed, the second queued, and ann2-mesh is not a candidate.
    for (const p of c.peers()) {
      await waitFor(() => /queued: 1 of 2 replicas placed/.test(p.control.workloadStatus(w.uri).problem ?? ''), { what: 'queued 1 of 2', timeoutMs: 20_000 })
      expect(p.view.bidsFor(w.uri).some((b) => b.meshlet === ann2.meshlet.did && b.decline === undefined)).toBe(false)
    }
    expect(await running(w.uri, ann2.meshlet.did)).toEqual([])
    // ben cannot read ann2-mesh either: it does not serve him.
    const err = await callError(benClient.getCapacity(ann2.meshlet.did))
    expect(err.status).toBe(403)
    expect(err.message).toContain(`${ben.owner.did} is not in this meshlet's cluster`)
    // ann's own work needs no list: ann2-mesh runs it.
    const mine = await c.publishWorkload(ann, sleeper('ac-own', { replicas: 2, bidWindowMs: 1500, constraints: { members: [ann.owner.did] } }))
    await waitFor(async () => (await running(mine.uri, ann2.meshlet.did)).length === 1, { what: "ann's own replica on ann2-mesh", timeoutMs: 30_000 })
    await c.deleteRecord(ben.owner.agent, w.uri)
    await c.deleteRecord(ann.owner.agent, mine.uri)
  }, 120_000)

  test('the machine owner evicts a guest workload: container gone, reason visible, declined after a restart; anyone else is Forbidden', async () => {
    const rkey = '3lacevictaaa2'
    const record = (name: string) => ({ $type: NSID.workload, createdAt: new Date().toISOString(), ...sleeper(name, { bidWindowMs: 1500, constraints: { members: [ann.owner.did] } }) })
    const put = async (name: string) =>
      (await ben.owner.agent.com.atproto.repo.putRecord({ repo: ben.owner.did, collection: NSID.workload, rkey, record: record(name), validate: false })).data
    const w = await put('ac-guest')
    await waitFor(async () => (await running(w.uri, ann.meshlet.did)).length === 1, { what: 'the guest running on ann-mesh', timeoutMs: 30_000 })

    // Not the machine's owner (here: the workload's own owner): Forbidden, and it keeps running.
    const err = await callError(benClient.evictWorkload(ann.meshlet.did, w.uri))
    expect(err.status).toBe(403)
    expect(err.error).toBe('Forbidden')
    expect(err.message).toBe(`only this meshlet's owner ${ann.owner.did} may evict workloads from it`)
    expect(await running(w.uri, ann.meshlet.did)).toHaveLength(1)

    const res = await annClient.evictWorkload(ann.meshlet.did, w.uri)
    expect(res).toEqual({ uri: w.uri, evicted: true, state: 'stopped' })
    expect(await running(w.uri, ann.meshlet.did)).toEqual([])
    const file = path.join(ann.dataDir, 'evictions.json')
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ evicted: [w.uri] })
    // ben sees why, from any peer: ann-mesh's replica stopped with the reason.
    const seen = await waitFor(
      async () => {
        const st = await benClient.getWorkloadStatus(ben.meshlet.did, w.uri)
        return st.replicas.find((r) => r.meshlet === ann.meshlet.did && r.message === EVICTED_REASON) ?? false
      },
      { what: 'the eviction in the status', timeoutMs: 20_000 },
    )
    expect(seen.state).toBe('stopped')

    // Restart ann-mesh: the eviction is read back from the data dir. A new version of the workload
    // (ben edits it) is declined with the reason, and nothing runs on ann-mesh again.
    await c.stopPeer(ann)
    await c.startPeer(ann)
    const v2 = await put('ac-guest-v2')
    const decline = await waitFor(
      () => ben.peer!.view.bidsFor(w.uri).find((b) => b.meshlet === ann.meshlet.did && b.workload.cid === v2.cid && b.decline !== undefined) ?? false,
      { what: 'ann-mesh to decline the new version', timeoutMs: 30_000 },
    )
    expect(decline.decline).toBe(EVICTED_REASON)
    await waitFor(() => /queued: 0 of 1 replicas placed/.test(ben.peer!.control.workloadStatus(w.uri).problem ?? ''), { what: 'v2 queued', timeoutMs: 20_000 })
    expect(await running(w.uri)).toEqual([])

    // Undo lifts it: the next version runs on ann-mesh again.
    expect(await annClient.evictWorkload(ann.meshlet.did, w.uri, { undo: true })).toEqual({ uri: w.uri, evicted: false, state: 'allowed' })
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ evicted: [] })
    await put('ac-guest-v3')
    await waitFor(async () => (await running(w.uri, ann.meshlet.did)).length === 1, { what: 'v3 running on ann-mesh', timeoutMs: 30_000 })
    await c.deleteRecord(ben.owner.agent, w.uri)
  }, 180_000)

  test('getLogs of a chatty container stays under the byte cap and keeps the newest lines', async () => {
    // 20,000 lines of 300 characters: about 6 MB of output.
    const chatty = sleeper('ac-chatty', {
      command: ['sh', '-c', 'yes "$(head -c 300 /dev/zero | tr "\\0" x)" | head -n 20000; echo the-last-line; exec sleep 3600'],
      bidWindowMs: 1500,
    })
    const w = await c.publishWorkload(ann, chatty)
    const [ctr] = await waitFor(async () => {
      const r = await running(w.uri)
      return r.length === 1 ? r : false
    }, { what: 'the chatty container', timeoutMs: 30_000 })
    const holder = ctr!.Labels['farm.meshlet.meshlet']!
    const logs = await waitFor(
      async () => {
        const l = await annClient.getLogs(holder, w.uri, 10_000).catch((err: unknown) => {
          // A slow answer on a loaded machine is retried; a refusal is not.
          if (err instanceof MeshletCallError && err.status !== 0) throw err
          return undefined
        })
        return l?.lines.at(-1)?.text === 'the-last-line' ? l : false
      },
      { what: 'the whole output written', timeoutMs: 90_000 },
    )
    const bytes = logs.lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0)
    expect(bytes).toBeLessThanOrEqual(1024 * 1024)
    expect(JSON.stringify(logs).length).toBeLessThan(1.2 * 1024 * 1024)
    expect(logs.truncated).toBe(true)
    // The cap holds the newest lines: ~3,480 of the 10,000 asked for, the last one included.
    expect(logs.lines.length).toBeGreaterThan(3000)
    expect(logs.lines.length).toBeLessThan(4000)
    expect(logs.lines.slice(0, -1).every((l) => l.text === 'x'.repeat(300))).toBe(true)
    await c.deleteRecord(ann.owner.agent, w.uri)
  }, 180_000)
})
