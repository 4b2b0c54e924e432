// Issue 17 items 4-6 on a real commune (real PLC + PDS, firehose, Docker): a guest cannot run a
// host-local image or pull from a loopback registry; binds reach the owner's workloads only, read-
// only; quotas decline with the reason; spam costs a peer fewer writes than records; a guest
// publishing at the owner's record key does not break the owner's container.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import Docker from 'dockerode'
import { TID } from '@atproto/common-web'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AtprotoPublisher } from '../../src/adapters/atproto/publisher.js'
import { NSID } from '../../src/core/types.js'
import { DECLINE_BUDGET_PER_OWNER } from '../../src/core/decline-budget.js'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import type { RecordPublisher } from '../../src/ports/record-publisher.js'
import { REGISTRY_IMAGE, TEST_IMAGE } from '../helpers/docker.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const RUN = randomBytes(3).toString('hex')
// Tagged locally only, never pushed: the "host owner's private image" a guest must not get.
const PRIVATE_IMAGE = `127.0.0.1:5000/meshlet-iq-private/secret:${RUN}`
const containersOf = (uri: string) => docker.listContainers({ all: true, filters: { label: [`farm.meshlet.workload=${uri}`] } })
const sleeper = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: TEST_IMAGE, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 50, memoryMb: 16 }, bidWindowMs: 1500, ...extra })

/** Counts bid-collection writes (creates, puts, deletes, batched or not) of one meshlet. */
function counting(p: RecordPublisher, counts: { bid: number }): RecordPublisher {
  return {
    did: p.did,
    put: (c, r, v) => ((c === NSID.bid && counts.bid++), p.put(c, r, v)),
    create: (c, v) => ((c === NSID.bid && counts.bid++), p.create(c, v)),
    delete: (c, r) => ((c === NSID.bid && counts.bid++), p.delete(c, r)),
    applyWrites: (ws) => {
      counts.bid += ws.filter((w) => w.collection === NSID.bid).length
      return p.applyWrites(ws)
    },
  } as RecordPublisher
}

let c: DevCommune
let ann: Member // host: allows the loopback registry (the devnet default, explicit), binds for her own work
let cat: Member // host: default registry policy (loopback refused), small quota
let bob: Member // guest
let bindDir = ''
const writes = new Map<string, { bid: number }>()

beforeAll(async () => {
  await docker.getImage(TEST_IMAGE).tag({ repo: PRIVATE_IMAGE.slice(0, PRIVATE_IMAGE.lastIndexOf(':')), tag: RUN })
  bindDir = await fs.mkdtemp(path.join(os.tmpdir(), `meshlet-iq-bind-`))
  c = await DevCommune.create({ members: [{ name: 'ann' }, { name: 'cat', memoryMb: 512 }, { name: 'bob' }], pdsCount: 1, bidWindowMs: 1500 })
  ann = c.member('ann')
  cat = c.member('cat')
  bob = c.member('bob')
  const publisher = async (m: Member) => {
    const counts = { bid: 0 }
    writes.set(m.name, counts)
    return counting(await AtprotoPublisher.login({ service: m.meshlet.pds, identifier: m.meshlet.did, password: m.meshlet.password }), counts)
  }
  await Promise.all([
    c.startPeer(ann, { publisher: await publisher(ann) }, { allowedBinds: [`${bindDir}:/hostdata`] }),
    // The suite's loopback registry is NOT allowed here: cat is a meshlet with the default policy.
    c.startPeer(cat, { publisher: await publisher(cat) }, { registryAllow: [], reserveMemoryMb: 0, guestMaxContainers: 1 }),
    c.startPeer(bob, { publisher: await publisher(bob) }),
  ])
}, 120_000)

afterAll(async () => {
  await c?.close()
  await docker.getImage(PRIVATE_IMAGE).remove().catch(() => {})
  if (bindDir) await fs.rm(bindDir, { recursive: true, force: true })
})

const on = (m: Member) => ({ constraints: { members: [m.owner.did] } })

function statusOf(m: Member, uri: string) {
  return m.peer!.view.statusesFor(uri).find((s) => s.meshlet === m.meshlet.did)
}
function declineOf(m: Member, uri: string) {
  return m.peer!.view.bidsFor(uri).find((b) => b.meshlet === m.meshlet.did && b.decline !== undefined)?.decline
}

