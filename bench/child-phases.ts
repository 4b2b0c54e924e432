// Measured on a peer in its OWN process (the real binary, spawned as a child), because in-process
// peers share one heap and one CPU clock with the PLC and PDS servers:
// - footprint: resident memory of an idle peer, then with N workloads tracked;
// - intake: how fast the peer works through a firehose backlog of commits from repos and
//   collections it does not care about, and the CPU time it spends per event.
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { DevCommune, Member } from '../src/devnet/commune.js'
import type { RunConfig } from '../src/config.js'
import { NSID } from '../src/core/types.js'
import { toWsUrl } from '../src/adapters/atproto/record-source.js'
import { CURSOR_DB_FILE } from '../src/adapters/store/sqlite-cursor-store.js'
import { waitFor } from '../src/devnet/commune.js'
import { monotonicNow } from '../src/services/timeline.js'
import { alive, cpuMs, descendants, peakRssMb, peerProcess, rssMb } from './proc.js'
import { summarize } from './stats.js'
import { BENCH_IMAGE } from './image.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface ChildPeer {
  member: Member
  wrapperPid: number
  pid: number
  /** Each PDS's head seq when the peer started: a stream with nothing newer never gets a stored cursor. */
  headsAtStart: number[]
}

export async function startChild(c: DevCommune, m: Member, extra: Partial<RunConfig> = {}, entry?: string): Promise<ChildPeer> {
  // spawnPeer waits for "meshlet started" in m.logs: a previous run's line must not count.
  m.logs.length = 0
  const child = await c.spawnPeer(m, extra, entry)
  // Read once the peer has subscribed and backfilled: what came before is in its backfill, what
  // comes after reaches it live and moves its cursor. (Read before the spawn, a commit in between
  // left a fresh peer, whose stream starts live, with no cursor and a head it could never reach
  // once heartbeats became rare.)
  const headsAtStart = await Promise.all(c.net.pdses.map((_, i) => headSeq(c, i)))
  const wrapperPid = child.pid!
  const pid = await waitFor(() => peerProcess(wrapperPid), { timeoutMs: 10_000, what: 'the peer process under the tsx wrapper' })
  return { member: m, wrapperPid, pid, headsAtStart }
}

/** SIGTERM to the peer itself (the tsx wrapper exits with it): a clean stop that stores its cursor. SIGKILL after 15 s. */
export async function stopChild(c: DevCommune, p: ChildPeer): Promise<void> {
  const exited = p.member.child && p.member.child.exitCode === null ? new Promise((r) => p.member.child!.once('exit', r)) : Promise.resolve()
  if (alive(p.pid)) process.kill(p.pid, 'SIGTERM')
  const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])
  if (!done) {
    // Kill the peer by its own pid: SIGKILL of the wrapper alone would leave it running as an orphan.
    if (alive(p.pid)) process.kill(p.pid, 'SIGKILL')
    await c.killPeer(p.member)
  }
  await waitFor(() => !alive(p.pid), { timeoutMs: 5000, what: 'the peer process to exit' }).catch(() => {})
  p.member.child = undefined
}

/** Stops every child peer of the commune cleanly (also those a failed phase left behind). */
export async function stopAllChildren(c: DevCommune): Promise<void> {
  for (const m of c.members) {
    const w = m.child
    if (!w?.pid || w.exitCode !== null) continue
    const pid = peerProcess(w.pid)
    await stopChild(c, { member: m, wrapperPid: w.pid, pid: pid ?? w.pid, headsAtStart: [] })
  }
}

function readCursor(dataDir: string, source: string): number | undefined {
  const db = new DatabaseSync(path.join(dataDir, CURSOR_DB_FILE), { readOnly: true })
  try {
    const row = db.prepare('SELECT seq FROM cursor WHERE source = ?').get(source) as { seq: number } | undefined
    return row ? Number(row.seq) : undefined
  } finally {
    db.close()
  }
}

function knownWorkloads(dataDir: string): number {
  const db = new DatabaseSync(path.join(dataDir, CURSOR_DB_FILE), { readOnly: true })
  try {
    const rows = db.prepare('SELECT value FROM state WHERE key LIKE ?').all(`known:%:${NSID.workload}`) as { value: string }[]
    return rows.reduce((n, r) => n + (JSON.parse(r.value) as unknown[]).length, 0)
  } finally {
    db.close()
  }
}

async function headSeq(c: DevCommune, pdsIndex: number): Promise<number> {
  return (await c.net.pdses[pdsIndex]!.server.ctx.sequencer.curr()) ?? 0
}

