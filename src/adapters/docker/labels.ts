import type { ContainerLabels } from '../../ports/container-runtime.js'

// Docker labels every meshlet container carries: a restarted meshlet finds (and only finds)
// its own containers through them.
export const LABEL = {
  workload: 'farm.meshlet.workload',
  cid: 'farm.meshlet.cid',
  specHash: 'farm.meshlet.spec-hash',
  meshlet: 'farm.meshlet.meshlet',
  replica: 'farm.meshlet.replica',
  managed: 'farm.meshlet.managed',
} as const

export const MANAGED_FILTER = `${LABEL.managed}=true`

export function labelsToDocker(labels: ContainerLabels): Record<string, string> {
  return {
    [LABEL.workload]: labels.workloadUri,
    [LABEL.cid]: labels.workloadCid,
    [LABEL.specHash]: labels.specHash,
    [LABEL.meshlet]: labels.meshletDid,
    [LABEL.replica]: String(labels.replica),
    [LABEL.managed]: 'true',
  }
}

/**
 * Meshlet labels from a container's Docker labels (or an event's Actor attributes).
 * Undefined when the container is not a complete meshlet container: such containers are never ours.
 */
export function labelsFromInfo(raw: Record<string, string> | null | undefined): ContainerLabels | undefined {
  if (!raw || raw[LABEL.managed] !== 'true') return undefined
  const workloadUri = raw[LABEL.workload]
  const workloadCid = raw[LABEL.cid]
  const specHash = raw[LABEL.specHash]
  const meshletDid = raw[LABEL.meshlet]
  const replicaText = raw[LABEL.replica]
  if (!workloadUri || !workloadCid || !specHash || !meshletDid || replicaText === undefined) return undefined
  if (!/^\d{1,9}$/.test(replicaText)) return undefined
  return { workloadUri, workloadCid, specHash, meshletDid, replica: Number(replicaText) }
}
