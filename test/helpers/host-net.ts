// Real network fixtures for the container-boundary tests: commands run in a container (docker exec),
// a stand-in "LAN" host inside a network namespace the test creates (198.18.0.0/15, never a real
// private or internet address), HTTP services on host addresses, and cleanup of chains and networks
// the test made (never anything else).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { PassThrough } from 'node:stream'
import type Docker from 'dockerode'
import { NET_LABEL } from '../../src/adapters/host-net/owner-networks.js'

export function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code as number) || 1 : 0, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await sh(cmd, args)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Runs a command inside a running container; its exit code and output. */
export async function execIn(docker: Docker, id: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({ hijack: true, stdin: false })
  const out = new PassThrough()
  let text = ''
  out.on('data', (c: Buffer) => (text += c.toString('utf8')))
  docker.modem.demuxStream(stream, out, out)
  await new Promise<void>((r) => {
    stream.on('end', r)
    stream.on('close', r)
  })
  const info = await exec.inspect()
  return { code: info.ExitCode ?? -1, out: text.trim() }
}

/**
 * HTTP GET from inside a container (busybox nc, 3 s; this busybox's wget crashes): the body, or
 * undefined when refused or silent.
 */
export async function probe(docker: Docker, id: string, url: string): Promise<string | undefined> {
  const u = new URL(url)
  const r = await execIn(docker, id, ['sh', '-c', `printf 'GET ${u.pathname} HTTP/1.0\r\n\r\n' | nc -w 3 ${u.hostname} ${u.port}`])
  const body = /\r?\n\r?\n([\s\S]*)$/.exec(r.out)?.[1]?.trim()
  return r.code === 0 && body ? body : undefined
}

/** A short random tag for names on the shared engine. */
export function tag(n = 4): string {
  return randomBytes(n).toString('hex').slice(0, n)
}

export async function httpService(host: string, body: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(body))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve())
  })
  return { server, port: (server.address() as { port: number }).port }
}

/**
 * A stand-in LAN host: netns `name` with one end of a veth pair at 198.18.<subnet>.2/30, the host end
 * at .1, and an HTTP service on port 8080 answering `body`.
 */
export async function fakeLan(name: string, subnet: number, body: string): Promise<{ ip: string; child: ChildProcess; cleanup: () => Promise<void> }> {
  const hostIf = `${name}h`
  const nsIf = `${name}n`
  const ip = `198.18.${subnet}.2`
  await must('ip', ['netns', 'add', name])
  await must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf])
  await must('ip', ['link', 'set', nsIf, 'netns', name])
  await must('ip', ['addr', 'add', `198.18.${subnet}.1/30`, 'dev', hostIf])
  await must('ip', ['link', 'set', hostIf, 'up'])
  await must('ip', ['-n', name, 'addr', 'add', `${ip}/30`, 'dev', nsIf])
  await must('ip', ['-n', name, 'link', 'set', nsIf, 'up'])
  await must('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
  const script = `require('http').createServer((q,s)=>s.end(${JSON.stringify(body)})).listen(8080,${JSON.stringify(ip)},()=>console.log('up'))`
  const child = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`LAN stand-in exited ${code}`)))
  })
  return {
    ip,
    child,
    cleanup: async () => {
      child.kill()
      await sh('ip', ['link', 'del', hostIf])
      await sh('ip', ['netns', 'del', name])
    },
  }
}

/** Removes the test's own chains (jumps first), never anyone else's. */
export async function removeChains(prefix: string): Promise<void> {
  for (const [from, chain] of [['DOCKER-USER', `${prefix}-FILTER`], ['INPUT', `${prefix}-INPUT`]] as const) {
    while ((await sh('iptables', ['-w', '10', '-D', from, '-j', chain])).code === 0) {
      // a jump inserted twice goes twice
    }
    await sh('iptables', ['-w', '10', '-F', chain])
    await sh('iptables', ['-w', '10', '-X', chain])
  }
}

/** Removes the networks a test meshlet made. */
export async function removeMeshletNetworks(docker: Docker, meshletDid: string): Promise<void> {
  const nets = await docker.listNetworks({ filters: { label: [`${NET_LABEL.meshlet}=${meshletDid}`] } })
  for (const n of nets) await docker.getNetwork(n.Id).remove().catch(() => undefined)
}
