// The control plane (issue 4) against REAL peers: a 3-member DevCommune (real PLC + 2 PDS, real
// firehose, real Docker), called with MeshletClient holding each owner's logged-in agent, so every
// call carries a real service-auth JWT minted by the caller's own PDS. What a person checks: the
// numbers match the host and Docker, the explanations name every bidder, owner-only actions change
// real containers, and everyone else gets Forbidden (never a 500).
import os from 'node:os'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createIdResolver } from '../../src/client/commands.js'
import { MeshletCallError } from '../../src/client/errors.js'
import { MeshletClient } from '../../src/client/meshlet-client.js'
import { CLAIM_STATES, NSID } from '../../src/core/types.js'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import type { DevAccount } from '../../src/devnet/network.js'

const IMAGE = 'meshlet/busybox:test'
const docker = new Docker({ socketPath: '/var/run/docker.sock' })

/** Containers of a workload (optionally only on one meshlet), as Docker sees them. */
async function containersOf(uri: string, opts: { all?: boolean; meshlet?: string } = {}) {
  const label = [`farm.meshlet.workload=${uri}`, ...(opts.meshlet ? [`farm.meshlet.meshlet=${opts.meshlet}`] : [])]
  return docker.listContainers({ all: opts.all ?? false, filters: { label } })
}

/** Resolves with the XRPC error of a call that must fail. */
async function callError(p: Promise<unknown>): Promise<MeshletCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof MeshletCallError)) throw new Error(`expected an XRPC error, got ${err === undefined ? 'success' : String(err)}`)
  return err
}

const chatty = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  image: IMAGE,
  command: ['sh', '-c', 'echo hello from meshlet; echo second line >&2; echo third line; exec sleep 3600'],
  replicas: 1,
  resources: { cpuMillis: 100, memoryMb: 32 },
  bidWindowMs: 1500,
  ...extra,
})

