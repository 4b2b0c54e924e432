// The whole bench as one function, so `npm run bench` (bench/run.ts) and the CI smoke test
// (test/integration/bench-smoke.test.ts) run the same code. Every comparison is measured side by
// side in this one run: latency samples of meshlet, Swarm and raw dockerode are interleaved (the
// order rotates each round) so that noise from other processes lands on all three alike.
import os from 'node:os'
import path from 'node:path'
import Docker from 'dockerode'
import { describeError } from '../src/errors.js'
import { benchLogger, startBenchCommune, type BenchCommune } from './bench-commune.js'
import { measureBatch, type BatchResult } from './batch-phase.js'
import { meshletEndpointOnce, swarmEndpointOnce, type EndpointResult } from './endpoint-phase.js'
import { measureCliStart, type CliStartResult } from './cli-start.js'
import { measureFootprint, measureIntake, startChild, stopAllChildren, stopChild, type FootprintResult, type IntakeResult } from './child-phases.js'
import { buildCompiledPeer, removeCompiledPeer } from './compiled.js'
import { EngineStartWatcher } from './engine-events.js'
import { BENCH_IMAGE, prepareImage, releaseImage } from './image.js'
import { machineInfo, type MachineInfo } from './machine.js'
import { MeshletBench, type LatencySample } from './meshlet-phases.js'
import { PdsWake } from './pds-wake.js'
import { SubmitHints } from './submit-hints.js'
import { RawDocker } from './raw.js'
import { SwarmBaseline } from './swarm.js'

export type Phase = 'latency' | 'burst' | 'endpoint' | 'batch' | 'window' | 'footprint' | 'intake' | 'cli'
export const ALL_PHASES: readonly Phase[] = ['latency', 'burst', 'endpoint', 'batch', 'window', 'footprint', 'intake', 'cli']

export interface BenchOptions {
  /** Runs per command of the cli phase (default: n, within 5..15). */
  cliRuns?: number
  /** Latency samples per contender. */
  n: number
  /** Endpoint phase: samples per contender (default n). */
  endpointN?: number
  /** Workloads / services / containers per burst. */
  burst: number
  burstReps: number
  swarm: boolean
  /** Bid windows (ms) for the window path, each measured windowReps times. */
  windows: number[]
  windowReps: number
  /** Batch phase: samples per kind, and how long a batch stays published after its start. */
  batchN: number
  batchHoldMs: number
  intakeCommits: number
  footprintWorkloads: number
  /** Footprint and intake: settle time before a reading, and how long readings are sampled. */
  settleMs: number
  sampleMs: number
  idleMs: number
  phases: readonly Phase[]
  /** Bid window of latency and burst workloads: early close makes it irrelevant when all peers answer. */
  bidWindowMs: number
  cpuMillis: number
  memoryMb: number
  logFile: string
  progress: (msg: string) => void
}

export const FULL: Omit<BenchOptions, 'logFile' | 'progress'> = {
  n: 20,
  burst: 50,
  burstReps: 3,
  swarm: true,
  windows: [1000, 3000],
  windowReps: 6,
  batchN: 20,
  batchHoldMs: 2000,
  intakeCommits: 1000,
  footprintWorkloads: 200,
  settleMs: 2000,
  sampleMs: 3000,
  idleMs: 10_000,
  phases: ALL_PHASES,
  bidWindowMs: 2000,
  cpuMillis: 100,
  memoryMb: 32,
}

export const QUICK: Omit<BenchOptions, 'logFile' | 'progress'> = { ...FULL, n: 8, burst: 20, burstReps: 1, windows: [1000], windowReps: 4, batchN: 8, intakeCommits: 300, footprintWorkloads: 200 }

export interface BurstRun {
  allMs: number
  each: number[]
  perPeer?: Record<string, number>
  /** meshlet only: each workload's winner timeline, ms since the burst started. */
  at?: LatencySample['at'][]
}

