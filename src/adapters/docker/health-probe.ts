// Issue 12 (health): the HealthProbe over the Docker engine. http/tcp: the meshlet connects to the
// container's address on its bridge network (the host may open connections into a bridge; the
// firewall only stops containers reaching out); exec: the command runs in the container through
// the engine's exec API (a socket proxy in front of the engine must allow exec for such checks).
import net from 'node:net'
import Docker from 'dockerode'
import { httpStatusPasses, type HealthCheck, type ProbeResult } from '../../core/health.js'
import { describeError } from '../../errors.js'
import type { HealthProbe } from '../../ports/health-probe.js'

export interface DockerHealthProbeOptions {
  socketPath?: string
  docker?: Docker
}

/** Bytes of an exec check's output kept for the failure reason. */
const OUTPUT_BYTES = 200

export class DockerHealthProbe implements HealthProbe {
  private readonly docker: Docker

  constructor(opts: DockerHealthProbeOptions = {}) {
    this.docker = opts.docker ?? new Docker({ socketPath: opts.socketPath ?? '/var/run/docker.sock' })
  }

  async probe(containerId: string, check: HealthCheck): Promise<ProbeResult> {
    try {
      if (check.type === 'exec') return await this.exec(containerId, check.command, check.timeoutMs)
      const ip = await this.address(containerId)
      if (!ip) return { ok: false, reason: 'the container has no network address (network "none"? use an exec check)' }
      if (check.type === 'tcp') return await tcpProbe(ip, check.port, check.timeoutMs)
      return await httpProbe(ip, check.port, check.path, check.timeoutMs, check)
    } catch (err) {
      return { ok: false, reason: describeError(err).slice(0, 300) }
    }
  }

  /** The container's IPv4 address on its (first) network. */
  private async address(id: string): Promise<string | undefined> {
    const info = await this.docker.getContainer(id).inspect()
    if (info.State?.Running !== true) throw new Error(`container is ${info.State?.Status ?? 'gone'}`)
    const nets = Object.values(info.NetworkSettings?.Networks ?? {})
    return nets.map((n) => n.IPAddress).find((ip) => typeof ip === 'string' && ip.length > 0)
  }

  private async exec(id: string, command: string[], timeoutMs: number): Promise<ProbeResult> {
    const exec = await this.docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true })
    const stream = await exec.start({ hijack: true, stdin: false })
    let out = Buffer.alloc(0)
    stream.on('data', (b: Buffer) => {
      if (out.length < 4096) out = Buffer.concat([out, b])
    })
    const ended = new Promise<void>((resolve) => {
      stream.on('end', () => resolve())
      stream.on('close', () => resolve())
      stream.on('error', () => resolve())
    })
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([ended.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))])
    clearTimeout(timer)
    if (timedOut) {
      stream.destroy()
      return { ok: false, reason: `${command[0]} did not finish within ${timeoutMs} ms` }
    }
    const res = await exec.inspect()
    if (res.ExitCode === 0) return { ok: true }
    return { ok: false, reason: `${command[0]} exited ${String(res.ExitCode)}${printable(out) ? `: ${printable(out)}` : ''}` }
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port })
    const done = (r: ProbeResult) => {
      sock.destroy()
      resolve(r)
    }
    sock.setTimeout(timeoutMs, () => done({ ok: false, reason: `tcp :${port}: no connection within ${timeoutMs} ms` }))
    sock.once('connect', () => done({ ok: true }))
    sock.once('error', (err) => done({ ok: false, reason: `tcp :${port}: ${describeError(err)}` }))
  })
}

async function httpProbe(host: string, port: number, path: string, timeoutMs: number, check: { expectStatus?: number }): Promise<ProbeResult> {
  const url = `http://${host}:${port}${path}`
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' })
    await res.body?.cancel().catch(() => {})
    if (httpStatusPasses(check, res.status)) return { ok: true }
    return { ok: false, reason: `http :${port}${path} answered ${res.status}, expected ${check.expectStatus ?? '200..399'}` }
  } catch (err) {
    const e = err as { name?: string; cause?: unknown }
    if (e.name === 'TimeoutError') return { ok: false, reason: `http :${port}${path}: no answer within ${timeoutMs} ms` }
    return { ok: false, reason: `http :${port}${path}: ${describeError(e.cause ?? err)}` }
  }
}

/** The exec stream's output (multiplexed frames included) as one short printable line. */
function printable(b: Buffer): string {
  // eslint-disable-next-line no-control-regex
  return b.toString('utf8').replace(/[\u0000-\u0008\u000e-\u001f]/g, '').replace(/\s+/g, ' ').trim().slice(0, OUTPUT_BYTES)
}
