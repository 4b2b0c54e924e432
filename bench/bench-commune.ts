// The commune the bench measures: PLC + 2 PDS in the bench process, and ann, ben and cat as peers
// of the real binary, each in its own process (as on separate machines: one event loop each, not
// sharing the bench's with the PDS), with real firehose subscriptions and the real Docker engine.
// dan and eve are members whose peers only start for the footprint and intake measurements.
import fs from 'node:fs'
import path from 'node:path'
import { pino, type Logger } from 'pino'
import { DevCommune, type Member } from '../src/devnet/commune.js'
import { startChild, stopChild, type ChildPeer } from './child-phases.js'
import { PeerTimelines } from './peer-timelines.js'

export function benchLogger(file: string, level = process.env.MESHLET_LOG_LEVEL ?? 'info'): Logger {
  // Peers log at info as in production, to a file: the console stays readable.
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: file, sync: false, mkdir: true }))
}

export interface BenchCommune {
  c: DevCommune
  /** ann, ben, cat: the peers that bid and run. */
  runners: Member[]
  timelines: PeerTimelines
  children: Map<Member, ChildPeer>
  /** Starts a member's peer as a child process, logging its stage marks (debug) and teeing its log to the log directory. */
  spawn(m: Member): Promise<ChildPeer>
  stop(m: Member): Promise<void>
}

export async function startBenchCommune(opts: { logger: Logger; logDir: string; leaseMs?: number }): Promise<BenchCommune> {
  const c = await DevCommune.create({
    pdsCount: 2,
    members: ['ann', 'ben', 'cat', 'dan', 'eve'].map((name) => ({ name, silent: true })),
    leaseMs: opts.leaseMs ?? 15_000,
    bidWindowMs: 2000,
    logger: opts.logger,
  })
  const timelines = new PeerTimelines()
  const children = new Map<Member, ChildPeer>()
  const bc: BenchCommune = {
    c,
    runners: ['ann', 'ben', 'cat'].map((n) => c.member(n)),
    timelines,
    children,
    async spawn(m) {
      const p = await startChild(c, m, { logLevel: 'debug' })
      timelines.attach(m)
      const out = fs.createWriteStream(path.join(opts.logDir, `${m.name}.log`), { flags: 'a' })
      m.child!.stdout!.pipe(out)
      children.set(m, p)
      return p
    },
    async stop(m) {
      const p = children.get(m)
      if (p) await stopChild(c, p)
      children.delete(m)
    },
  }
  try {
    await Promise.all(bc.runners.map((m) => bc.spawn(m)))
  } catch (err) {
    for (const m of bc.runners) await bc.stop(m).catch(() => {})
    await c.close().catch(() => {})
    throw err
  }
  return bc
}