export interface BenchResults {
  startedAt: string
  durationS: number
  options: Omit<BenchOptions, 'progress'>
  machine: MachineInfo
  loadAtEnd: number[]
  image: string
  /** DIDs of the commune's meshlets (to check that none of their containers is left). */
  meshlets: string[]
  /** meshletWoken: the same peers with the devnet PDSes waking their firehose on every commit (bench/pds-wake.ts). */
  /** rawHardened: raw dockerode creating the container meshlet runs (bench/raw.ts HardenedFloor), the floor for meshlet's own start. */
  latency?: { meshlet: LatencySample[]; meshletWoken: LatencySample[]; swarm: number[]; raw: number[]; meshletNotify?: LatencySample[]; rawHardened?: number[] }
  burst?: { meshlet: BurstRun[]; swarm: BurstRun[]; raw: BurstRun[]; rawHardened?: BurstRun[] }
  /** Record -> first HTTP 200 from a healthy endpoint: meshlet (status record's URL) and Swarm (published port), interleaved. */
  endpoint?: EndpointResult
  /** Publish -> running of batch (at-most-once, ack-gated), services and at-least-once batch, interleaved. */
  batch?: BatchResult
  window?: { windowMs: number; woken: boolean; samples: LatencySample[] }[]
  footprint?: FootprintResult
  intake?: IntakeResult
  cli?: CliStartResult
  errors: string[]
}

/** Cleanups that a signal handler must still run (Swarm, commune, containers). */
const pending = new Set<() => Promise<void>>()

export async function runPendingCleanups(): Promise<void> {
  for (const f of [...pending]) {
    pending.delete(f)
    await f().catch(() => {})
  }
}

