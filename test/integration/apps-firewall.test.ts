// Services (issue 12) behind meshlet's firewall chains: a member on another machine (a stand-in
// LAN host in a network namespace this test creates, 198.18.0.0/15) connecting to a published port
// on the host's address passes meshlet's chain (DNAT into the owner's bridge is let through), while
// the container still cannot open connections to that LAN host, to the host's own address, nor to
// its own published port through the host.
import { execFile } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import Docker from 'dockerode'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import type { WorkloadStatus } from '../../src/core/types.js'
import { fakeLan, httpService, probe, removeChains, tag } from '../helpers/host-net.js'

const IMAGE = 'meshlet/busybox:test'
const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const CHAINS = `AP${tag(4).toUpperCase()}`
const NETNS = `apl${tag(4)}`
const SUBNET = 150 + Math.floor(Math.random() * 100)
const HOST_IP = `198.18.${SUBNET}.1`

/** An HTTP GET from inside the stand-in LAN host's namespace: the body, or undefined. */
function getFromLan(url: string): Promise<string | undefined> {
  const script = `fetch(${JSON.stringify(url)},{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>{process.stdout.write(t)},()=>process.exit(3))`
  return new Promise((resolve) => execFile('ip', ['netns', 'exec', NETNS, process.execPath, '-e', script], { timeout: 10_000 }, (err, out) => resolve(err ? undefined : String(out))))
}

/** Each rule of a chain with its packet counter. */
function chainCounters(chain: string): Promise<{ rule: string; packets: number }[]> {
  return new Promise((resolve, reject) =>
    execFile('iptables', ['-S', chain, '-v'], (err, out) => {
      if (err) return reject(err)
      resolve(
        String(out)
          .split('\n')
          .filter((l) => l.startsWith('-A '))
          .map((l) => ({ rule: l.replace(/ -c \d+ \d+/, ''), packets: Number(/ -c (\d+) \d+/.exec(l)?.[1] ?? 0) })),
      )
    }),
  )
}

describe('published ports behind the firewall chains', () => {
  let c: DevCommune
  let lan: Awaited<ReturnType<typeof fakeLan>>
  let hostSvc: Awaited<ReturnType<typeof httpService>>

  beforeAll(async () => {
    lan = await fakeLan(NETNS, SUBNET, 'the LAN host')
    hostSvc = await httpService(HOST_IP, 'the host itself')
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }], leaseMs: 8000, bidWindowMs: 500, firewallChain: CHAINS, extraDenyRanges: ['198.18.0.0/15'] })
    // Ports published on the host's address on that "LAN", and advertised as such.
    await c.startPeer(c.member('ann'), {}, { publishAddress: HOST_IP, advertiseAddress: HOST_IP, publishPorts: { first: 24300, last: 24399 } })
  }, 120_000)

  afterAll(async () => {
    await c?.close()
    await removeChains(CHAINS)
    hostSvc?.server.close()
    await lan?.cleanup()
  }, 60_000)

  test("a member's connection to the endpoint passes meshlet's chain; the container reaches neither the LAN, the host, nor its own port through the host", async () => {
    const ann = c.member('ann')
    const ref = await c.publishWorkload(ann, {
      name: 'fw-site',
      image: IMAGE,
      command: ['sh', '-c', 'mkdir -p /tmp/www && echo "hello through the firewall" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'],
      replicas: 1,
      resources: { cpuMillis: 100, memoryMb: 32 },
      ports: [{ name: 'http', containerPort: 8080 }],
    })
    const s = await waitFor(() => ann.peer!.view.statusesFor(ref.uri).find((x): x is WorkloadStatus => x.state === 'running' && (x.endpoints?.length ?? 0) > 0), { what: 'fw-site running with an endpoint', timeoutMs: 60_000 })
    const url = s.endpoints![0]!.url
    expect(url).toMatch(new RegExp(`^http://${HOST_IP.replace(/\./g, '\\.')}:243\\d\\d$`))
    // The member, from its own machine: forwarded through DNAT into the owner's bridge.
    // The member, from its own machine: its connection is DNAT'd to the container and passes
    // meshlet's chain (the published-port rule), never its DROP. (On this test machine the engine's
    // forwarded DNAT path itself does not deliver, even for a plain `docker run -p`: see
    // docs/protocol.md "Ports and endpoints"; where it does, the page answers too.)
    const answer = await getFromLan(url)
    const rules = await chainCounters(`${CHAINS}-FILTER`)
    const published = rules.find((r) => r.rule.includes('! -i mlbr+') && r.rule.includes('--ctstate DNAT -j RETURN'))
    const drop = rules.find((r) => /-o mlbr\w+ -j DROP$/.test(r.rule))
    expect(published?.packets, rules.map((r) => `${r.packets} ${r.rule}`).join('\n')).toBeGreaterThan(0)
    expect(drop?.packets).toBe(0)
    if (answer !== undefined) expect(answer).toContain('hello through the firewall')
    // The container: the LAN host, the host's own service and its own port via the host are refused.
    const id = s.containerId!
    await waitFor(async () => (await docker.getContainer(id).inspect()).State.Running, { what: 'the container', timeoutMs: 10_000 })
    expect(await probe(docker, id, `http://${lan.ip}:8080/`)).toBeUndefined()
    expect(await probe(docker, id, `http://${HOST_IP}:${hostSvc.port}/`)).toBeUndefined()
    expect(await probe(docker, id, `${url}/`)).toBeUndefined()
    // ... while it does serve on its own port inside (the check above is the boundary, not a dead server).
    expect(await probe(docker, id, 'http://127.0.0.1:8080/')).toContain('hello through the firewall')
  }, 120_000)
})
