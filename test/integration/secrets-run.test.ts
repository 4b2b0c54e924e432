// Secrets (issue 13) end to end on a real PLC + PDS, real peers and the real engine: `meshlet
// secret set` seals a value for the meshlets that may run the owner's work, the holder mounts it at
// /run/secrets/NAME, and the plaintext is in no record of any repo, no peer log line and no docker
// inspect. A meshlet that starts after `secret set` declines with the reason until `reseal`.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import { runClientCommand } from '../../src/client/cli-commands.js'
import { REDACT_PATHS } from '../../src/logger.js'
import { CLAIM_STATES, NSID } from '../../src/core/types.js'
import { DEFAULT_SECRETS_DIR } from '../../src/adapters/docker/secret-files.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const IMAGE = 'meshlet/busybox:test'

describe('secrets sealed per meshlet (real network, real engine)', () => {
  let c: DevCommune
  const lines: string[] = []
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-secrets-it-'))
  // Distinct values per run; base64 forms are checked too (a value must not leak encoded either).
  const value1 = `hunter2-${randomBytes(6).toString('hex')}`
  const value2 = `correct-horse-${randomBytes(6).toString('hex')}`
  const forms = (v: string) => [v, Buffer.from(v).toString('base64').replace(/=+$/, '')]

  beforeAll(async () => {
    // The peers' own redaction settings, at debug level: whatever they log is what a member's log file would hold.
    const out = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(l)
        cb()
      },
    })
    const logger = pino({ level: 'debug', base: undefined, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, out)
    // cat's meshlet is linked but starts later: it joins after `secret set`.
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat', silent: true }], leaseMs: 8000, bidWindowMs: 1500, logger })
    await c.startAll()
  }, 120_000)

  afterAll(async () => {
    const names = (await docker.listContainers({ all: true })).flatMap((x) => x.Names.map((n) => n.slice(1)))
    await c?.close()
    // Containers devnet removed behind the peers' backs leave their secret dirs: remove ours.
    for (const n of names) if (fs.existsSync(path.join(DEFAULT_SECRETS_DIR, n)) && !(await docker.getContainer(n).inspect().then(() => true, () => false))) fs.rmSync(path.join(DEFAULT_SECRETS_DIR, n), { recursive: true, force: true })
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  const as = (m: Member) => ({ MESHLET_USER: m.owner.did, MESHLET_USER_PASSWORD: m.owner.password, MESHLET_USER_PDS: m.owner.pds, MESHLET_PLC: c.net.plcUrl, MESHLET_ALLOW_HTTP: '1' })
  async function secret(m: Member, args: string[], value?: string) {
    const args2 = [...args]
    if (value !== undefined) {
      const f = path.join(tmp, `v-${randomBytes(4).toString('hex')}`)
      fs.writeFileSync(f, value, { mode: 0o600 })
      args2.push('--from-file', f)
    }
    const res = await runClientCommand('secret', args2, as(m), async () => new Uint8Array())
    return res!
  }

  /** The container of a workload on any peer, with its log text. */
  async function containerOf(uri: string): Promise<{ id: string; logs: string } | undefined> {
    const all = await docker.listContainers({ all: true, filters: { label: [`farm.meshlet.workload=${uri}`] } })
    const running = all.find((x) => x.State === 'running')
    if (!running) return undefined
    const raw = await docker.getContainer(running.Id).logs({ stdout: true, stderr: true })
    return { id: running.Id, logs: raw.toString('utf8') }
  }

  const reader = (name: string, secretName = 'db') => ({
    name,
    image: IMAGE,
    replicas: 1,
    resources: { cpuMillis: 100, memoryMb: 32 },
    // Prints the value, then proves the mount is read-only, then stays up.
    command: ['sh', '-c', `echo "value=$(cat /run/secrets/${secretName})"; (echo x > /run/secrets/${secretName}) 2>/dev/null && echo writable || echo readonly; exec sleep 600`],
    secrets: [secretName],
  })

  test('the holder reads the value at /run/secrets/NAME; the plaintext is in no record, log line or docker inspect', async () => {
    const ann = c.member('ann')
    // The peers publish their sealing keys with their first heartbeat.
    await waitFor(() => c.peers().every((p) => ['ann', 'ben'].every((n) => p.view.profile(c.member(n).meshlet.did)?.sealingKey)), { what: 'sealing keys in profiles', timeoutMs: 30_000 })
    const set = await secret(ann, ['set', 'db'], value1)
    expect(set.code, set.text).toBe(0)
    expect(set.text).toMatch(/sealed secret db version 1 for 2 meshlet/)
    // cat's meshlet has not published its half of the link yet: not a meshlet of the cluster, no copy.
    expect(set.text).not.toContain(c.member('cat').meshlet.did)
    const ls = await secret(ann, ['ls', '--json'])
    const listed = JSON.parse(ls.text) as { secrets: { name: string; version: number; copies: string[] }[] }
    expect(listed.secrets).toEqual([{ name: 'db', version: 1, copies: [ann.meshlet.did, c.member('ben').meshlet.did].sort(), missing: [] }])

    const ref = await c.publishWorkload(ann, { ...reader('reads-secret'), constraints: { members: [ann.owner.did, c.member('ben').owner.did] } })
    const seen = await waitFor(async () => {
      const x = await containerOf(ref.uri)
      return x && x.logs.includes('value=') && x.logs.includes('only') ? x : undefined
    }, { what: 'the container to print its secret', timeoutMs: 45_000 })
    expect(seen.logs).toContain(`value=${value1}`)
    expect(seen.logs).toContain('readonly')

    // docker inspect: not in Env, Labels, Cmd, or anywhere else in the inspect document (the mount's source is a path only).
    const inspect = JSON.stringify(await docker.getContainer(seen.id).inspect())
    for (const f of forms(value1)) expect(inspect).not.toContain(f)
    expect(inspect).toContain('/run/secrets')

    // Every record of every collection in every repo of the commune.
    const repos = c.members.flatMap((m) => [m.owner, m.meshlet])
    let records = 0
    for (const acct of repos) {
      const desc = await acct.agent.com.atproto.repo.describeRepo({ repo: acct.did })
      for (const collection of desc.data.collections) {
        const list = await acct.agent.com.atproto.repo.listRecords({ repo: acct.did, collection, limit: 100 })
        for (const r of list.data.records) {
          records++
          for (const f of forms(value1)) expect(JSON.stringify(r.value), `${r.uri}`).not.toContain(f)
        }
      }
    }
    expect(records).toBeGreaterThan(10)
    // Every peer log line so far (debug level).
    expect(lines.length).toBeGreaterThan(20)
    for (const l of lines) for (const f of forms(value1)) expect(l).not.toContain(f)
    // Nor any XRPC answer: the status call every member may make.
    for (const p of c.peers()) for (const f of forms(value1)) expect(JSON.stringify(p.control.workloadStatus(ref.uri))).not.toContain(f)

    // A new value rolls the replica: a new container reads the new value.
    const set2 = await secret(ann, ['set', 'db'], value2)
    expect(set2.code, set2.text).toBe(0)
    const rolled = await waitFor(async () => {
      const x = await containerOf(ref.uri)
      return x && x.id !== seen.id && x.logs.includes(`value=${value2}`) ? x : undefined
    }, { what: 'the replica to restart with the new value', timeoutMs: 45_000 })
    expect(rolled.logs).not.toContain(value1)
    await c.deleteRecord(ann.owner.agent, ref.uri)
  }, 150_000)

  test('a meshlet that joined after `secret set` declines with the reason, and runs it after `reseal`', async () => {
    const ann = c.member('ann')
    const cat = c.member('cat')
    await c.startPeer(cat)
    await waitFor(() => c.peers().every((p) => p.view.profile(cat.meshlet.did)?.sealingKey), { what: "cat's sealing key", timeoutMs: 30_000 })
    const ls = await secret(ann, ['ls'])
    expect(ls.text).toMatch(new RegExp(`no copy yet \\(meshlet secret reseal db\\): ${cat.meshlet.did}`))

    const ref = await c.publishWorkload(ann, { ...reader('late-joiner'), constraints: { members: [cat.owner.did] } })
    const decline = await waitFor(() => c.peers()[0]!.view.bidsFor(ref.uri).find((b) => b.meshlet === cat.meshlet.did && b.decline)?.decline, { what: "cat's decline", timeoutMs: 30_000 })
    expect(decline).toBe('no sealed copy of secret db')
    // Every peer shows the reason.
    for (const p of c.peers()) expect(JSON.stringify(p.control.workloadStatus(ref.uri))).toContain('no sealed copy of secret db')

    const reseal = await secret(ann, ['reseal', 'db'], value2)
    expect(reseal.code, reseal.text).toBe(0)
    expect(reseal.text).toMatch(/resealed secret db: 1 new copy \(3 in all\)/)
    const seen = await waitFor(async () => {
      const x = await containerOf(ref.uri)
      return x && x.logs.includes('value=') ? x : undefined
    }, { what: 'cat to run it after reseal', timeoutMs: 45_000 })
    expect(seen.logs).toContain(`value=${value2}`)
    const holder = c.peers()[0]!.view.statusesFor(ref.uri).find((s) => CLAIM_STATES.includes(s.state))
    expect(holder?.meshlet).toBe(cat.meshlet.did)
    expect(NSID.secret).toBe('commune.scheduler.secret')
    await c.deleteRecord(ann.owner.agent, ref.uri)
  }, 120_000)
})
