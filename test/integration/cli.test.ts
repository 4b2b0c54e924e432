// The CLI end to end (issue 4): the real binary (`node bin/meshlet.mjs`, a child process) against a
// local commune of real peers on a real PLC + PDS devnet and a real Docker engine. Each command is
// checked for what a person reads (text), what a script reads (--json) and the exit code.
// Set MESHLET_CLI_TRANSCRIPT=<file> to write every command and its output there (docs/cli.md).
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CLAIM_STATES, NSID } from '../../src/core/types.js'
import { DevCommune, waitFor, type Member } from '../../src/devnet/commune.js'
import type { Meshlet } from '../../src/meshlet.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const BIN = path.join(ROOT, 'bin/meshlet.mjs')
const IMAGE = 'meshlet/busybox:test'
const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const containersOf = (uri: string, all = false) => docker.listContainers({ all, filters: { label: [`farm.meshlet.workload=${uri}`] } })

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

const transcript: string[] = []

/** Whether the peer has stopped (shut down by a call, or stopped by the test). */
const hasStopped = (p: Meshlet) => Promise.race([p.waitUntilStopped().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))])

/**
 * A suffix per attempt of a test: '' the first time (the names docs/cli.md shows), '-2', '-3' on a
 * CI retry (vitest.config.ts), so a retry never meets the workloads its failed attempt submitted
 * ("you already have a workload named ...").
 */
const attempts = new Map<string, number>()
function attemptSuffix(testName: string): string {
  const n = (attempts.get(testName) ?? 0) + 1
  attempts.set(testName, n)
  return n === 1 ? '' : `-${n}`
}

