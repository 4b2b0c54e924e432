// Intake from a relay (issue 16 part 5): CPU per unrelated event over 100,000 events, which a real
// PDS cannot produce here in reasonable time. A stand-in relay (relay-server.ts) on 127.0.0.1
// streams real subscribeRepos frames (relay-frames.ts): commits of unrelated repos
// (app.bsky.feed.post), a share of commits from a tracked member's repo in a collection meshlet
// ignores, and a few #identity/#account events of strangers. The peer's real intake
// (AtprotoRecordSource with a relay URL, SQLite cursor store) runs in a child process, whose CPU
// is read from /proc, minus its idle CPU measured just before each pass.
//
//   npx tsx bench/relay-intake.ts [--events 100000] [--passes 3] [--tracked-pct 5] [--strangers 1000] [--idle-ms 2000] [--bare [--bare-passes 1]]
//
// --bare also runs @atproto/sync's Firehose alone (a runner that drops everything) to split the
// cost into what any subscribeRepos consumer pays and what meshlet adds.
import { fork, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Frame, type MessageFrame } from '@atproto/xrpc-server'
import { toWsUrl } from '../src/adapters/atproto/ws-url.js'
import { CURSOR_DB_FILE, SqliteCursorStore } from '../src/adapters/store/sqlite-cursor-store.js'
import { cpuMs, peakRssMb, rssMb } from './proc.js'
import { PreEncodedFrame, RepoWriter, accountFrame, commitFrame, identityFrame, randomPlcDid, type CommitBody } from './relay-frames.js'
import { StandInRelay } from './relay-server.js'

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const EVENTS = arg('events', 100_000)
const PASSES = arg('passes', 3)
const TRACKED_PCT = arg('tracked-pct', 5)
const BARE = process.argv.includes('--bare')
const BARE_PASSES = arg('bare-passes', 1)
const STRANGERS = arg('strangers', 1000)
const IDLE_MS = arg('idle-ms', 2000)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const say = (s: string) => console.error(`[relay-intake ${new Date().toISOString().slice(11, 19)}] ${s}`)

interface Pass {
  events: number
  seconds: number
  eventsPerS: number
  cpuUsPerEvent: number
  idleCpuShare: number
  relayCpuUsPerEvent: number
  rssBeforeMb: number
  rssAfterMb: number
}

/** The event mix: every 100/pct-th a tracked commit, 1 in 100 an identity/account event, the rest strangers' posts. */
function mix(n: number, firstSeq: number, stranger: CommitBody[], tracked: CommitBody[]): MessageFrame[] {
  const out: MessageFrame[] = []
  const every = TRACKED_PCT > 0 ? Math.round(100 / TRACKED_PCT) : 0
  const time = new Date().toISOString()
  for (let i = 0; i < n; i++) {
    const seq = firstSeq + i
    if (every > 0 && i % every === every - 1) out.push(commitFrame(tracked[(seq / every) % tracked.length | 0]!, seq, time))
    else if (i % 100 === 50) out.push(identityFrame(stranger[seq % stranger.length]!.repo, seq, time))
    else if (i % 100 === 51) out.push(accountFrame(stranger[seq % stranger.length]!.repo, seq, time))
    else out.push(commitFrame(stranger[seq % stranger.length]!, seq, time))
  }
  return out.map((f) => new PreEncodedFrame(f))
}

