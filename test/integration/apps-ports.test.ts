// Services (issue 12): a web server workload with a published port, on a real PLC + PDS devnet and
// the real Docker engine. An HTTP GET to the URL in its status record returns its page (loopback
// only); two workloads on one meshlet get distinct host ports; when its meshlet dies, the
// replacement's status carries an endpoint that answers.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import type { Meshlet } from '../../src/meshlet.js'
import type { WorkloadStatus } from '../../src/core/types.js'
import { removeMeshletContainers } from '../helpers/docker.js'
import { IMAGE, memoryLogger } from '../helpers/faults.js'

// This file's own host port range: other test files publish elsewhere (no collision between workers).
const RANGE = { first: 24100, last: 24199 }
const LEASE_MS = 5000

/** busybox httpd serving a page its command writes (the root is read-only; /tmp is a tmpfs). */
function web(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    image: IMAGE,
    command: ['sh', '-c', `mkdir -p /tmp/www && echo "hello from ${name}" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`],
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 32 },
    ports: [{ name: 'http', containerPort: 8080, protocol: 'tcp' }],
    bidWindowMs: 1500,
    ...extra,
  }
}

/** The running status with endpoints of `uri` as `peer` sees it, on any meshlet but `not`. */
function liveStatus(peer: Meshlet, uri: string, not?: string): WorkloadStatus | undefined {
  return peer.view.statusesFor(uri).find((s) => s.state === 'running' && s.meshlet !== not && (s.endpoints?.length ?? 0) > 0)
}

async function get(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
    return res.ok ? await res.text() : undefined
  } catch {
    return undefined
  }
}

describe('ports and endpoints', () => {
  const mem = memoryLogger()
  let c: DevCommune

  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat' }], leaseMs: LEASE_MS, bidWindowMs: 1500, logger: mem.logger })
    await Promise.all(c.members.map((m) => c.startPeer(m, {}, { publishPorts: RANGE })))
  }, 120_000)

  afterAll(async () => {
    await c?.close()
  }, 60_000)

  test('a GET to the URL in the status returns the page; two workloads on one meshlet get distinct host ports', async () => {
    const ann = c.member('ann')
    // Both pinned to ann's meshlet (only ann's own meshlets may run them).
    const pin = { constraints: { members: [ann.owner.did] } }
    const a = await c.publishWorkload(ann, web('site-a', pin))
    const b = await c.publishWorkload(ann, web('site-b', pin))
    const peer = ann.peer!
    const [sa, sb] = await waitFor(() => {
      const x = liveStatus(peer, a.uri)
      const y = liveStatus(peer, b.uri)
      return x && y ? [x, y] : false
    }, { what: 'both sites running with endpoints', timeoutMs: 60_000, onTimeout: () => mem.lines.slice(-30).join('\n') })
    expect(sa.meshlet).toBe(ann.meshlet.did)
    expect(sb.meshlet).toBe(ann.meshlet.did)
    const ua = sa.endpoints![0]!
    const ub = sb.endpoints![0]!
    expect(ua.name).toBe('http')
    expect(ua.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const pa = Number(new URL(ua.url).port)
    const pb = Number(new URL(ub.url).port)
    expect(pa).not.toBe(pb)
    for (const p of [pa, pb]) {
      expect(p).toBeGreaterThanOrEqual(RANGE.first)
      expect(p).toBeLessThanOrEqual(RANGE.last)
    }
    expect(await waitFor(() => get(ua.url), { what: `${ua.url} to answer`, timeoutMs: 20_000 })).toContain('hello from site-a')
    expect(await waitFor(() => get(ub.url), { what: `${ub.url} to answer`, timeoutMs: 20_000 })).toContain('hello from site-b')
  }, 120_000)

  test('its meshlet dies: the replacement status carries an endpoint that answers', async () => {
    const ben = c.member('ben')
    const ref = await c.publishWorkload(ben, web('site-moving'))
    const first = await waitFor(() => liveStatus(ben.peer!, ref.uri), { what: 'site-moving running', timeoutMs: 60_000 })
    expect(await waitFor(() => get(first.endpoints![0]!.url), { what: 'the first endpoint to answer', timeoutMs: 20_000 })).toContain('hello from site-moving')
    // The machine dies: its peer stops without a word and its containers are gone.
    const victim = c.members.find((m) => m.meshlet.did === first.meshlet)!
    await c.stopPeer(victim)
    await removeMeshletContainers(victim.meshlet.did)
    const survivor = c.members.find((m) => m !== victim)!.peer!
    const next = await waitFor(() => liveStatus(survivor, ref.uri, victim.meshlet.did), {
      what: 'a replacement with an endpoint',
      timeoutMs: 6 * LEASE_MS + 60_000,
      onTimeout: () => mem.lines.slice(-40).join('\n'),
    })
    expect(next.meshlet).not.toBe(victim.meshlet.did)
    const url = next.endpoints![0]!.url
    expect(await waitFor(() => get(url), { what: `${url} to answer`, timeoutMs: 20_000 })).toContain('hello from site-moving')
  }, 180_000)
})