/** Runs `meshlet <args>` as a child process with only the given MESHLET_* variables. */
function meshlet(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  const base: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESHLET_') && k !== 'VITEST' && !k.startsWith('VITEST_')) base[k] = v
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, cwd: cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      transcript.push(`$ meshlet ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n${stdout}${stderr}(exit ${code})\n`)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('the meshlet CLI against a local commune', () => {
  let c: DevCommune
  let tmp: string
  let ann: Member
  let ben: Member
  /** ann's credentials, as a person would export them. */
  let asAnn: Record<string, string>
  let asBen: Record<string, string>

  /** The one meshlet running `uri` once every peer agrees (claims can race for a moment). */
  const settledHolder = (uri: string, notOn: string[] = []) =>
    waitFor(
      async () => {
        const all = await containersOf(uri, true)
        if (all.length !== 1 || all[0]!.State !== 'running') return false
        const did = all[0]!.Labels['farm.meshlet.meshlet']!
        if (notOn.includes(did)) return false
        for (const p of c.peers()) {
          if (!p.view.workload(uri)) return false
          const live = p.control.workloadStatus(uri).replicas.filter((r) => (CLAIM_STATES as readonly string[]).includes(r.state) || r.state === 'paused')
          // running, not starting: ls and status are asked next and must read running on every peer
          if (live.length !== 1 || live[0]!.meshlet !== did || live[0]!.state !== 'running') return false
        }
        return c.members.find((m) => m.meshlet.did === did)!
      },
      { what: `one settled running replica of ${uri}`, timeoutMs: 45_000 },
    )

  const workloadRecords = async (m: Member) =>
    (await m.owner.agent.com.atproto.repo.listRecords({ repo: m.owner.did, collection: NSID.workload, limit: 100 })).data.records

  /** Writes `hello<suffix>.yaml` (a service named hello<suffix>) in tmp; returns its file name. */
  const helloFile = async (suffix: string) => {
    const file = `hello${suffix}.yaml`
    await fs.writeFile(
      path.join(tmp, file),
      [
        '# a long-running service that says hello',
        `name: hello${suffix}`,
        `image: ${IMAGE}`,
        'command: [sh, -c, "echo hello from the cli; echo ready; exec sleep 3600"]',
        'replicas: 1',
        'resources:',
        '  cpuMillis: 100',
        '  memoryMb: 32',
        'bidWindowMs: 1500',
        '',
      ].join('\n'),
    )
    return file
  }

  /** Writes `job<suffix>.json` (a batch job named count<suffix>) in tmp; returns its file name. */
  const jobFile = async (suffix: string) => {
    const file = `job${suffix}.json`
    const record = { name: `count${suffix}`, image: IMAGE, kind: 'batch', command: ['sh', '-c', 'for i in 1 2 3; do echo $i; done'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 16 }, bidWindowMs: 1500 }
    await fs.writeFile(path.join(tmp, file), JSON.stringify(record, null, 2))
    return file
  }

  /**
   * Deletes m's workload records with these names (what one attempt submitted), whatever state the
   * attempt left. Run in a finally: a failure here is reported, not thrown over the test's own.
   */
  const removeWorkloads = async (m: Member, names: string[]) => {
    try {
      for (const r of await workloadRecords(m)) {
        if (names.includes((r.value as { name?: string }).name ?? '')) await c.deleteRecord(m.owner.agent, r.uri)
      }
    } catch (err) {
      console.warn(`could not remove ${m.name}'s workloads ${names.join(', ')}:`, err)
    }
  }

  beforeAll(async () => {
    c = await DevCommune.create({ pdsCount: 2, members: [{ name: 'ann' }, { name: 'ben' }], leaseMs: 8000, bidWindowMs: 1500 })
    await c.startAll()
    ann = c.member('ann')
    ben = c.member('ben')
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-cli-'))
    asAnn = { MESHLET_USER: ann.owner.did, MESHLET_USER_PASSWORD: ann.owner.password, MESHLET_PLC: c.net.plcUrl }
    asBen = { MESHLET_USER: ben.owner.did, MESHLET_USER_PASSWORD: ben.owner.password, MESHLET_PLC: c.net.plcUrl }
    await fs.writeFile(path.join(tmp, 'bad.yaml'), ['name: bad', `image: ${IMAGE}`, 'replicas: 0', 'resources:', '  cpuMillis: 100', ''].join('\n'))
    await fs.writeFile(path.join(tmp, 'broken.yaml'), 'name: broken\nimage: [unclosed\n')
  }, 120_000)

  afterAll(async () => {
    if (process.env.MESHLET_CLI_TRANSCRIPT) await fs.writeFile(process.env.MESHLET_CLI_TRANSCRIPT, transcript.join('\n'))
    await c?.close()
    if (tmp) await fs.rm(tmp, { recursive: true, force: true })
  })

  test('cheap failures: run --help, run with a bad DID or a wrong password, a bad workload file', async () => {
    const [help, badDid, wrongPassword, bad, broken, missing] = await Promise.all([
      meshlet(['run', '--help']),
      meshlet(['run', '--did', 'did:example:nope', '--owner', ann.owner.did, '--password', 'x']),
      meshlet(['run', '--did', ann.meshlet.did, '--owner', ann.owner.did, '--password', 'not-the-password', '--plc', c.net.plcUrl, '--allow-http', '--data-dir', path.join(tmp, 'data'), '--port', '0']),
      meshlet(['submit', 'bad.yaml', '--allow-http'], asAnn, tmp),
      meshlet(['submit', 'broken.yaml', '--allow-http'], asAnn, tmp),
      meshlet(['submit', 'nope.yaml', '--allow-http'], asAnn, tmp),
    ])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^usage: meshlet run \[options\]/)
    expect(help.stdout).toMatch(/--did\s+MESHLET_DID/)

    for (const r of [badDid, wrongPassword]) {
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    expect(badDid.stderr).toMatch(/^meshlet: invalid configuration: --did \(MESHLET_DID\) must be a did:plc or did:web DID/)
    expect(wrongPassword.stderr).toMatch(/^meshlet: --password \/ --pds: .*(Invalid identifier or password|password)/i)

    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^error: bad\.yaml: invalid workload: /)
    expect(bad.stderr).toMatch(/replicas: integer too small \(minimum 1, got 0\)/)
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(/^error: broken\.yaml: not valid YAML or JSON: /)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^error: nope\.yaml: cannot read it/)
    // nothing was written to ann's repo
    expect(await workloadRecords(ann)).toEqual([])
  })

  test('submit -> ls -> status -> logs -> pause/resume -> stop -> rm, in text and --json', async () => {
    const suffix = attemptSuffix('submit')
    const [hello, count] = [`hello${suffix}`, `count${suffix}`]
    try {
      // submit
      // Independent invocations run side by side: each is a cold Node start on a busy 2-core machine.
      const [helloYaml, jobJson] = await Promise.all([helloFile(suffix), jobFile(suffix)])
      const [sub, subJson] = await Promise.all([meshlet(['submit', helloYaml, '--allow-http'], asAnn, tmp), meshlet(['submit', jobJson, '--json', '--allow-http'], asAnn, tmp)])
      expect(sub.code).toBe(0)
      const uri = new RegExp(`^submitted "${hello}": (at://\\S+)$`, 'm').exec(sub.stdout)?.[1]
      expect(uri).toMatch(new RegExp(`^at://${ann.owner.did}/${NSID.workload}/`))
      const rkey = uri!.split('/').pop()!
      expect(subJson.code).toBe(0)
      const job = JSON.parse(subJson.stdout) as { uri: string; cid: string; name: string }
      expect(job).toMatchObject({ name: count, uri: expect.stringMatching(/^at:\/\//), cid: expect.any(String) })
      expect((await workloadRecords(ann)).map((r) => r.uri).sort()).toEqual([uri, job.uri].sort())

      const holder = await settledHolder(uri!)
      await waitFor(async () => (await containersOf(job.uri, true))[0]?.State === 'exited', { what: 'the batch job to finish', timeoutMs: 40_000 })
      await waitFor(() => c.peers().every((p) => p.view.statusesFor(job.uri).some((s) => s.state === 'exited')), { what: 'every peer to see the job exited', timeoutMs: 20_000 })

      // ls
      const [ls, lsJsonRun, st, stJsonRun, logs, logsJsonRun, notMine, nothingPaused] = await Promise.all([
        meshlet(['ls', '--allow-http'], asAnn),
        meshlet(['ls', '--json', '--allow-http'], asAnn),
        meshlet(['status', rkey, '--allow-http'], asAnn),
        meshlet(['status', uri!, '--json', '--meshlet', ben.meshlet.did, '--allow-http'], asAnn),
        meshlet(['logs', rkey, '--allow-http'], asAnn),
        meshlet(['logs', uri!, '--tail', '1', '--json', '--allow-http'], asAnn),
        meshlet(['logs', uri!, '--allow-http'], asBen),
        meshlet(['resume', rkey, '--allow-http'], asAnn),
      ])
      expect(ls.code).toBe(0)
      const lines = ls.stdout.trim().split('\n')
      expect(lines[0]).toMatch(/^ID\s+NAME\s+STATE\s+RUNNING\s+IMAGE/)
      expect(lines.find((l) => l.startsWith(rkey))).toMatch(new RegExp(`^${rkey}\\s+${hello}\\s+running\\s+1/1\\s+${IMAGE.replace('/', '\\/')}`))
      expect(lines.find((l) => l.startsWith(job.uri.split('/').pop()!))).toMatch(new RegExp(`\\s+${count}\\s+exited\\s+0/1\\s`))
      expect(lines.at(-1)).toBe(`(state as seen by ${ann.meshlet.did})`)
      const lsJson = JSON.parse(lsJsonRun.stdout) as { meshlet: string; workloads: { uri: string; state: string; running: number; meshlets: string[] }[] }
      expect(lsJson.meshlet).toBe(ann.meshlet.did)
      expect(lsJson.workloads.find((w) => w.uri === uri)).toMatchObject({ state: 'running', running: 1, meshlets: [holder.meshlet.did] })

      // status (by record key, and by URI with --json, asking ben's meshlet)
      expect(st.code).toBe(0)
      expect(st.stdout).toMatch(new RegExp(`^workload\\s+${uri}$`, 'm'))
      expect(st.stdout).toMatch(/^state\s+running$/m)
      expect(st.stdout).toMatch(new RegExp(`^its state\\s+${holder === ann ? 'running' : 'elsewhere'}$`, 'm'))
      expect(st.stdout).toMatch(/^phase\s+placed$/m)
      expect(st.stdout).toMatch(new RegExp(`^REPLICAS\\nMESHLET\\s+STATE.*\\n${holder.meshlet.did}\\s+running\\s`, 'm'))
      expect(st.stdout).toMatch(new RegExp(`^${holder.meshlet.did}\\s+\\d+\\s+won\\s+holds replica 0 \\(running\\)`, 'm'))
      const stJson = JSON.parse(stJsonRun.stdout) as {
        meshlet: string
        replicas: { meshlet: string; state: string }[]
        bids: { meshlet: string; outcome: string; reason: string }[]
      }
      expect(stJson.meshlet).toBe(ben.meshlet.did)
      expect(stJson.replicas.filter((r) => r.state === 'running').map((r) => r.meshlet)).toEqual([holder.meshlet.did])
      expect(stJson.bids.map((b) => b.meshlet).sort()).toEqual([ann.meshlet.did, ben.meshlet.did].sort())
      expect(stJson.bids.find((b) => b.meshlet === holder.meshlet.did)?.outcome).toBe('won')

      // logs
      expect([logs.code, logs.stdout]).toEqual([0, 'hello from the cli\nready\n'])
      const logsJson = JSON.parse(logsJsonRun.stdout) as { replicas: { meshlet: string; logs: { lines: { text: string }[] } }[] }
      expect(logsJson.replicas).toEqual([expect.objectContaining({ meshlet: holder.meshlet.did })])
      expect(logsJson.replicas[0]!.logs.lines.map((l) => l.text.trim())).toEqual(['ready'])
      // someone else's workload: the meshlet refuses, the CLI says so
      expect(notMine.code).toBe(1)
      expect(notMine.stderr).toMatch(/Forbidden: only the workload's owner/)

      // pause / resume
      const [container] = await containersOf(uri!)
      const paused = await meshlet(['pause', rkey, '--allow-http'], asAnn)
      expect([paused.code, paused.stdout.trim()]).toEqual([0, `paused on ${holder.meshlet.did} (now paused)`])
      expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(true)
      const resumed = JSON.parse((await meshlet(['resume', rkey, '--json', '--allow-http'], asAnn)).stdout) as unknown
      expect(resumed).toEqual({ uri, action: 'resume', results: [{ meshlet: holder.meshlet.did, state: 'running' }] })
      expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(false)
      // resuming what is not paused says what there is instead
      expect(nothingPaused.code).toBe(1)
      expect(nothingPaused.stderr).toMatch(/no replica of .* to resume \(replicas: .*running on /)

      // stop acts on the holder only: the other meshlet, which bid too, takes the replica over
      const stop = await meshlet(['stop', uri!, '--allow-http'], asAnn)
      expect(stop.code).toBe(0)
      expect(stop.stdout).toBe(`stopped on ${holder.meshlet.did} (now stopped)\nthe next meshlet that bid takes the replica over; \`meshlet rm\` stops the workload everywhere\n`)
      const second = await settledHolder(uri!, [holder.meshlet.did])
      expect(second).not.toBe(holder)
      // --meshlet acts on that meshlet only; one with no replica says so
      const wrong = await meshlet(['pause', uri!, '--meshlet', holder.meshlet.did, '--allow-http'], asAnn)
      expect(wrong.code).toBe(1)
      expect(wrong.stderr).toMatch(/WorkloadNotFound: no container of .* on this meshlet/)

      // rm
      const [rm, rmJson] = await Promise.all([meshlet(['rm', rkey, '--allow-http'], asAnn), meshlet(['rm', job.uri, '--json', '--allow-http'], asAnn)])
      expect([rm.code, rm.stdout.trim()]).toEqual([0, `removed ${uri}; every meshlet stops its containers when it sees the delete`])
      expect(JSON.parse(rmJson.stdout)).toEqual({ uri: job.uri, deleted: true })
      await waitFor(async () => (await containersOf(uri!, true)).length + (await containersOf(job.uri, true)).length === 0, { what: 'the containers to go', timeoutMs: 30_000 })
      expect(await workloadRecords(ann)).toEqual([])
      const again = await meshlet(['rm', rkey, '--allow-http'], asAnn)
      expect(again.code).toBe(1)
      expect(again.stderr).toMatch(/no workload .* in your repo \(already removed\?\)/)
    } finally {
      // A failed attempt leaves its workloads running: remove them so a retry starts from an empty repo.
      await removeWorkloads(ann, [hello, count])
    }
  }, 180_000)

  test('link writes the owner\'s commune.scheduler.meshlet record', async () => {
    const dan = await c.net.createAccount('dan', 1)
    const danMesh = await c.net.createAccount('dan-mesh', 1)
    const args = ['link', '--owner', dan.did, '--meshlet', danMesh.did, '--plc', c.net.plcUrl, '--allow-http']
    const [linked, wrong] = await Promise.all([
      meshlet([...args, '--owner-password', dan.password]),
      meshlet([...args, '--owner-password', 'wrong']),
    ])
    expect(linked.code).toBe(0)
    expect(linked.stdout.trim()).toBe(`linked ${danMesh.did} to ${dan.did}: at://${dan.did}/${NSID.meshlet}/${danMesh.did}`)
    const rec = await dan.agent.com.atproto.repo.getRecord({ repo: dan.did, collection: NSID.meshlet, rkey: danMesh.did })
    expect(rec.data.value).toMatchObject({ $type: NSID.meshlet, meshletDid: danMesh.did })
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1)
    expect(wrong.stderr).toMatch(/^meshlet: error: .*(Invalid identifier or password|password)/i)
  })

  test('capacity, and shutdown by the meshlet\'s owner only', async () => {
    const suffix = attemptSuffix('shutdown')
    // A retry finds the peer its failed attempt shut down stopped: start it again (a drain is not kept).
    await Promise.all(
      c.members.map(async (m) => {
        if (m.peer && !(await hasStopped(m.peer))) return
        await c.stopPeer(m)
        await c.startPeer(m)
      }),
    )
    try {
      const helloYaml = await helloFile(suffix)
      const [cap, notOwner, subRun] = await Promise.all([
        meshlet(['capacity', ben.meshlet.did, '--allow-http'], asAnn),
        meshlet(['shutdown', ann.meshlet.did, '--allow-http'], asBen),
        meshlet(['submit', helloYaml, '--json', '--allow-http'], asBen, tmp),
      ])
      expect(cap.code).toBe(0)
      expect(cap.stdout).toMatch(new RegExp(`^cpu\\s+\\d+ of ${os.cpus().length * 1000} millicores free$`, 'm'))
      expect(cap.stdout).toMatch(/^accepting\s+yes$/m)

      expect(notOwner.code).toBe(1)
      expect(notOwner.stderr).toMatch(/answered Forbidden: only this meshlet's owner .* may shut it down/)
      expect((await fetch(`${ann.peer!.url}/health`)).status).toBe(200)

      const sub = JSON.parse(subRun.stdout) as { uri: string }
      const holder = await settledHolder(sub.uri)
      const other = holder === ann ? ben : ann
      const down = await meshlet(['shutdown', holder.meshlet.did, '--json', '--allow-http'], holder === ann ? asAnn : asBen)
      expect(down.code).toBe(0)
      expect(JSON.parse(down.stdout)).toEqual({ meshlet: holder.meshlet.did, drain: true, accepted: true, handedOver: 1 })
      await holder.peer!.waitUntilStopped()
      await c.stopPeer(holder)
      await waitFor(async () => (await containersOf(sub.uri)).map((x) => x.Labels['farm.meshlet.meshlet']).join() === other.meshlet.did, { what: 'the other meshlet to take the replica', timeoutMs: 40_000 })
      const gone = await meshlet(['capacity', holder.meshlet.did, '--allow-http'], holder === ann ? asAnn : asBen)
      expect(gone.code).toBe(1)
      expect(gone.stderr).toMatch(/is not reachable/)
    } finally {
      await removeWorkloads(ben, [`hello${suffix}`])
    }
    // its own waits (a settled holder, the drain, the take-over) add up past the 60 s default
  }, 150_000)
})
