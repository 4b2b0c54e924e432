import Docker from 'dockerode'
import { pino } from 'pino'
import { DevCommune } from '../src/devnet/commune.js'
import { EngineStartWatcher } from './engine-events.js'
import { MeshletBench } from './meshlet-phases.js'
import { RawDocker } from './raw.js'
import { summarize } from './stats.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const logger = pino({ level: 'info' }, pino.destination({ dest: '/tmp/explore-peers.log', sync: false }))
const watcher = await EngineStartWatcher.open(docker)
const t = Date.now()
const c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], leaseMs: 15000, bidWindowMs: 2000, logger })
await c.startAll()
console.log('commune up', Date.now() - t)
const mb = new MeshletBench(c, docker, watcher, { image: '127.0.0.1:5000/meshlet/busybox:test', bidWindowMs: 2000, cpuMillis: 20, memoryMb: 16 }, 'x' + Date.now().toString(36))
const raw = new RawDocker(docker, watcher, '127.0.0.1:5000/meshlet/busybox:test', 'x')
try {
  const N = Number(process.env.N ?? 6)
  const tot: number[] = []
  for (let i = 0; i < N; i++) {
    const s = await mb.once()
    tot.push(s.totalMs)
    console.log(JSON.stringify({ total: Math.round(s.totalMs), pub: Math.round(s.publishMs), winner: s.winner, at: Object.fromEntries(Object.entries(s.at).map(([k, v]) => [k, Math.round(v!)])) }))
    console.log('raw', Math.round(await raw.once()))
  }
  console.log(summarize(tot))
  if (process.env.BURST) {
    const b = await mb.burst(Number(process.env.BURST))
    console.log('burst', Math.round(b.allMs), b.perPeer, summarize(b.each))
    const rb = await raw.burst(Number(process.env.BURST))
    console.log('raw burst', Math.round(rb.allMs))
  }
} finally {
  watcher.close()
  await c.close()
}
