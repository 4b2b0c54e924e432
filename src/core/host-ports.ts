// Published ports (issue 12, docs/protocol.md "Ports and endpoints"): which host port each
// container port of a replica gets, and the endpoint URLs its status carries. Pure: the adapter
// hands in what the engine already uses (from its containers' labels) and what it found busy.
import { fnv1a64Hex } from './hash.js'
import type { Endpoint, PortSpec } from './types.js'

/** An inclusive range of host ports a meshlet publishes on. */
export interface PortRange {
  first: number
  last: number
}

/** A container port and the host port it is published on. */
export interface PublishedPort extends PortSpec {
  hostPort: number
}

export type Allocation = { ok: true; ports: PublishedPort[] } | { ok: false; reason: string }

/** `tcp/24001`: the key of a used host port (tcp and udp ports are separate spaces). */
export function portKey(protocol: 'tcp' | 'udp', hostPort: number): string {
  return `${protocol}/${hostPort}`
}

/**
 * Host ports for `wanted`, none in `used` (keys from {@link portKey}) nor given twice. Each port
 * starts its search at a point derived from `seed` + its name (the adapter seeds with the workload
 * URI), then walks the range upwards and wraps: a replica re-created on the same meshlet gets the
 * same host port again while it is free, without any stored state. Fails, with the reason, when the
 * range has no free port left for one of them.
 */
export function allocateHostPorts(wanted: readonly PortSpec[], used: ReadonlySet<string>, range: PortRange, seed: string): Allocation {
  const size = range.last - range.first + 1
  if (!Number.isInteger(range.first) || !Number.isInteger(range.last) || range.first < 1 || range.last > 65535 || size < 1) {
    return { ok: false, reason: `invalid host port range ${range.first}-${range.last}` }
  }
  const taken = new Set(used)
  const out: PublishedPort[] = []
  for (const p of wanted) {
    // 13 hex digits = 52 bits: an exact integer, so every meshlet computes the same start.
    const start = Number(BigInt(`0x${fnv1a64Hex(`${seed}|${p.name}`).slice(0, 13)}`) % BigInt(size))
    let hostPort: number | undefined
    for (let i = 0; i < size; i++) {
      const candidate = range.first + ((start + i) % size)
      if (!taken.has(portKey(p.protocol, candidate))) {
        hostPort = candidate
        break
      }
    }
    if (hostPort === undefined) return { ok: false, reason: `no free ${p.protocol} host port left in ${range.first}-${range.last} for port ${p.name}` }
    taken.add(portKey(p.protocol, hostPort))
    out.push({ ...p, hostPort })
  }
  return { ok: true, ports: out }
}

/** The URLs a status record carries: tcp as `http://host:port`, udp as `udp://host:port` (IPv6 in brackets). */
export function endpointsFor(ports: readonly PublishedPort[], advertisedHost: string): Endpoint[] {
  const host = advertisedHost.includes(':') && !advertisedHost.startsWith('[') ? `[${advertisedHost}]` : advertisedHost
  return ports.map((p) => ({ name: p.name, url: `${p.protocol === 'udp' ? 'udp' : 'http'}://${host}:${p.hostPort}` }))
}

/** "24000-24999" -> a range, or the reason it is not one (config validation). */
export function parsePortRange(text: string): PortRange | string {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim())
  if (!m) return 'must be a range like 24000-24999'
  const first = Number(m[1])
  const last = Number(m[2])
  if (first < 1 || last > 65535) return 'ports must be within 1-65535'
  if (first > last) return 'the first port must not be above the last'
  return { first, last }
}

const PORT_NAME = /^[a-z][a-z0-9-]{0,31}$/

/** What is wrong with a workload's `ports` (names, duplicates), or undefined. */
export function portsProblem(ports: readonly PortSpec[]): string | undefined {
  const names = new Set<string>()
  const seen = new Set<string>()
  for (const [i, p] of ports.entries()) {
    if (!PORT_NAME.test(p.name)) return `ports[${i}].name ${JSON.stringify(p.name.slice(0, 40))} must be a-z, 0-9 and '-', starting with a letter (at most 32)`
    if (names.has(p.name)) return `ports[${i}].name ${JSON.stringify(p.name)} is used twice`
    names.add(p.name)
    if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) return `ports[${i}].containerPort must be 1-65535`
    const key = portKey(p.protocol, p.containerPort)
    if (seen.has(key)) return `ports[${i}]: ${p.protocol} port ${p.containerPort} is published twice`
    seen.add(key)
  }
  return undefined
}