describe('images (guests)', () => {
  test('a guest naming a host-local image this meshlet did not pull for it never gets the local copy', async () => {
    const { uri } = await c.publishWorkload(bob, sleeper('steal', { image: PRIVATE_IMAGE, command: ['cat', '/etc/passwd'], ...on(ann) }))
    // ann pulls it fresh from the registry, which does not have it: the pull fails (and is retried),
    // and the local copy is never used: no container, ever.
    const s = await waitFor(() => {
      const st = statusOf(ann, uri)
      return st && /cannot pull/.test(st.message ?? '') ? st : undefined
    }, { timeoutMs: 120_000, what: 'ann to report the failed pull of the private image for bob', onTimeout: () => JSON.stringify(statusOf(ann, uri) ?? ann.peer!.scheduler.decisions.get(uri)?.self ?? 'no status, no decision') })
    expect(s.message).toMatch(/127\.0\.0\.1:5000\/meshlet-iq-private\/secret/)
    await new Promise((r) => setTimeout(r, 3000))
    expect(await containersOf(uri)).toHaveLength(0)
    // The local tag is still there: it was the registry, not the cache, that answered.
    expect((await docker.getImage(PRIVATE_IMAGE).inspect()).Id).toBeTruthy()
  }, 180_000)

  test('a guest image from the loopback registry is declined by default, and pulled fresh and pinned where the owner allows it', async () => {
    const { uri } = await c.publishWorkload(bob, sleeper('loop', { image: REGISTRY_IMAGE, constraints: { members: [cat.owner.did, ann.owner.did] } }))
    const reason = await waitFor(() => declineOf(cat, uri), { timeoutMs: 30_000, what: 'cat to decline the loopback registry' })
    expect(reason).toMatch(/image registry 127\.0\.0\.1:5000 is a loopback address/)
    // ann allows it explicitly (the devnet's registryAllow): she runs it, pinned by digest.
    const s = await waitFor(() => {
      const st = statusOf(ann, uri)
      return st?.state === 'running' ? st : undefined
    }, { timeoutMs: 60_000, what: 'ann to run the registry image' })
    expect(s.imageDigest).toMatch(/^127\.0\.0\.1:5000\/meshlet\/busybox@sha256:[0-9a-f]{64}$/)
    const [row] = await containersOf(uri)
    const info = await docker.getContainer(row!.Id).inspect()
    expect(info.Image).toBe((await docker.getImage(REGISTRY_IMAGE).inspect()).Id)
    expect((await ann.peer!.pulledImages.list()).some((e) => e.owner === bob.owner.did && e.ref === REGISTRY_IMAGE && e.imageId === info.Image)).toBe(true)
  }, 90_000)
})

describe('binds', () => {
  test("the owner's allowed binds reach her own containers read-only and never a guest's", async () => {
    const own = await c.publishWorkload(ann, sleeper('own-bind', on(ann)))
    const guest = await c.publishWorkload(bob, sleeper('guest-bind', on(ann)))
    const inspect = async (uri: string) => {
      const rows = await waitFor(async () => {
        const r = await containersOf(uri)
        return r.length > 0 && r[0]!.State === 'running' ? r : undefined
      }, { timeoutMs: 60_000, what: `a running container for ${uri}` })
      return docker.getContainer(rows[0]!.Id).inspect()
    }
    const [mine, theirs] = await Promise.all([inspect(own.uri), inspect(guest.uri)])
    expect(mine.HostConfig.Binds).toEqual([`${bindDir}:/hostdata:ro`])
    expect(mine.Mounts.find((m) => m.Destination === '/hostdata')?.RW).toBe(false)
    expect(theirs.HostConfig.Binds ?? []).toEqual([])
    expect(theirs.Mounts.some((m) => m.Destination === '/hostdata')).toBe(false)
  }, 90_000)
})

