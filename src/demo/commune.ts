// The README's main command: a local commune end to end.
//   PLC + 2 PDS on loopback, three members (alice, bob, carol) each with an owner account and a
//   meshlet account linked both ways, three real peers, a workload published by alice from a plain
//   AT client, the peers bid, agree on winners, run the containers, and report status records;
//   then alice deletes the record and every container goes away. Then a web service: alice
//   publishes busybox httpd with a port and an http health check, its status record says running
//   (healthy) with an endpoint, the demo fetches that URL on loopback, and deletes it too.
import Docker from 'dockerode'
import { DevCommune, waitFor, type Member } from '../devnet/commune.js'
import { NSID } from '../core/types.js'
import { consoleLogger } from './console-logger.js'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`usage: bash scripts/demo.sh

Starts a throwaway commune (PLC, 2 PDS, 3 peers), runs one workload end to end, then a web service
(a port and a health check) whose endpoint it fetches, prints what each peer does, and tears
everything down (a few seconds). For a commune that stays up until Ctrl-C,
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

  await webService(alice, docker)
  say(`demo complete in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
} catch (err) {
  failed = true
  log.error({ peer: 'demo', err: String(err) }, 'demo failed')
} finally {
  await commune.close()
}
process.exit(failed ? 1 : 0)

/**
 * A web service as a person would run one (examples/static-site.yaml plus a health check): alice
 * publishes it, the demo reads the status records as any AT client would until one says running
 * with an endpoint (running means healthy), and GETs that URL on loopback.
 */
async function webService(alice: Member, docker: Docker): Promise<void> {
  const tPub = Date.now()
  const ref = await commune.publishWorkload(alice, {
    name: 'site',
    image,
    command: ['sh', '-c', 'mkdir -p /tmp/www && echo "<h1>Hello from $(hostname)</h1><p>served by a friend\'s machine</p>" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'],
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 32 },
    ports: [{ name: 'http', containerPort: 8080, protocol: 'tcp' }],
    health: { type: 'http', port: 8080, path: '/', intervalMs: 500, timeoutMs: 500, retries: 3 },
  })
  say(`alice published ${ref.uri}: busybox httpd, port http 8080/tcp, http health check on /`)
  const live = await waitFor(
    async () => {
      for (const m of commune.members) {
        const recs = await m.meshlet.agent.com.atproto.repo.listRecords({ repo: m.meshlet.did, collection: NSID.workloadStatus })
        for (const r of recs.data.records) {
          const v = r.value as { state: string; workload: { uri: string }; endpoints?: { name: string; url: string }[] }
          if (v.workload.uri === ref.uri && v.state === 'running' && v.endpoints?.length) return { who: m.name, url: v.endpoints[0]!.url }
        }
      }
      return false
    },
    { timeoutMs: 60_000, intervalMs: 200, what: 'a running status with an endpoint' },
  )
  say(`${live.who}'s status record says running (healthy) ${((Date.now() - tPub) / 1000).toFixed(2)}s after publishing, endpoint ${live.url}`)
  const res = await fetch(live.url, { signal: AbortSignal.timeout(5000) })
  const page = await res.text()
  say(`GET ${live.url} -> ${res.status}: ${page.split('\n')[0]}`)
  await commune.deleteRecord(alice.owner.agent, ref.uri)
  await waitFor(async () => (await docker.listContainers({ all: true, filters: { label: [`farm.meshlet.workload=${ref.uri}`] } })).length === 0, {
    timeoutMs: 30_000,
    what: 'the site container to go',
  })
  say('alice deleted the site; its container is gone')
}
