// Workload volumes (issue 12, docs/protocol.md "Volumes"): named engine volumes of the local
// driver only (never a host path, never driver options a record could choose), labelled with the
// meshlet, owner, workload and volume name so a peer lists what it holds and removes them on purge.
import type Docker from 'dockerode'
import type { HeldVolume } from '../../core/types.js'
import type { ContainerSpec } from '../../ports/container-runtime.js'
import { ContainerCreateError } from '../../errors.js'

export const VOLUME_LABEL = {
  managed: 'farm.meshlet.managed',
  meshlet: 'farm.meshlet.meshlet',
  workload: 'farm.meshlet.workload',
  name: 'farm.meshlet.volume',
} as const

/** A volume the runtime mounts: its engine name (core/volumes volumeName) and where it goes. */
export interface VolumeMount {
  /** Engine volume name: mlv-<hash of meshlet, owner, rkey, name>. */
  source: string
  /** The name in the workload record. */
  name: string
  target: string
  readOnly?: boolean
}

/** Creates the volume when missing (idempotent: an existing one keeps its data). */
export async function ensureVolume(docker: Docker, v: VolumeMount, meshlet: string, workloadUri: string): Promise<void> {
  const existing = await docker
    .getVolume(v.source)
    .inspect()
    .catch((err: { statusCode?: number }) => {
      if (err?.statusCode === 404) return undefined
      throw err
    })
  if (existing) {
    // Another meshlet's or another workload's volume under this name cannot happen (the name
    // hashes all of them); a volume without our labels is not ours to use.
    const l = (existing as { Labels?: Record<string, string> | null }).Labels ?? {}
    if (l[VOLUME_LABEL.meshlet] !== meshlet || l[VOLUME_LABEL.workload] !== workloadUri) throw new Error(`volume ${v.source} exists but is not this workload's on this meshlet`)
    return
  }
  await docker.createVolume({
    Name: v.source,
    Driver: 'local',
    Labels: { [VOLUME_LABEL.managed]: 'true', [VOLUME_LABEL.meshlet]: meshlet, [VOLUME_LABEL.workload]: workloadUri, [VOLUME_LABEL.name]: v.name },
  })
}

/** The engine's mounts: volumes only (no binds). */
export function volumeMounts(volumes: readonly VolumeMount[]): { Type: 'volume'; Source: string; Target: string; ReadOnly: boolean }[] {
  return volumes.map((v) => ({ Type: 'volume', Source: v.source, Target: v.target, ReadOnly: v.readOnly === true }))
}

interface VolumeRow {
  Name: string
  Labels?: Record<string, string> | null
}

async function meshletVolumes(docker: Docker, meshlet: string): Promise<VolumeRow[]> {
  const res = (await docker.listVolumes({ filters: { label: [`${VOLUME_LABEL.managed}=true`, `${VOLUME_LABEL.meshlet}=${meshlet}`] } })) as { Volumes?: VolumeRow[] | null }
  return (res.Volumes ?? []).filter((v) => v.Labels?.[VOLUME_LABEL.meshlet] === meshlet)
}

/** The workload volumes this meshlet holds on the engine. */
export async function heldVolumes(docker: Docker, meshlet: string): Promise<HeldVolume[]> {
  return (await meshletVolumes(docker, meshlet)).flatMap((v) => {
    const workload = v.Labels?.[VOLUME_LABEL.workload]
    const name = v.Labels?.[VOLUME_LABEL.name]
    return workload && name ? [{ workload, name }] : []
  })
}

/** Removes this meshlet's volumes of `workloadUri` (its containers must be gone). Returns the names removed. */
export async function removeWorkloadVolumes(docker: Docker, meshlet: string, workloadUri: string): Promise<string[]> {
  const removed: string[] = []
  for (const v of await meshletVolumes(docker, meshlet)) {
    if (v.Labels?.[VOLUME_LABEL.workload] !== workloadUri) continue
    await docker.getVolume(v.Name).remove()
    removed.push(v.Labels?.[VOLUME_LABEL.name] ?? v.Name)
  }
  return removed.sort()
}

/** Bytes the container's meshlet volumes hold (the engine's disk-usage walk; slow, polled slowly). */
export async function volumeBytes(docker: Docker, names: readonly string[]): Promise<number> {
  if (names.length === 0) return 0
  const df = (await docker.df()) as { Volumes?: { Name: string; UsageData?: { Size?: number } | null }[] | null }
  const want = new Set(names)
  let total = 0
  for (const v of df.Volumes ?? []) if (want.has(v.Name) && typeof v.UsageData?.Size === 'number' && v.UsageData.Size > 0) total += v.UsageData.Size
  return total
}

/** Creates the spec's volumes when missing and mounts them into the create options (volumes only, never a bind). */
export async function applyVolumes(docker: Docker, spec: ContainerSpec, options: Docker.ContainerCreateOptions): Promise<void> {
  if (!spec.volumes?.length) return
  for (const v of spec.volumes) {
    if (!/^mlv-[0-9a-f]{32}$/.test(v.source) || !v.target.startsWith('/')) throw new ContainerCreateError(spec.image, `invalid volume ${v.name}: ${v.source} -> ${v.target}`)
    await ensureVolume(docker, v, spec.labels.meshletDid, spec.labels.workloadUri)
  }
  options.HostConfig = { ...options.HostConfig, Mounts: volumeMounts(spec.volumes) }
}
