// `meshlet submit` against a real PDS: a bad file is refused before anything is written; a good
// one lands in the owner's repo as a commune.scheduler.workload record anyone can read.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { runClientCommand } from '../../src/client/cli-commands.js'
import { cmdSubmit, createClientContext, type ClientContext } from '../../src/client/commands.js'
import { DevNetwork, type DevAccount } from '../../src/devnet/network.js'

let net: DevNetwork
let tmp: string | undefined
let owner: DevAccount
let ctx: ClientContext

beforeAll(async () => {
  net = await DevNetwork.create({ pdsCount: 1 })
  owner = await net.createAccount('submitter')
  ctx = await createClientContext({ service: owner.pds, identifier: owner.handle, password: owner.password, plcUrl: net.plcUrl, allowInsecureHttp: true })
  ctx.now = () => new Date('2026-03-04T05:06:07.000Z')
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-submit-'))
})

afterAll(async () => {
  await net?.close()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

async function workloadsInRepo(): Promise<{ uri: string; value: Record<string, unknown> }[]> {
  const res = await owner.agent.com.atproto.repo.listRecords({ repo: owner.did, collection: 'commune.scheduler.workload' })
  return res.data.records as { uri: string; value: Record<string, unknown> }[]
}

async function file(name: string, text: string): Promise<string> {
  const p = path.join(tmp!, name)
  await fs.writeFile(p, text)
  return p
}

test('a file that fails the lexicon is refused with the field named, and nothing is written', async () => {
  const bad = await file('bad.json', JSON.stringify({ name: 'web', image: 'meshlet/busybox:test', replicas: 0, resources: { cpuMillis: 100, memoryMb: 32 } }))
  const res = await cmdSubmit(ctx, bad)
  expect(res.exitCode).toBe(2)
  expect(res.text).toBe(`error: ${bad}: invalid workload: replicas: integer too small (minimum 1, got 0)`)
  const missing = await cmdSubmit(ctx, await file('bad.yaml', 'name: web\nreplicas: 1\nresources: {cpuMillis: 100}\n'), { json: true })
  expect(missing.exitCode).toBe(2)
  expect(JSON.parse(missing.text)).toMatchObject({ error: 'WorkloadFileError', message: expect.stringMatching(/: required but missing/) })
  expect(await workloadsInRepo()).toEqual([])
})

test('a file that cannot be read says so', async () => {
  const res = await cmdSubmit(ctx, path.join(tmp!, 'nope.json'))
  expect(res.exitCode).toBe(2)
  expect(res.text).toMatch(/nope\.json: cannot read it: .*ENOENT/)
  expect(await workloadsInRepo()).toEqual([])
})

test('a good JSON file is written to the owner’s repo and readable from the PDS', async () => {
  const spec = { name: 'web', image: 'meshlet/busybox:test', replicas: 2, resources: { cpuMillis: 250, memoryMb: 64 }, command: ['httpd', '-f'] }
  const res = await cmdSubmit(ctx, await file('web.json', JSON.stringify(spec)))
  expect(res.exitCode).toBe(0)
  const uri = /at:\/\/\S+/.exec(res.text)?.[0]
  expect(uri).toMatch(new RegExp(`^at://${owner.did}/commune.scheduler.workload/`))
  const rkey = uri!.split('/').pop()!
  const got = await owner.agent.com.atproto.repo.getRecord({ repo: owner.did, collection: 'commune.scheduler.workload', rkey })
  expect(got.data.value).toEqual({ $type: 'commune.scheduler.workload', ...spec, createdAt: '2026-03-04T05:06:07.000Z' })
})

test('a good YAML file works too, and --json prints the uri and cid', async () => {
  const res = await cmdSubmit(ctx, await file('job.yml', 'name: job\nimage: meshlet/busybox:test\nreplicas: 1\nkind: batch\nresources:\n  cpuMillis: 100\n  memoryMb: 16\n'), { json: true })
  expect(res.exitCode).toBe(0)
  const out = JSON.parse(res.text) as { uri: string; cid: string; name: string }
  expect(out.name).toBe('job')
  const records = await workloadsInRepo()
  expect(records.find((r) => r.uri === out.uri)?.value).toMatchObject({ name: 'job', kind: 'batch', replicas: 1 })
})

test('through the CLI entry point: logs in by DID (PDS found from the DID document) and writes', async () => {
  const f = await file('cli.json', JSON.stringify({ name: 'via-cli', image: 'meshlet/busybox:test', replicas: 1, resources: { cpuMillis: 100, memoryMb: 16 } }))
  const res = await runClientCommand('submit', [f, '--as', owner.did, '--plc', net.plcUrl, '--allow-http', '--json'], { MESHLET_OWNER_PASSWORD: owner.password })
  expect(res?.code).toBe(0)
  const { uri } = JSON.parse(res!.text) as { uri: string }
  expect((await workloadsInRepo()).find((r) => r.uri === uri)?.value).toMatchObject({ name: 'via-cli' })
})