/** Until the peer's stored cursor for every PDS has reached that PDS's head: it has handled everything. */
async function caughtUp(c: DevCommune, p: ChildPeer, timeoutMs: number): Promise<void> {
  const heads = await Promise.all(c.net.pdses.map((_, i) => headSeq(c, i)))
  const done = (i: number): boolean => {
    const cursor = readCursor(p.member.dataDir, toWsUrl(c.net.pdses[i]!.url)!)
    return cursor === undefined ? heads[i]! <= (p.headsAtStart[i] ?? -1) : cursor >= heads[i]!
  }
  await waitFor(() => c.net.pdses.every((_, i) => done(i)), {
    timeoutMs,
    intervalMs: 100,
    what: `${p.member.name} to catch up with the firehose`,
    onTimeout: () =>
      [
        ...c.net.pdses.map((pds, i) => `pds ${i}: head ${heads[i]}, cursor ${readCursor(p.member.dataDir, toWsUrl(pds.url)!)}, at start ${p.headsAtStart[i]}`),
        ...p.member.logs.filter((l) => !l.includes('"level":20')).slice(-15),
      ].join('\n'),
  })
}

async function sampleRss(pid: number, ms: number): Promise<{ rss: number; peak: number }> {
  const xs: number[] = []
  for (let t = 0; t < ms; t += 250) {
    const r = rssMb(pid)
    if (r !== undefined) xs.push(r)
    await sleep(250)
  }
  return { rss: summarize(xs).p50, peak: peakRssMb(pid) ?? Number.NaN }
}

export interface FootprintRow {
  label: string
  idleRssMb: number
  idlePeakMb: number
  loadedRssMb: number
  loadedPeakMb: number
  trackedWorkloads: number
  /** Other processes that run for the peer (a tsx wrapper, esbuild's service), MiB. */
  helperRssMb: number
}

export interface FootprintResult {
  workloads: number
  rows: FootprintRow[]
}

/** Idle RSS of each peer, then the same after `workloads` workloads are published and tracked by all of them. */
/** How long a measurement lets things settle, and how long it samples. */
export interface Timing {
  settleMs: number
  sampleMs: number
  /** Intake: how long the idle peer's CPU is read before the busy firehose; covers its periodic sweeps (lease/3). */
  idleMs: number
}

export async function measureFootprint(c: DevCommune, peers: { label: string; peer: ChildPeer }[], workloads: number, runId: string, t: Timing): Promise<FootprintResult> {
  // Idle: started, backfilled, only heartbeats going on.
  for (const { peer } of peers) await caughtUp(c, peer, 30_000)
  await sleep(t.settleMs)
  const idle = await Promise.all(peers.map(({ peer }) => sampleRss(peer.pid, t.sampleMs)))
  const owners = c.members.filter((m) => !peers.some((p) => p.peer.member === m))
  // Workloads no peer is allowed to run (constraint role "none"): every peer tracks and evaluates them, none starts 200 containers on 2 cores.
  const queue = Array.from({ length: workloads }, (_, i) => i)
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        await c.publishWorkload(owners[i % owners.length]!, {
          name: `bench-${runId}-tracked-${i}`,
          image: BENCH_IMAGE,
          command: ['sleep', '3600'],
          replicas: 1,
          resources: { cpuMillis: 100, memoryMb: 32 },
          constraints: { roles: ['none'] },
        })
      }
    }),
  )
  for (const { peer } of peers) await caughtUp(c, peer, 60_000)
  await sleep(t.settleMs)
  const loaded = await Promise.all(peers.map(({ peer }) => sampleRss(peer.pid, t.sampleMs)))
  return {
    workloads,
    rows: peers.map(({ label, peer }, i) => ({
      label,
      idleRssMb: idle[i]!.rss,
      idlePeakMb: idle[i]!.peak,
      loadedRssMb: loaded[i]!.rss,
      loadedPeakMb: loaded[i]!.peak,
      trackedWorkloads: knownWorkloads(peer.member.dataDir),
      helperRssMb: [peer.wrapperPid, ...descendants(peer.wrapperPid)].filter((x) => x !== peer.pid).reduce((sum, x) => sum + (rssMb(x) ?? 0), 0),
    })),
  }
}

export interface IntakeResult {
  /** Commits per pass (live, then backlog). */
  commits: number
  unrelatedRepos: number
  trackedOtherCollection: number
  live: {
    events: number
    seconds: number
    /** The rate the PDS produced them; the peer kept up with it when lagMs is small. */
    eventsPerS: number
    /** From the last commit until the peer had handled it. */
    lagMs: number
    /** Peer CPU per event, its idle CPU over the same time subtracted, ms. */
    cpuMsPerEvent: number
    /** Peer CPU while the firehose was busy, as a share of one core. */
    cpuShare: number
  }
  replay: {
    events: number
    seconds: number
    eventsPerS: number
  }
}

