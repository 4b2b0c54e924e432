// Services fields (issue 12, apps) at the decoding edge: a workload's ports and volumes, a status's
// endpoints, a profile's held volumes. The lexicon checked their shapes; this checks what it cannot
// say (names, duplicates, absolute targets, URL schemes) with core's rules, so the CLI and every
// peer refuse the same records.
import { isValidAtUri } from '@atproto/syntax'
import type { Endpoint, HeldVolume, PortSpec, VolumeSpec } from '../../core/types.js'
import { portsProblem } from '../../core/host-ports.js'
import { volumesProblem } from '../../core/volumes.js'
import { clip, oneOf, reject } from './record-checks.js'

type RawPort = { name: string; containerPort: number; protocol?: string }
type RawVolume = { name: string; target: string; readOnly?: boolean }

/** `ports` and `volumes` of a workload, checked; absent lists stay absent (a record without them decodes as before). */
export function appFields(v: { ports?: readonly RawPort[]; volumes?: readonly RawVolume[] }): { ports?: PortSpec[]; volumes?: VolumeSpec[] } {
  const ports = v.ports?.length
    ? v.ports.map((p, i) => ({ name: p.name, containerPort: p.containerPort, protocol: oneOf<'tcp' | 'udp'>(p.protocol ?? 'tcp', ['tcp', 'udp'], `ports[${i}].protocol`) }))
    : undefined
  const volumes = v.volumes?.length ? v.volumes.map((x) => ({ name: x.name, target: x.target, ...(x.readOnly === true ? { readOnly: true } : {}) })) : undefined
  const problem = (ports && portsProblem(ports)) ?? (volumes && volumesProblem(volumes))
  if (problem) reject(problem)
  return { ...(ports ? { ports } : {}), ...(volumes ? { volumes } : {}) }
}

/** A status's endpoints: http(s), tcp or udp URLs with a host and a port. */
export function endpointsOf(list: readonly { name: string; url: string }[] | undefined): Endpoint[] | undefined {
  if (!list?.length) return undefined
  return list.map((e, i) => {
    let url: URL
    try {
      url = new URL(e.url)
    } catch {
      reject(`endpoints[${i}].url ${JSON.stringify(clip(e.url))} is not a URL`)
    }
    if (!['http:', 'https:', 'tcp:', 'udp:'].includes(url.protocol) || !url.hostname) reject(`endpoints[${i}].url must be an http(s), tcp or udp URL with a host (got ${JSON.stringify(clip(e.url))})`)
    return { name: e.name, url: e.url }
  })
}

/** A profile's held volumes: each names a workload record. */
export function heldVolumesOf(list: readonly { workload: string; name: string }[] | undefined): HeldVolume[] | undefined {
  if (!list?.length) return undefined
  return list.map((h, i) => {
    if (!isValidAtUri(h.workload) || !h.workload.includes('/commune.scheduler.workload/')) reject(`volumes[${i}].workload must be a workload's at:// URI (got ${JSON.stringify(clip(h.workload))})`)
    return { workload: h.workload, name: h.name }
  })
}
