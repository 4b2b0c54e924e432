// Services (issue 12): workload volumes on a real PLC + PDS devnet and the real Docker engine. Data
// a replica writes survives a container restart and a re-placement on the same meshlet (a new
// version of the record, placed where the volume is); a second workload with a volume of the same
// name sees none of it; `meshlet rm --purge` removes the volume.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { createClientContext, cmdRmPurge } from '../../src/client/commands.js'
import { NSID } from '../../src/core/types.js'
import { volumeName } from '../../src/core/volumes.js'
import { IMAGE, docker, memoryLogger } from '../helpers/faults.js'
import { LABEL } from '../../src/adapters/docker/labels.js'

const RANGE = { first: 24200, last: 24299 }

/** Counts the lines earlier containers wrote to /data/log, then adds one. */
function notes(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    image: IMAGE,
    command: ['sh', '-c', 'touch /data/log && echo "boot: $(wc -l < /data/log) earlier" && echo x >> /data/log && exec sleep 3600'],
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 32, storageMb: 64 },
    volumes: [{ name: 'data', target: '/data' }],
    bidWindowMs: 1500,
    ...extra,
  }
}

/** Output of every container of `uri` on the engine (running or not), as text. */
async function outputOf(uri: string): Promise<string> {
  const rows = await docker.listContainers({ all: true, filters: { label: [`${LABEL.workload}=${uri}`] } })
  const logs = await Promise.all(rows.map((r) => docker.getContainer(r.Id).logs({ stdout: true, stderr: true }).then((b) => b.toString('latin1')).catch(() => '')))
  return logs.join('\n')
}

async function runningOn(uri: string): Promise<{ id: string; meshlet: string } | undefined> {
  const rows = await docker.listContainers({ filters: { label: [`${LABEL.workload}=${uri}`] } })
  return rows[0] ? { id: rows[0].Id, meshlet: rows[0].Labels[LABEL.meshlet] ?? '' } : undefined
}

describe('volumes', () => {
  const mem = memoryLogger()
  let c: DevCommune

  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }], leaseMs: 5000, bidWindowMs: 1500, logger: mem.logger })
    await Promise.all(c.members.map((m) => c.startPeer(m, {}, { publishPorts: RANGE })))
  }, 120_000)

  afterAll(async () => {
    await c?.close()
  }, 60_000)

  test('survives a restart and a re-placement there; another workload cannot see it; --purge removes it', async () => {
    const ann = c.member('ann')
    const ref = await c.publishWorkload(ann, notes('notes'))
    const rkey = ref.uri.split('/').pop()!
    const first = await waitFor(() => runningOn(ref.uri), { what: 'notes to run', timeoutMs: 60_000, onTimeout: () => mem.lines.slice(-30).join('\n') })
    await waitFor(async () => (await outputOf(ref.uri)).includes('boot: 0 earlier'), { what: 'the first boot', timeoutMs: 20_000 })
    const holder = c.members.find((m) => m.meshlet.did === first.meshlet)!
    const vol = volumeName(holder.meshlet.did, ann.owner.did, rkey, 'data')
    const info = await docker.getVolume(vol).inspect()
    expect(info.Labels?.['farm.meshlet.workload']).toBe(ref.uri)

    // 1. The container dies; the restart policy starts it again on the volume.
    await docker.getContainer(first.id).kill()
    await waitFor(async () => (await outputOf(ref.uri)).includes('boot: 1 earlier'), { what: 'a restart that sees the first line', timeoutMs: 60_000, onTimeout: () => mem.lines.slice(-30).join('\n') })

    // 2. The holder's profile says it holds the volume (what every peer ranks by) ...
    const other = c.members.find((m) => m !== holder)!
    await waitFor(() => other.peer!.view.profile(holder.meshlet.did)?.volumes?.some((h) => h.workload === ref.uri && h.name === 'data'), { what: "the holder's profile to list the volume", timeoutMs: 30_000 })
    // ... so a new version of the record is placed there again, on the same data.
    const rec = await ann.owner.agent.com.atproto.repo.getRecord({ repo: ann.owner.did, collection: NSID.workload, rkey })
    await ann.owner.agent.com.atproto.repo.putRecord({ repo: ann.owner.did, collection: NSID.workload, rkey, record: { ...(rec.data.value as object), env: [{ name: 'VERSION', value: '2' }] }, validate: false })
    await waitFor(async () => (await outputOf(ref.uri)).includes('boot: 2 earlier'), { what: 'the new version to run on the same data', timeoutMs: 60_000, onTimeout: () => mem.lines.slice(-40).join('\n') })
    expect((await runningOn(ref.uri))?.meshlet).toBe(holder.meshlet.did)

    // 3. Another workload, same owner, same meshlet, a volume of the same name: its own, empty.
    const peek = await c.publishWorkload(ann, notes('peek', { constraints: { members: [holder.owner.did] } }))
    await waitFor(async () => (await outputOf(peek.uri)).includes('boot: 0 earlier'), { what: 'peek to see an empty volume', timeoutMs: 60_000, onTimeout: () => mem.lines.slice(-30).join('\n') })
    expect((await runningOn(peek.uri))?.meshlet).toBe(holder.meshlet.did)

    // 4. rm --purge: the record goes, then the holder removes the volume.
    const ctx = await createClientContext({ service: ann.owner.pds, identifier: ann.owner.handle, password: ann.owner.password, plcUrl: c.net.plcUrl, allowInsecureHttp: true, meshlet: holder.meshlet.did })
    const res = await cmdRmPurge(ctx, ref.uri, { json: true })
    expect(res.exitCode, res.text).toBe(0)
    const out = JSON.parse(res.text) as { purged: { meshlet: string; removed?: string[]; error?: string }[] }
    expect(out.purged.find((p) => p.meshlet === holder.meshlet.did)?.removed).toEqual(['data'])
    await expect(docker.getVolume(vol).inspect()).rejects.toThrow()
    // peek's volume is untouched
    expect((await docker.getVolume(volumeName(holder.meshlet.did, ann.owner.did, peek.uri.split('/').pop()!, 'data')).inspect()).Name).toMatch(/^mlv-/)
  }, 240_000)
})