function startChild(mode: 'peer' | 'bare', relay: StandInRelay, dataDir: string, tracked: string[]): Promise<ChildProcess> {
  fs.mkdirSync(dataDir, { recursive: true })
  const child = fork(path.join(import.meta.dirname, 'relay-intake-peer.ts'), [mode, relay.wsUrl, relay.url, dataDir, ...tracked], {
    // As the peer runs (Dockerfile, devnet, bin/meshlet.mjs): a 1 MiB young generation, more scavenges.
    execArgv: ['--max-semi-space-size=1', '--import', 'tsx'],
    stdio: ['ignore', fs.openSync(path.join(dataDir, `${mode}.log`), 'a'), 'inherit', 'ipc'],
    env: { ...process.env, MESHLET_LOG_LEVEL: process.env.MESHLET_LOG_LEVEL ?? 'info' },
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${mode} child exited (${code})`)))
    child.on('message', (m: { ready?: boolean }) => m.ready && resolve(child))
  })
}

async function waitFor(what: string, done: () => boolean, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** One pass: idle baseline, then `n` events pushed and waited for; CPU from /proc. */
async function pass(relay: StandInRelay, pid: number, frames: MessageFrame[], reached: () => Promise<void>): Promise<Pass> {
  const i0 = { at: performance.now(), cpu: cpuMs(pid)! }
  await sleep(IDLE_MS)
  const i1 = { at: performance.now(), cpu: cpuMs(pid)! }
  const idlePerMs = (i1.cpu - i0.cpu) / (i1.at - i0.at)
  const rssBeforeMb = rssMb(pid)!
  const relay0 = process.cpuUsage()
  const t0 = { at: performance.now(), cpu: cpuMs(pid)! }
  relay.push(frames)
  await reached()
  const t1 = { at: performance.now(), cpu: cpuMs(pid)! }
  const relayCpu = process.cpuUsage(relay0)
  const ms = t1.at - t0.at
  return {
    events: frames.length,
    seconds: ms / 1000,
    eventsPerS: frames.length / (ms / 1000),
    cpuUsPerEvent: (Math.max(0, t1.cpu - t0.cpu - idlePerMs * ms) * 1000) / frames.length,
    idleCpuShare: idlePerMs,
    relayCpuUsPerEvent: (relayCpu.user + relayCpu.system) / frames.length,
    rssBeforeMb,
    rssAfterMb: rssMb(pid)!,
  }
}

/** Parent-side cost of the parts alone, per event (µs): frame decode (DAG-CBOR header + body), and the SQLite cursor write. */
function parts(frames: MessageFrame[], dir: string): { decodeUs: number; cursorWriteUs: number } {
  const bytes = frames.map((f) => f.toBytes())
  const c0 = process.cpuUsage()
  for (const b of bytes) Frame.fromBytes(b)
  const c1 = process.cpuUsage(c0)
  const store = SqliteCursorStore.open(path.join(dir, 'parts'))
  const c2 = process.cpuUsage()
  for (let i = 0; i < frames.length; i++) void store.setCursor('ws://bench', i + 1)
  const c3 = process.cpuUsage(c2)
  return { decodeUs: (c1.user + c1.system) / frames.length, cursorWriteUs: (c3.user + c3.system) / frames.length }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const r = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-relay-intake-'))
  const load0 = os.loadavg()
  say(`building ${STRANGERS} stranger repos and the member's chain (signed commits)`)
  const member = await RepoWriter.create()
  const trackedChain: CommitBody[] = []
  for (let i = 0; i < Math.min(500, Math.ceil((EVENTS * TRACKED_PCT) / 100)); i++) trackedChain.push(await member.commit('app.bsky.feed.like'))
  const strangers: CommitBody[] = []
  for (let i = 0; i < STRANGERS; i++) strangers.push(await (await RepoWriter.create(randomPlcDid())).commit('app.bsky.feed.post'))
  const relay = await StandInRelay.start()
  relay.serve(member)
  const key = toWsUrl(relay.wsUrl)!
  let seq = 0
  const results: Record<string, Pass[]> = {}

  // The peer's intake.
  const peerDir = path.join(dir, 'peer')
  const peer = await startChild('peer', relay, peerDir, [member.did])
  await waitFor('the member backfill', () => relay.connections > 0 && relay.listCalls >= 2)
  await sleep(2000) // its settle backfill
  let db: DatabaseSync | undefined
  const cursor = (): number => {
    db ??= new DatabaseSync(path.join(peerDir, CURSOR_DB_FILE), { readOnly: true })
    const row = db.prepare('SELECT seq FROM cursor WHERE source = ?').get(key) as { seq: number } | undefined
    return row ? Number(row.seq) : 0
  }
  const warm = mix(1000, seq + 1, strangers, trackedChain)
  seq += warm.length
  relay.push(warm)
  await waitFor('the warm-up', () => cursor() >= seq)
  const rssStart = rssMb(peer.pid!)!
  results.peer = []
  for (let p = 0; p < PASSES; p++) {
    const frames = mix(EVENTS, seq + 1, strangers, trackedChain)
    seq += frames.length
    const target = seq
    say(`peer pass ${p + 1}/${PASSES}: ${EVENTS} events`)
    results.peer.push(await pass(relay, peer.pid!, frames, () => waitFor(`seq ${target}`, () => cursor() >= target)))
    say(JSON.stringify(results.peer.at(-1)))
  }
  const records = await new Promise<{ records: number; synced: boolean }>((resolve) => {
    peer.once('message', resolve)
    peer.send({ ask: 'records' })
  })
  const peakMb = peakRssMb(peer.pid!)!
  const rssEnd = rssMb(peer.pid!)!
  const reconnects = relay.connections - 1
  peer.removeAllListeners('exit')
  peer.kill('SIGTERM')
  db?.close()

  // @atproto/sync's Firehose alone.
  if (BARE) {
    await relay.close()
    const relay2 = await StandInRelay.start()
    const bare = await startChild('bare', relay2, path.join(dir, 'bare'), [])
    let reachedSeq = 0
    bare.on('message', (m: { reached?: number }) => {
      if (typeof m.reached === 'number') reachedSeq = m.reached
    })
    await waitFor('the bare subscription', () => relay2.connections > 0)
    let s = 0
    const untilSeq = async (target: number) => {
      bare.send({ waitFor: target })
      await waitFor(`bare seq ${target}`, () => reachedSeq >= target)
    }
    const w = mix(1000, s + 1, strangers, trackedChain)
    s += w.length
    relay2.push(w)
    await untilSeq(s)
    results.bare = []
    for (let p = 0; p < BARE_PASSES; p++) {
      const frames = mix(EVENTS, s + 1, strangers, trackedChain)
      s += frames.length
      const target = s
      say(`bare pass ${p + 1}/${BARE_PASSES}`)
      results.bare.push(await pass(relay2, bare.pid!, frames, () => untilSeq(target)))
      say(JSON.stringify(results.bare.at(-1)))
    }
    bare.removeAllListeners('exit')
    bare.kill('SIGTERM')
    await relay2.close()
  } else {
    await relay.close()
  }

  const split = parts(mix(EVENTS, 1, strangers, trackedChain), dir)
  const summary = {
    events: EVENTS,
    passes: PASSES,
    trackedPct: TRACKED_PCT,
    strangerRepos: STRANGERS,
    peer: {
      medianCpuUsPerEvent: r(median(results.peer.map((x) => x.cpuUsPerEvent))),
      medianEventsPerS: Math.round(median(results.peer.map((x) => x.eventsPerS))),
      rssStartMb: r(rssStart),
      rssEndMb: r(rssEnd),
      peakRssMb: r(peakMb),
      recordsHandled: records.records,
      memberSynced: records.synced,
      reconnects,
    },
    bare: results.bare && { medianCpuUsPerEvent: r(median(results.bare.map((x) => x.cpuUsPerEvent))), medianEventsPerS: Math.round(median(results.bare.map((x) => x.eventsPerS))) },
    partsUs: { decode: r(split.decodeUs, 2), cursorWrite: r(split.cursorWriteUs, 2) },
    passes_: results,
    load: { before: load0.map((x) => r(x, 2)), after: os.loadavg().map((x) => r(x, 2)) },
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, node: process.version },
  }
  console.log(JSON.stringify(summary, null, 2))
  fs.rmSync(dir, { recursive: true, force: true })
}

await main()
process.exit(0)
