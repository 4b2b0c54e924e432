// The README's main command: a local commune end to end.
//   PLC + 2 PDS on loopback, three members (alice, bob, carol) each with an owner account and a
//   meshlet account linked both ways, three real peers, a workload published by alice from a plain
//   AT client, the peers bid, agree on winners, run the containers, and report status records;
//   then alice deletes the record and every container goes away.
import Docker from 'dockerode'
import { DevCommune, waitFor } from '../devnet/commune.js'
import { NSID } from '../core/types.js'
import { consoleLogger } from './console-logger.js'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`usage: bash scripts/demo.sh

Starts a throwaway commune (PLC, 2 PDS, 3 peers), runs one workload end to end, prints what each
peer does, and tears everything down (a few seconds). For a commune that stays up until Ctrl-C,
with the variables to use it from the CLI: bash scripts/devnet.sh (meshlet dev; see README.md).
MESHLET_DEMO_IMAGE sets the image, MESHLET_LOG_LEVEL the peers' log level.
`)
  process.exit(0)
}
const log = consoleLogger(process.env.MESHLET_LOG_LEVEL ?? 'info')
const say = (msg: string) => log.child({ peer: 'demo', name: 'demo' }).info(msg)
const image = process.env.MESHLET_DEMO_IMAGE ?? 'meshlet/busybox:test'
const t0 = Date.now()

const commune = await DevCommune.create({
  members: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }],
  pdsCount: 2,
  bidWindowMs: 3000,
  logger: log,
})
let failed = false
try {
  say(`devnet up: PLC ${commune.net.plcUrl}, PDS ${commune.net.pdses.map((p) => p.url).join(', ')}`)
  for (const m of commune.members) say(`${m.name}: owner ${m.owner.did}, meshlet ${m.meshlet.did}`)
  await commune.startAll()
  say(`3 peers started in ${((Date.now() - t0) / 1000).toFixed(1)}s; each sees a cluster of ${commune.members[0]!.peer!.cluster.activeOwners().length} owners`)

  const alice = commune.member('alice')
  const spec = {
    name: 'hello-commune',
    image,
    command: ['sh', '-c', 'echo "hello from $(hostname)"; while true; do sleep 1; done'],
    replicas: 2,
    resources: { cpuMillis: 250, memoryMb: 64 },
  }
  const tPub = Date.now()
  const ref = await commune.publishWorkload(alice, spec)
  say(`alice published ${ref.uri} (replicas 2, 250m CPU, 64 MiB) with a plain AtpAgent`)

  const docker = new Docker({ socketPath: '/var/run/docker.sock' })
  const running = await waitFor(
    async () => {
      const cs = await docker.listContainers({ filters: { label: [`farm.meshlet.workload=${ref.uri}`] } })
      return cs.length === 2 ? cs : false
    },
    { timeoutMs: 60_000, what: '2 running containers' },
  )
  say(`2 containers running ${((Date.now() - tPub) / 1000).toFixed(2)}s after publishing:`)
  for (const c of running) {
    const info = await docker.getContainer(c.Id).inspect()
    const who = commune.members.find((m) => m.meshlet.did === c.Labels['farm.meshlet.meshlet'])?.name
    say(`  ${c.Id.slice(0, 12)} on ${who}: memory ${info.HostConfig.Memory! / 1048576} MiB, ${info.HostConfig.NanoCpus! / 1e9} CPU, CapDrop ${info.HostConfig.CapDrop}, privileged ${info.HostConfig.Privileged}`)
  }
  // What any AT client sees: the winners' status records in their own repos.
  for (const m of commune.members) {
    const recs = await m.meshlet.agent.com.atproto.repo.listRecords({ repo: m.meshlet.did, collection: NSID.workloadStatus })
    for (const r of recs.data.records) {
      const v = r.value as { state: string; message?: string; workload: { uri: string } }
      if (v.workload.uri === ref.uri) say(`  status record in ${m.name}'s meshlet repo: ${v.state}${v.message ? ` (${v.message})` : ''}`)
    }
  }
  const st = commune.members[0]!.peer!.control.workloadStatus(ref.uri)
  for (const b of st.bids) {
    const who = commune.members.find((m) => m.meshlet.did === b.meshlet)?.name ?? b.meshlet
    say(`  why: ${who} ${b.outcome}${b.priority !== undefined ? ` (priority ${b.priority})` : ''}: ${b.reason}`)
  }

  say('alice deletes the workload record')
  const tDel = Date.now()
  await commune.deleteRecord(alice.owner.agent, ref.uri)
  await waitFor(async () => (await docker.listContainers({ all: true, filters: { label: [`farm.meshlet.workload=${ref.uri}`] } })).length === 0, {
    timeoutMs: 30_000,
    what: 'containers to go',
  })
  say(`all containers gone ${((Date.now() - tDel) / 1000).toFixed(2)}s after the delete`)
  say(`demo complete in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
} catch (err) {
  failed = true
  log.error({ peer: 'demo', err: String(err) }, 'demo failed')
} finally {
  await commune.close()
}
process.exit(failed ? 1 : 0)