describe('quotas', () => {
  test('a guest over its share of memory or containers is declined with the reason, published in the profile', async () => {
    const profile = cat.peer!.view.profile(cat.meshlet.did)
    expect(profile?.guestQuota).toEqual({ maxContainers: 1, cpuMillis: Math.floor((profile!.cpuMillis * 50) / 100), memoryMb: 256 })
    const big = await c.publishWorkload(bob, sleeper('big', { resources: { cpuMillis: 50, memoryMb: 300 }, ...on(cat) }))
    expect(await waitFor(() => declineOf(cat, big.uri), { timeoutMs: 30_000, what: 'memory quota decline' })).toBe(
      `over quota: owner ${bob.owner.did} would hold 300 of the 256 MiB of memory this meshlet allows one guest owner (0 held, 300 needed)`,
    )
    const first = await c.publishWorkload(bob, sleeper('first', on(cat)))
    await waitFor(() => statusOf(cat, first.uri)?.state === 'running', { timeoutMs: 60_000, what: 'the first guest workload to run on cat' })
    const second = await c.publishWorkload(bob, sleeper('second', on(cat)))
    expect(await waitFor(() => declineOf(cat, second.uri), { timeoutMs: 30_000, what: 'container quota decline' })).toBe(
      `over quota: owner ${bob.owner.did} already holds 1 of the 1 containers this meshlet allows one guest owner`,
    )
    // cat's own owner is never limited by the guest quota.
    const hers = await c.publishWorkload(cat, sleeper('hers', on(cat)))
    await waitFor(() => statusOf(cat, hers.uri)?.state === 'running', { timeoutMs: 60_000, what: "cat's own workload to run" })
  }, 150_000)

  test('spam: N impossible workloads cost each guest-facing peer fewer than N bid writes, and the first declines still say why', async () => {
    const N = 30
    const before = new Map([...writes].map(([k, v]) => [k, v.bid]))
    const uris: string[] = []
    const t0 = Date.now()
    // One commit, as a spammer would write them.
    const res = await bob.owner.agent.com.atproto.repo.applyWrites({
      repo: bob.owner.did,
      validate: false,
      writes: Array.from({ length: N }, (_, i) => ({
        $type: 'com.atproto.repo.applyWrites#create' as const,
        collection: NSID.workload,
        value: { $type: NSID.workload, createdAt: new Date().toISOString(), ...sleeper(`spam-${i}`, { resources: { cpuMillis: 50, memoryMb: 900_000 }, bidWindowMs: 1000 }) },
      })),
    })
    for (const r of res.data.results ?? []) uris.push((r as { uri: string }).uri)
    expect(uris).toHaveLength(N)
    console.log(`spam: published ${N} in ${Date.now() - t0} ms`)
    for (const m of [ann, cat]) {
      await waitFor(() => uris.every((u) => m.peer!.scheduler.decisions.get(u)?.offer.kind === 'decline' && m.peer!.scheduler.decisions.get(u)?.phase !== 'bidding'), {
        timeoutMs: 120_000,
        what: `${m.name} to decide on every spam workload`,
        onTimeout: () => JSON.stringify(uris.map((u) => { const d = m.peer!.scheduler.decisions.get(u); return d && [d.phase, d.offer.kind, d.note] }).slice(0, 5)),
      })
      console.log(`spam: ${m.name} decided all after ${Date.now() - t0} ms`)
      await m.peer!.writer.idle()
      const spent = writes.get(m.name)!.bid - before.get(m.name)!
      expect(spent).toBeLessThanOrEqual(DECLINE_BUDGET_PER_OWNER)
      expect(spent).toBeLessThan(N)
      const declined = uris.filter((u) => declineOf(m, u) !== undefined)
      expect(declined.length).toBeGreaterThan(0)
      expect(declineOf(m, declined[0]!)).toMatch(/insufficient memory/)
      // The rest are declined locally, with the reason in the peer's own outcome.
      const quiet = uris.find((u) => declineOf(m, u) === undefined)!
      expect(m.peer!.scheduler.decisions.get(quiet)?.note).toMatch(/declined without a record/)
    }
  }, 300_000)
})

describe('container names', () => {
  test("bob publishing at alice's record key does not make alice's create fail with 409", async () => {
    const rkey = TID.nextStr()
    const put = (m: Member, name: string) =>
      m.owner.agent.com.atproto.repo.putRecord({ repo: m.owner.did, collection: NSID.workload, rkey, validate: false, record: { $type: NSID.workload, createdAt: new Date().toISOString(), ...sleeper(name, on(ann)) } })
    const theirs = await put(bob, 'squat')
    const mine = await put(ann, 'real')
    for (const uri of [theirs.data.uri, mine.data.uri]) {
      await waitFor(() => statusOf(ann, uri)?.state === 'running', { timeoutMs: 60_000, what: `${uri} running on ann` })
    }
    const [a] = await containersOf(mine.data.uri)
    const [b] = await containersOf(theirs.data.uri)
    expect(a!.Names[0]).not.toBe(b!.Names[0])
    expect(statusOf(ann, mine.data.uri)?.message ?? '').not.toMatch(/409|Conflict/)
  }, 90_000)
})