describe('control plane against real peers', () => {
  let c: DevCommune
  let clients: Map<string, MeshletClient>
  let stranger: DevAccount
  let strangerClient: MeshletClient
  /** ann's workload that runs for the whole file, and where it runs. */
  let web: { uri: string; cid: string }
  let winner: Member
  let losers: Member[]
  const figures: Record<string, number> = {}

  const client = (name: string) => clients.get(name)!
  /**
   * The member whose container runs `uri`, once things have settled: Docker shows exactly one
   * container of it (on a meshlet not in `notOn`), its status is running, and every running peer
   * sees that meshlet as the one live claim. Peers that saw different bids may claim at once and
   * resolve the conflict a moment later, so a single running container is not yet the answer.
   */
  const holderOf = async (uri: string, notOn: string[] = []) =>
    waitFor(
      async () => {
        const all = await containersOf(uri, { all: true })
        if (all.length !== 1 || all[0]!.State !== 'running') return false
        const did = all[0]!.Labels['farm.meshlet.meshlet']!
        if (notOn.includes(did)) return false
        const m = c.members.find((x) => x.meshlet.did === did)
        if (m?.peer?.status.own(uri)?.state !== 'running') return false
        for (const p of c.peers()) {
          if (!p.view.workload(uri)) return false
          const live = p.control.workloadStatus(uri).replicas.filter((r) => (CLAIM_STATES as readonly string[]).includes(r.state) || r.state === 'paused')
          if (live.length !== 1 || live[0]!.meshlet !== did) return false
        }
        return m
      },
      { what: `one settled running replica of ${uri}${notOn.length ? ` elsewhere than ${notOn.join(', ')}` : ''}`, timeoutMs: 45_000 },
    )

  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], leaseMs: 8000, bidWindowMs: 1500 })
    await c.startAll()
    const idResolver = createIdResolver({ plcUrl: c.net.plcUrl, allowInsecureHttp: true })
    const make = (agent: DevAccount['agent']) => new MeshletClient({ agent, idResolver, allowInsecureHttp: true })
    clients = new Map(c.members.map((m) => [m.name, make(m.owner.agent)]))
    stranger = await c.net.createAccount('stranger', 1)
    strangerClient = make(stranger.agent)
    web = await c.publishWorkload(c.member('ann'), chatty('web'))
    // Every peer has closed its window and agrees on the holder before the reads below.
    await waitFor(() => c.peers().every((p) => p.view.workload(web.uri) && p.control.workloadStatus(web.uri).phase === 'placed'), { what: 'every peer to see web placed', timeoutMs: 30_000 })
    winner = await holderOf(web.uri)
    losers = c.members.filter((m) => m !== winner)
  }, 120_000)
  afterAll(async () => {
    // Figures for the report: wall-clock on a shared 2-core machine, not assertions.
    if (Object.keys(figures).length) console.info('control-plane figures', figures)
    await c?.close()
  })

  test('getCapacity agrees with the host and with Docker', async () => {
    const totalMb = os.totalmem() / 1024 / 1024
    for (const m of c.members) {
      const cap = await client('ben').getCapacity(m.meshlet.did)
      expect(cap.meshlet).toBe(m.meshlet.did)
      expect(cap.cpuMillis).toBe(os.cpus().length * 1000)
      expect(Math.abs(cap.memoryMb - totalMb) / totalMb).toBeLessThan(0.02)
      const running = await docker.listContainers({ filters: { label: [`farm.meshlet.meshlet=${m.meshlet.did}`], status: ['running'] } })
      expect(cap.running).toBe(running.length)
      expect(cap.accepting).toBe(true)
      expect(cap.cpuMillisFree).toBeLessThanOrEqual(cap.cpuMillis)
      expect(cap.memoryMbFree).toBeLessThanOrEqual(cap.memoryMb)
    }
    const times: number[] = []
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      await client('ann').getCapacity(winner.meshlet.did)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    figures['getCapacity round trip, cached token, median (ms)'] = Math.round(times[10]! * 10) / 10
    const w = await client('ann').getCapacity(winner.meshlet.did)
    expect(w.running).toBeGreaterThanOrEqual(1)
    expect(w.cpuMillisCommitted).toBeGreaterThanOrEqual(100)
    expect(w.memoryMbCommitted).toBeGreaterThanOrEqual(32)
    expect(w.cpuMillisFree).toBe(w.cpuMillis - w.cpuMillisCommitted!)
  })

  test('listWorkloads filters by owner and by what this meshlet runs', async () => {
    const annDid = c.member('ann').owner.did
    const onWinner = await client('ben').listWorkloads(winner.meshlet.did, { owner: annDid })
    const mine = onWinner.workloads.find((w) => w.uri === web.uri)
    expect(mine).toMatchObject({ owner: annDid, name: 'web', image: IMAGE, replicas: 1, state: 'running', cid: web.cid })
    expect(mine!.containerId).toBe((await containersOf(web.uri))[0]!.Id)
    expect(onWinner.workloads.every((w) => w.owner === annDid)).toBe(true)
    const ofBen = await client('ann').listWorkloads(winner.meshlet.did, { owner: c.member('ben').owner.did })
    expect(ofBen.workloads.some((w) => w.uri === web.uri)).toBe(false)
    const running = await client('ann').listWorkloads(winner.meshlet.did, { runningOnly: true })
    expect(running.workloads.map((w) => w.uri)).toContain(web.uri)
    for (const l of losers) {
      const all = await client('cat').listWorkloads(l.meshlet.did, { owner: annDid })
      expect(all.workloads.find((w) => w.uri === web.uri)?.state).toBe('elsewhere')
      const only = await client('cat').listWorkloads(l.meshlet.did, { runningOnly: true })
      expect(only.workloads.map((w) => w.uri)).not.toContain(web.uri)
    }
  })

  test('getWorkloadStatus shows the replica and, for every bidder, won or lost with a reason; every peer agrees', async () => {
    const [container] = await containersOf(web.uri)
    const winnersSeen = new Set<string>()
    for (const m of c.members) {
      // Each peer learns the winner's 'running' status from the firehose, a moment after the winner.
      const s = await waitFor(async () => {
        const st = await client('ben').getWorkloadStatus(m.meshlet.did, web.uri)
        return st.replicas.some((r) => r.state === 'running') ? st : false
      }, { what: `${m.name} to see the replica running`, timeoutMs: 20_000 })
      expect(s).toMatchObject({ uri: web.uri, cid: web.cid, valid: true, phase: 'placed' })
      const live = s.replicas.filter((r) => r.state !== 'stopped')
      expect(live).toEqual([expect.objectContaining({ meshlet: winner.meshlet.did, state: 'running', containerId: container!.Id })])
      // a peer that claimed in the same instant and lost says so (claims converge)
      for (const r of s.replicas.filter((x) => x.state === 'stopped')) expect(r.message).toMatch(/^lost claim conflict: replica \d+ is held by /)
      // one outcome per bidder, each with a reason a person can read
      expect(s.bids.map((b) => b.meshlet).sort()).toEqual(c.members.map((x) => x.meshlet.did).sort())
      for (const b of s.bids) {
        expect(['won', 'lost']).toContain(b.outcome)
        expect(b.reason.length).toBeGreaterThan(10)
      }
      winnersSeen.add(s.bids.filter((b) => b.outcome === 'won').map((b) => b.meshlet).join(','))
      expect(s.self?.meshlet).toBe(m.meshlet.did)
      expect(s.self?.outcome).toBe(m === winner ? 'won' : 'lost')
      expect(s.state).toBe(m === winner ? 'running' : 'elsewhere')
    }
    expect([...winnersSeen]).toEqual([winner.meshlet.did])
  })

  test('a workload nobody can fit stays queued and says why, with every peer\'s decline', async () => {
    const ref = await c.publishWorkload(c.member('ben'), chatty('too-big', { resources: { cpuMillis: 100, memoryMb: 8 * 1024 * 1024 } }))
    try {
      const s = await waitFor(
        async () => {
          const st = await client('ben').getWorkloadStatus(c.member('cat').meshlet.did, ref.uri).catch(() => undefined)
          return st && st.phase === 'queued' && st.bids.length === 3 ? st : false
        },
        { what: 'the big workload to be queued with 3 declines', timeoutMs: 20_000 },
      )
      expect(s.state).toBe('queued')
      expect(s.replicas).toEqual([])
      expect(s.problem).toMatch(/^queued: 0 of 1 replicas placed; waiting for capacity/)
      for (const m of c.members) {
        const b = s.bids.find((x) => x.meshlet === m.meshlet.did)
        expect(b?.outcome).toBe('declined')
        expect(b?.reason).toMatch(/memory/)
        // the problem line names each peer's reason too
        expect(s.problem).toContain(m.meshlet.did)
      }
      expect(await containersOf(ref.uri, { all: true })).toHaveLength(0)
    } finally {
      await c.deleteRecord(c.member('ben').owner.agent, ref.uri)
    }
  })

  test('getLogs returns the container output to its owner only', async () => {
    const logs = await client('ann').getLogs(winner.meshlet.did, web.uri)
    expect(logs.containerId).toBe((await containersOf(web.uri))[0]!.Id)
    // stdout and stderr are separate pipes, so Docker keeps order within a stream only
    const seen = logs.lines.map((l) => `${l.stream}:${l.text.trim()}`)
    expect(seen.filter((l) => l.startsWith('stdout:'))).toEqual(['stdout:hello from meshlet', 'stdout:third line'])
    expect(seen.filter((l) => l.startsWith('stderr:'))).toEqual(['stderr:second line'])
    const tail = await client('ann').getLogs(winner.meshlet.did, web.uri, 1)
    expect(tail.lines).toHaveLength(1)
    // a meshlet without a replica has no container to read
    const elsewhere = await client('ann').getLogs(losers[0]!.meshlet.did, web.uri)
    expect(elsewhere.lines).toEqual([])
    const err = await callError(client('ben').getLogs(winner.meshlet.did, web.uri))
    expect([err.status, err.error]).toEqual([403, 'Forbidden'])
    expect(err.message).toMatch(/only the workload's owner/)
  })

  test('pauseWorkload and resumeWorkload freeze and thaw the real container', async () => {
    const [container] = await containersOf(web.uri)
    const forbidden = await callError(client('cat').pauseWorkload(winner.meshlet.did, web.uri))
    expect(forbidden.error).toBe('Forbidden')
    expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(false)

    expect(await client('ann').pauseWorkload(winner.meshlet.did, web.uri)).toEqual({ uri: web.uri, state: 'paused' })
    expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(true)
    const listed = await client('ann').listWorkloads(winner.meshlet.did, { owner: c.member('ann').owner.did })
    expect(listed.workloads.find((w) => w.uri === web.uri)?.state).toBe('paused')
    // the public status record says so, so every peer reports the replica paused
    for (const m of losers) {
      await waitFor(
        async () => (await client('ann').getWorkloadStatus(m.meshlet.did, web.uri)).replicas.find((r) => r.meshlet === winner.meshlet.did)?.state === 'paused',
        { what: `${m.name} to see the replica paused`, timeoutMs: 15_000 },
      )
    }
    // pausing where no replica runs says where to ask instead
    const nothingHere = await callError(client('ann').pauseWorkload(losers[0]!.meshlet.did, web.uri))
    expect([nothingHere.status, nothingHere.error]).toEqual([404, 'WorkloadNotFound'])
    expect(nothingHere.message).toMatch(/no container of .* on this meshlet/)
    // a reconcile sweep leaves a paused container alone (no restart, no duplicate)
    await winner.peer!.processAll()
    expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(true)
    expect(await containersOf(web.uri, { all: true })).toHaveLength(1)

    expect(await client('ann').resumeWorkload(winner.meshlet.did, web.uri)).toEqual({ uri: web.uri, state: 'running' })
    const info = await docker.getContainer(container!.Id).inspect()
    expect(info.State.Paused).toBe(false)
    expect(info.State.Running).toBe(true)
    const back = await client('ann').getWorkloadStatus(winner.meshlet.did, web.uri)
    expect(back.replicas.find((r) => r.meshlet === winner.meshlet.did)).toMatchObject({ state: 'running', containerId: container!.Id, message: `running ${IMAGE}` })
    expect(back.state).toBe('running')
  })

  test('only the right callers: non-owners and non-members get Forbidden', async () => {
    const annMeshlet = c.member('ann').meshlet.did
    for (const call of [
      () => client('ben').deleteWorkload(winner.meshlet.did, web.uri),
      () => client('ben').stopWorkload(winner.meshlet.did, web.uri),
      () => client('cat').getLogs(winner.meshlet.did, web.uri),
      () => client('ben').shutdown(annMeshlet),
      () => client('cat').shutdown(annMeshlet, { drain: false }),
      () => strangerClient.getCapacity(annMeshlet),
      () => strangerClient.listWorkloads(annMeshlet),
      () => strangerClient.getWorkloadStatus(annMeshlet, web.uri),
    ]) {
      const err = await callError(call())
      expect([err.status, err.error]).toEqual([403, 'Forbidden'])
      expect(err.message.length).toBeGreaterThan(20)
    }
    const outsider = await callError(strangerClient.getCapacity(annMeshlet))
    expect(outsider.message).toMatch(/not in this meshlet's cluster/)
    // and nothing happened: the container still runs, the peer still answers
    expect(await containersOf(web.uri)).toHaveLength(1)
    expect((await client('ann').getCapacity(annMeshlet)).accepting).toBe(true)
  })

  test('malformed requests against a real peer get InvalidRequest, never a 500', async () => {
    const m = winner.meshlet.did
    const ann = client('ann')
    const bad: [string, () => Promise<unknown>][] = [
      ['uri not a URI', () => ann.getWorkloadStatus(m, 'not a uri')],
      ['uri of another collection', () => ann.getWorkloadStatus(m, `at://${c.member('ann').owner.did}/app.bsky.feed.post/3abc`)],
      ['uri by handle', () => ann.getWorkloadStatus(m, `at://ann.test/${NSID.workload}/3abc`)],
      ['limit 0', () => ann.listWorkloads(m, { limit: 0 })],
      ['limit not a number', () => ann.query(m, 'farm.meshlet.listWorkloads', { limit: 'lots' })],
      ['owner not a DID', () => ann.listWorkloads(m, { owner: 'bob' })],
      ['runningOnly not a boolean', () => ann.query(m, 'farm.meshlet.listWorkloads', { runningOnly: 'perhaps' })],
      ['limit with trailing junk', () => ann.query(m, 'farm.meshlet.listWorkloads', { limit: '5x' })],
      ['tail not a number', () => ann.query(m, 'farm.meshlet.getLogs', { uri: web.uri, tail: 'all' })],
      ['tail 0', () => ann.getLogs(m, web.uri, 0)],
      ['tail too big', () => ann.getLogs(m, web.uri, 1_000_000)],
      ['uri missing', () => ann.procedure(m, 'farm.meshlet.pauseWorkload', {})],
      ['uri a number', () => ann.procedure(m, 'farm.meshlet.stopWorkload', { uri: 42 })],
      ['drain a string', () => ann.procedure(c.member('ann').meshlet.did, 'farm.meshlet.shutdown', { drain: 'yes please' })],
    ]
    for (const [what, p] of bad) {
      const err = await callError(p()).catch((e: Error) => new MeshletCallError(-1, 'none', `${what}: ${e.message}`, '', ''))
      expect([what, err.status, err.error]).toEqual([what, 400, 'InvalidRequest'])
      expect(err.message).not.toMatch(/internal/i)
    }
    // A body that is not JSON at all, with a valid token.
    const token = await ann.token(m, 'farm.meshlet.pauseWorkload')
    const res = await fetch(`${await ann.endpoint(m)}/xrpc/farm.meshlet.pauseWorkload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"uri": ',
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('InvalidRequest')
    // A well-formed URI nobody published: a 404 with a stable name, not a 500.
    const unknown = await callError(ann.getWorkloadStatus(m, `at://${c.member('ann').owner.did}/${NSID.workload}/3zzzzzzzzzzzz`))
    expect([unknown.status, unknown.error]).toEqual([404, 'WorkloadNotFound'])
    // the shutdown with a bad body did not shut anything down
    expect((await ann.getCapacity(c.member('ann').meshlet.did)).accepting).toBe(true)
  })

  test('stop and delete act on one meshlet: its container goes and the next bidder takes the replica; deleting the record ends it everywhere', async () => {
    const ann = client('ann')
    const ref = await c.publishWorkload(c.member('ann'), chatty('movable'))
    const first = await holderOf(ref.uri)
    // stopping works on a paused container too (a frozen process cannot take SIGTERM)
    await ann.pauseWorkload(first.meshlet.did, ref.uri)

    // stop on the holder: container stopped and removed there, status says so, another peer takes over
    let t0 = Date.now()
    expect(await ann.stopWorkload(first.meshlet.did, ref.uri)).toEqual({ uri: ref.uri, state: 'stopped' })
    figures['stopWorkload call, paused container (ms)'] = Date.now() - t0
    expect(await containersOf(ref.uri, { all: true, meshlet: first.meshlet.did })).toHaveLength(0)
    const second = await holderOf(ref.uri, [first.meshlet.did])
    figures['stop -> replica running on the next bidder (ms)'] = Date.now() - t0
    const firstSays = await ann.getWorkloadStatus(first.meshlet.did, ref.uri)
    expect(firstSays.local?.state).toBe('stopped')
    expect(firstSays.local?.message).toBe('stopped by its owner')
    expect(firstSays.self?.outcome).toBe('lost')
    expect(firstSays.self?.reason).toMatch(/stopped by its owner/)

    // delete on the new holder: same, and the last bidder takes it
    t0 = Date.now()
    expect(await ann.deleteWorkload(second.meshlet.did, ref.uri)).toEqual({ uri: ref.uri, state: 'stopped' })
    figures['deleteWorkload call (ms)'] = Date.now() - t0
    expect(await containersOf(ref.uri, { all: true, meshlet: second.meshlet.did })).toHaveLength(0)
    const third = await holderOf(ref.uri, [first.meshlet.did, second.meshlet.did])
    figures['delete -> replica running on the next bidder (ms)'] = Date.now() - t0
    expect(new Set([first, second, third].map((m) => m.name)).size).toBe(3)

    // and when every peer has given it up, it stays queued (nobody takes a version back after its owner stopped it there)
    await ann.deleteWorkload(third.meshlet.did, ref.uri)
    const queued = await waitFor(
      async () => {
        const s = await ann.getWorkloadStatus(third.meshlet.did, ref.uri)
        return s.phase === 'queued' ? s : false
      },
      { what: 'the workload to be queued', timeoutMs: 20_000 },
    )
    expect(queued.problem).toMatch(/^queued: 0 of 1 replicas placed/)
    expect(await containersOf(ref.uri, { all: true })).toHaveLength(0)

    // the owner deletes the record: no status of it stays live (a replica that ran under a bid keeps
    // its final status, so the ledger keeps the usage; the others go)
    t0 = Date.now()
    await c.deleteRecord(c.member('ann').owner.agent, ref.uri)
    await waitFor(
      async () => {
        for (const m of c.members) {
          const recs = await m.meshlet.agent.com.atproto.repo.listRecords({ repo: m.meshlet.did, collection: NSID.workloadStatus, limit: 100 })
          const left = recs.data.records.map((r) => r.value as { workload: { uri: string }; state: string; bid?: unknown; startedAt?: string }).filter((v) => v.workload.uri === ref.uri)
          if (left.some((v) => CLAIM_STATES.includes(v.state as never) || !(v.bid && v.startedAt))) return false
        }
        return true
      },
      { what: 'status records of the deleted workload to end', timeoutMs: 20_000 },
    )
    // (they may have ended before: the owner stopped them above) and the peer forgets the workload
    const gone = await waitFor(
      async () => {
        const err = await callError(ann.getWorkloadStatus(first.meshlet.did, ref.uri)).catch(() => undefined)
        return err ?? false
      },
      { what: 'the peer to forget the deleted workload', timeoutMs: 20_000 },
    )
    figures['record deleted -> every status record ended (ms)'] = Date.now() - t0
    expect(gone.error).toBe('WorkloadNotFound')
  })

  test('shutdown by the meshlet owner drains: its replicas move to another peer and the peer stops', async () => {
    const owner = client(winner.name)
    const before = (await containersOf(web.uri))[0]!
    expect(before.Labels['farm.meshlet.meshlet']).toBe(winner.meshlet.did)
    const t0 = Date.now()
    const res = await owner.shutdown(winner.meshlet.did)
    expect(res.accepted).toBe(true)
    expect(res.handedOver).toBeGreaterThanOrEqual(1)
    await waitFor(
      async () => {
        const stopped = await Promise.race([winner.peer!.waitUntilStopped().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 100))])
        return stopped
      },
      { what: 'the drained peer to stop', timeoutMs: 20_000 },
    )
    await c.stopPeer(winner) // already stopped; this only forgets it, so no stale view is consulted
    // its container is gone, and another peer runs the workload
    expect(await containersOf(web.uri, { all: true, meshlet: winner.meshlet.did })).toHaveLength(0)
    const next = await holderOf(web.uri, [winner.meshlet.did])
    expect(next).not.toBe(winner)
    const s = await client('ann').getWorkloadStatus(next.meshlet.did, web.uri)
    const live = s.replicas.filter((r) => (CLAIM_STATES as readonly string[]).includes(r.state))
    expect(live.map((r) => r.meshlet)).toEqual([next.meshlet.did])
    const old = s.replicas.find((r) => r.meshlet === winner.meshlet.did)
    expect(old?.state).toBe('stopped')
    expect(old?.message).toMatch(/draining/)
    figures['shutdown -> replica running elsewhere (ms)'] = Date.now() - t0
    // the stopped peer answers no more
    const gone = await callError(client(winner.name).getCapacity(winner.meshlet.did))
    expect(gone.status).toBe(0)

    // back after the drain: it yielded (it is a last-resort candidate), so it does not take the replica back
    await c.startPeer(winner)
    await winner.peer!.processAll()
    const again = await client(winner.name).getWorkloadStatus(winner.meshlet.did, web.uri)
    expect(again.self?.outcome).toBe('lost')
    expect(again.self?.reason).toMatch(/yielded its replica\W+draining: /)
    expect((await containersOf(web.uri, { all: true })).map((x) => x.Labels['farm.meshlet.meshlet'])).toEqual([next.meshlet.did])
  })
})