function guard(f: () => Promise<void>): () => void {
  pending.add(f)
  return () => pending.delete(f)
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const t0 = Date.now()
  const say = opts.progress
  const docker = new Docker({ socketPath: '/var/run/docker.sock' })
  const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`
  const { progress: _p, ...recorded } = opts
  const res: BenchResults = {
    startedAt: new Date(t0).toISOString(),
    durationS: 0,
    options: recorded,
    machine: await machineInfo(docker),
    loadAtEnd: [],
    image: BENCH_IMAGE,
    meshlets: [],
    errors: [],
  }
  const phase = async (name: string, f: () => Promise<void>): Promise<void> => {
    const started = Date.now()
    say(`${name}: start`)
    try {
      await f()
      say(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    } catch (err) {
      res.errors.push(`${name}: ${describeError(err)}`)
      say(`${name}: FAILED: ${describeError(err)}`)
    }
  }
  const has = (p: Phase) => opts.phases.includes(p)
  // First, on a machine not yet busy with the commune: a CLI start is a person's wait, not the peer's.
  if (has('cli')) await phase('cli', async () => void (res.cli = await measureCliStart(opts.cliRuns ?? Math.max(5, Math.min(opts.n, 15)))))
  if (opts.phases.every((p) => p === 'cli')) {
    res.loadAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100)
    res.durationS = Math.round((Date.now() - t0) / 100) / 10
    return res
  }

  const image = await prepareImage()
  const watcher = await EngineStartWatcher.open(docker)
  const raw = new RawDocker(docker, watcher, image, runId)
  const rawHard = new RawDocker(docker, watcher, image, runId, { network: `meshlet-bench-floor-${runId}`, cpuMillis: opts.cpuMillis, memoryMb: opts.memoryMb })
  const swarm = opts.swarm ? new SwarmBaseline(docker, watcher, image, runId) : undefined
  let bc: BenchCommune | undefined
  const cleanup = async (): Promise<void> => {
    if (swarm) await swarm.leave().catch(() => {})
    if (bc) await stopAllChildren(bc.c).catch(() => {})
    await bc?.c.close().catch(() => {})
    await raw.removeAll().catch(() => {})
    await rawHard.removeAll().catch(() => {})
    await rawHard.removeNetwork()
    await removeCompiledPeer().catch(() => {})
    watcher.close()
    await releaseImage()
  }
  const unguard = guard(cleanup)
  try {
    const logDir = path.dirname(opts.logFile)
    say(`commune: starting PLC + 2 PDS + 3 peers as child processes (peer logs: ${logDir})`)
    bc = await startBenchCommune({ logger: benchLogger(opts.logFile), logDir })
    const c = bc.c
    res.meshlets = c.members.map((m) => m.meshlet.did)
    const wake = new PdsWake(c.net.pdses)
    const woken = async <T>(f: () => Promise<T>): Promise<T> => {
      wake.enabled = true
      try {
        return await f()
      } finally {
        wake.enabled = false
      }
    }
    const mb = new MeshletBench(bc, docker, watcher, { image, bidWindowMs: opts.bidWindowMs, cpuMillis: opts.cpuMillis, memoryMb: opts.memoryMb }, runId)
    const swarmPhases = has('latency') || has('burst') || has('endpoint')
    if (swarm && swarmPhases) {
      say('swarm: init on 127.0.0.1:2377')
      await swarm.init()
    }
    // Warm-up, not counted: first container on a fresh bridge, first Swarm task, first resolutions.
    await mb.once()
    await raw.once()
    await rawHard.prepare()
    await rawHard.once()
    if (swarm && swarmPhases) await swarm.once()

    if (has('latency')) {
      await phase('latency', async () => {
        const out = { meshlet: [] as LatencySample[], meshletWoken: [] as LatencySample[], swarm: [] as number[], raw: [] as number[], meshletNotify: [] as LatencySample[], rawHardened: [] as number[] }
        res.latency = out
        const hints = new SubmitHints(bc!.runners) // notify (issue 16): createRecord + notify, as meshlet submit
        const contenders: [string, () => Promise<void>][] = [
          ['meshlet', async () => void out.meshlet.push(await mb.once())],
          ['meshlet, submit', async () => void out.meshletNotify.push(await mb.once({}, 60_000, 0, hints))],
          ['meshlet, PDS woken', async () => void out.meshletWoken.push(await woken(() => mb.once()))],
          ['raw', async () => void out.raw.push(await raw.once())],
          ['raw, hardened', async () => void out.rawHardened.push(await rawHard.once())],
        ]
        if (swarm) contenders.push(['swarm', async () => void out.swarm.push(await swarm.once())])
        for (let i = 0; i < opts.n; i++) {
          for (let k = 0; k < contenders.length; k++) await contenders[(i + k) % contenders.length]![1]()
          say(`latency ${i + 1}/${opts.n}: meshlet ${Math.round(out.meshlet.at(-1)!.totalMs)} ms (with notify: ${Math.round(out.meshletNotify.at(-1)!.totalMs)} ms; PDS woken: ${Math.round(out.meshletWoken.at(-1)!.totalMs)} ms)${swarm ? `, swarm ${Math.round(out.swarm.at(-1)!)} ms` : ''}, raw ${Math.round(out.raw.at(-1)!)} ms (hardened: ${Math.round(out.rawHardened.at(-1)!)} ms)`)
        }
      })
    }

    if (has('burst')) {
      await phase('burst', async () => {
        const out = { meshlet: [] as BurstRun[], swarm: [] as BurstRun[], raw: [] as BurstRun[], rawHardened: [] as BurstRun[] }
        res.burst = out
        const contenders: [string, () => Promise<BurstRun>, BurstRun[]][] = [
          ['meshlet', () => mb.burst(opts.burst), out.meshlet],
          ['raw', () => raw.burst(opts.burst), out.raw],
          ['raw, hardened', () => rawHard.burst(opts.burst), out.rawHardened],
        ]
        if (swarm) contenders.push(['swarm', () => swarm.burst(opts.burst), out.swarm])
        for (let i = 0; i < opts.burstReps; i++) {
          for (let k = 0; k < contenders.length; k++) {
            const [name, run, into] = contenders[(i + k) % contenders.length]!
            const r = await run()
            into.push(r)
            say(`burst ${i + 1}/${opts.burstReps}: ${name} ${opts.burst} running after ${Math.round(r.allMs)} ms`)
          }
        }
      })
    }
    if (has('endpoint')) {
      await phase('endpoint', async () => {
        const out: EndpointResult = { meshlet: [], swarm: [] }
        res.endpoint = out
        const n = opts.endpointN ?? opts.n
        let seq = 0
        const contenders: (() => Promise<void>)[] = [
          async () => void out.meshlet.push(await meshletEndpointOnce(bc!, mb, watcher, `bench-${runId}-e${++seq}`, seq, { image, bidWindowMs: opts.bidWindowMs })),
        ]
        if (swarm) contenders.push(async () => void out.swarm.push(await swarmEndpointOnce(swarm, docker)))
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < contenders.length; k++) await contenders[(i + k) % contenders.length]!()
          say(`endpoint ${i + 1}/${n}: meshlet ${Math.round(out.meshlet.at(-1)!.totalMs)} ms${swarm ? `, swarm ${Math.round(out.swarm.at(-1)!.totalMs)} ms` : ''}`)
        }
      })
    }
    if (swarm) await swarm.leave()

    if (has('batch')) await phase('batch', async () => void (res.batch = await measureBatch(mb, watcher, { n: opts.batchN, holdMs: opts.batchHoldMs, say })))

    if (has('window')) {
      await phase('window', async () => {
        // cat stays up (its heartbeat keeps it eligible) but never answers: no early close. Its
        // peer runs in this process for that, so its scheduler can be switched off.
        const cat = c.member('cat')
        await bc!.stop(cat)
        const silent = await c.startPeer(cat)
        silent.scheduler.stop()
        res.window = []
        for (const windowMs of opts.windows) {
          const stock = { windowMs, woken: false, samples: [] as LatencySample[] }
          const fast = { windowMs, woken: true, samples: [] as LatencySample[] }
          res.window.push(stock, fast)
          for (let i = 0; i < opts.windowReps; i++) {
            const pair = [
              async () => void stock.samples.push(await mb.once({ bidWindowMs: windowMs })),
              async () => void fast.samples.push(await woken(() => mb.once({ bidWindowMs: windowMs }))),
            ]
            for (let k = 0; k < 2; k++) await pair[(i + k) % 2]!()
            say(`window ${windowMs} ms ${i + 1}/${opts.windowReps}: ${Math.round(stock.samples.at(-1)!.totalMs)} ms (PDS woken: ${Math.round(fast.samples.at(-1)!.totalMs)} ms)`)
          }
        }
      })
    }

    if (has('footprint') || has('intake')) {
      // dan's peer is measured alone: the other peers stop, so only the PDS and dan use the CPU.
      for (const m of bc.runners) await bc.stop(m)
      for (const m of c.members) if (m.peer) await c.stopPeer(m)
      const dan = c.member('dan')
      let peer = await startChild(c, dan)
      if (has('footprint')) {
        await phase('footprint', async () => {
          // Beside the peer as shipped: the same code compiled, to show what running through tsx costs.
          const bundle = await buildCompiledPeer()
          const compiled = await startChild(c, c.member('eve'), {}, bundle)
          res.footprint = await measureFootprint(
            c,
            [
              { label: 'as shipped: `bin/meshlet.mjs` (TypeScript through tsx)', peer },
              { label: 'the same code compiled: esbuild bundle, plain `node`', peer: compiled },
            ],
            opts.footprintWorkloads,
            runId,
            opts,
          )
          await stopChild(c, compiled)
        })
      }
      if (has('intake')) {
        await phase('intake', async () => {
          const out = await measureIntake(c, peer, opts.intakeCommits, opts, say)
          peer = out.peer
          res.intake = out.result
        })
      }
      await stopAllChildren(c)
    }
  } catch (err) {
    res.errors.push(describeError(err))
  } finally {
    await cleanup()
    unguard()
  }
  res.loadAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100)
  res.durationS = Math.round((Date.now() - t0) / 100) / 10
  return res
}