/**
 * Fills the peer's PDS firehose with commits it does not care about: 80 % from unrelated accounts,
 * 20 % from a tracked member's repo but in a collection meshlet ignores. First live (the peer runs;
 * its CPU time is read from /proc before and after, its idle CPU over as long subtracted), then as
 * a backlog (the peer is stopped while they are written, restarts from its stored cursor, and the
 * cursor is watched as it runs through them).
 */
export async function measureIntake(c: DevCommune, p: ChildPeer, commits: number, t: Timing, progress: (s: string) => void): Promise<{ result: IntakeResult; peer: ChildPeer }> {
  const m = p.member
  const pdsIndex = c.net.pdses.findIndex((x) => x.url === m.meshlet.pds)
  const pds = c.net.pdses[pdsIndex]!
  const source = toWsUrl(pds.url)!
  const trackedOwner = c.members.find((x) => x !== m && x.owner.pds === pds.url) ?? m
  const strangers = await Promise.all(Array.from({ length: Math.min(8, Math.max(1, Math.floor(commits / 10))) }, (_, i) => c.net.createAccount(`stranger${i}`, pdsIndex)))
  const tracked = Math.round(commits * 0.2)
  const write = async (): Promise<void> => {
    const writers = [
      ...strangers.map((s, i) => ({ agent: s.agent, did: s.did, n: Math.floor((commits - tracked) / strangers.length) + (i < (commits - tracked) % strangers.length ? 1 : 0), collection: 'app.bench.post' })),
      { agent: trackedOwner.owner.agent, did: trackedOwner.owner.did, n: tracked, collection: 'app.bench.like' },
    ]
    await Promise.all(
      writers.map(async (w) => {
        for (let i = 0; i < w.n; i++) {
          await w.agent.com.atproto.repo.createRecord({ repo: w.did, collection: w.collection, record: { $type: w.collection, text: `bench ${i}`, createdAt: new Date().toISOString() }, validate: false })
        }
      }),
    )
  }

  // Live.
  await caughtUp(c, p, 30_000)
  const idleFrom = { at: monotonicNow(), cpu: cpuMs(p.pid)! }
  await sleep(t.idleMs)
  const idleTo = { at: monotonicNow(), cpu: cpuMs(p.pid)! }
  const idleCpuPerMs = (idleTo.cpu - idleFrom.cpu) / (idleTo.at - idleFrom.at)
  progress(`intake: ${commits} commits to ${pds.url} while ${m.name} follows the firehose`)
  const seq0 = (await headSeq(c, pdsIndex))
  const t0 = { at: monotonicNow(), cpu: cpuMs(p.pid)! }
  await write()
  const written = monotonicNow()
  const head1 = await headSeq(c, pdsIndex)
  await waitFor(() => (readCursor(m.dataDir, source) ?? 0) >= head1, { timeoutMs: 120_000, intervalMs: 5, what: `${m.name} to handle the live commits` })
  const t1 = { at: monotonicNow(), cpu: cpuMs(p.pid)! }
  const liveEvents = head1 - seq0
  const liveMs = t1.at - t0.at
  const live = {
    events: liveEvents,
    seconds: liveMs / 1000,
    eventsPerS: liveEvents / ((written - t0.at) / 1000),
    lagMs: t1.at - written,
    cpuMsPerEvent: Math.max(0, t1.cpu - t0.cpu - idleCpuPerMs * liveMs) / liveEvents,
    cpuShare: (t1.cpu - t0.cpu) / liveMs,
  }

  // Backlog.
  await stopChild(c, p)
  const start = readCursor(m.dataDir, source) ?? 0
  progress(`intake: ${commits} more commits while ${m.name} is stopped, then its replay`)
  await write()
  const head = await headSeq(c, pdsIndex)
  const samples: { at: number; seq: number }[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const seq = readCursor(m.dataDir, source)
      if (seq !== undefined) samples.push({ at: monotonicNow(), seq })
      if (seq !== undefined && seq >= head) break
      await sleep(2)
    }
  })()
  const restarted = await startChild(c, m)
  await waitFor(() => (readCursor(m.dataDir, source) ?? 0) >= head, { timeoutMs: 120_000, what: 'the replay to finish' })
  sampling = false
  await sampler
  // From the last sample before the cursor moved to the first at the head.
  const firstMove = samples.findIndex((x) => x.seq > start)
  const from = samples[Math.max(0, firstMove - 1)]
  const to = samples.find((x) => x.seq >= head)
  if (firstMove < 0 || !from || !to || to.at <= from.at) throw new Error(`no replay progress observed (start ${start}, head ${head}, ${samples.length} samples)`)
  const replay = { events: to.seq - from.seq, seconds: (to.at - from.at) / 1000, eventsPerS: (to.seq - from.seq) / ((to.at - from.at) / 1000) }
  return { result: { commits, unrelatedRepos: strangers.length, trackedOtherCollection: tracked, live, replay }, peer: restarted }
}
