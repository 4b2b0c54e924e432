// Published ports (issue 12, docs/protocol.md "Ports and endpoints"): host ports for a container's
// ports, chosen so no two containers on this engine collide. What is taken comes from the engine
// itself (meshlet containers carry their host ports in a label, running or stopped; any other
// container's published ports show in its list row) plus a bind probe for other programs, so a
// restarted peer needs no file of its own and a port is free again once its container is removed.
import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import type Docker from 'dockerode'
import { allocateHostPorts, portKey, type PortRange, type PublishedPort } from '../../core/host-ports.js'
import type { PortSpec } from '../../core/types.js'
import type { ContainerSpec } from '../../ports/container-runtime.js'

/** Label holding a meshlet container's published ports (JSON of PublishedPort[]). */
export const PORTS_LABEL = 'farm.meshlet.ports'

export interface PublishOptions {
  /** Host address the ports are bound to (dev default 127.0.0.1). */
  address: string
  range: PortRange
}

export const DEFAULT_PUBLISH: PublishOptions = { address: '127.0.0.1', range: { first: 24000, last: 24999 } }

/** Allocation and create are one step per engine: peers in one process (a devnet) share the lock. */
const locks = new Map<string, Promise<unknown>>()

export function withPublishLock<T>(engine: string, run: () => Promise<T>): Promise<T> {
  const prev = locks.get(engine) ?? Promise.resolve()
  const next = prev.then(run, run)
  locks.set(engine, next.catch(() => {}))
  return next
}

/** The ports a meshlet container's label says it publishes ([] when none or unreadable). */
export function portsFromLabels(labels: Record<string, string> | null | undefined): PublishedPort[] {
  const raw = labels?.[PORTS_LABEL]
  if (!raw) return []
  try {
    const v = JSON.parse(raw) as unknown
    if (!Array.isArray(v)) return []
    return v.filter(
      (p): p is PublishedPort =>
        typeof p?.name === 'string' && Number.isInteger(p?.containerPort) && Number.isInteger(p?.hostPort) && (p?.protocol === 'tcp' || p?.protocol === 'udp'),
    )
  } catch {
    return []
  }
}

/** Host ports in use on this engine: every container's label (any state) and every published row. */
export async function usedHostPorts(docker: Docker): Promise<Set<string>> {
  const rows = await docker.listContainers({ all: true })
  const used = new Set<string>()
  for (const row of rows) {
    for (const p of portsFromLabels(row.Labels)) used.add(portKey(p.protocol, p.hostPort))
    for (const p of row.Ports ?? []) if (p.PublicPort) used.add(portKey(p.Type === 'udp' ? 'udp' : 'tcp', p.PublicPort))
  }
  return used
}

/** Whether a program outside the engine already holds the port on `address`. */
export function hostPortBusy(address: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = createSocket(address.includes(':') ? 'udp6' : 'udp4')
      s.once('error', () => resolve(true))
      s.bind(port, address, () => s.close(() => resolve(false)))
      return
    }
    const srv = createServer()
    srv.once('error', () => resolve(true))
    srv.listen({ port, host: address, exclusive: true }, () => srv.close(() => resolve(false)))
  })
}

/** Host ports for `wanted`: engine state first, then a probe; a busy port is skipped and the search goes on. */
export async function choosePorts(docker: Docker, wanted: readonly PortSpec[], o: PublishOptions, seed: string): Promise<PublishedPort[]> {
  const used = await usedHostPorts(docker)
  for (let attempt = 0; attempt < 64; attempt++) {
    const a = allocateHostPorts(wanted, used, o.range, seed)
    if (!a.ok) throw new Error(a.reason)
    const busy = []
    for (const p of a.ports) if (await hostPortBusy(o.address, p.hostPort, p.protocol)) busy.push(p)
    if (busy.length === 0) return a.ports
    for (const p of busy) used.add(portKey(p.protocol, p.hostPort))
  }
  throw new Error(`no free host port found in ${o.range.first}-${o.range.last} (too many taken by other programs)`)
}

/** The engine's form: exposed ports and their bindings on `address`. */
export function portBindings(ports: readonly PublishedPort[], address: string): { ExposedPorts: Record<string, object>; PortBindings: Record<string, { HostIp: string; HostPort: string }[]> } {
  const ExposedPorts: Record<string, object> = {}
  const PortBindings: Record<string, { HostIp: string; HostPort: string }[]> = {}
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`
    ExposedPorts[key] = {}
    PortBindings[key] = [{ HostIp: address, HostPort: String(p.hostPort) }]
  }
  return { ExposedPorts, PortBindings }
}

/** Chooses the host ports of `spec` and writes them into the create options (bindings and the label). Call under withPublishLock. */
export async function applyPorts(docker: Docker, spec: ContainerSpec, options: Docker.ContainerCreateOptions, o: PublishOptions): Promise<void> {
  const ports = await choosePorts(docker, spec.ports ?? [], o, `${spec.labels.workloadUri}|${spec.labels.meshletDid}`)
  const b = portBindings(ports, o.address)
  options.ExposedPorts = b.ExposedPorts
  options.HostConfig = { ...options.HostConfig, PortBindings: b.PortBindings }
  options.Labels = { ...options.Labels, [PORTS_LABEL]: JSON.stringify(ports) }
}
