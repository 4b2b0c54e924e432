// Hash of what defines a container. It goes on the container as a label, so a restarted meshlet
// can tell an adoptable container from a stale one. Fields that do not change the container
// (name, replicas, constraints, bid window, createdAt) are left out on purpose.

import { fnv1a64Hex } from './hash.js'
import type { Workload } from './types.js'

/** Bump when the canonical form changes, so old labels read as "spec changed" instead of colliding. */
const SPEC_HASH_VERSION = 1

/** JSON with object keys sorted and undefined members dropped: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/** The container-defining part of a workload, as hashed. */
export function specOf(workload: Workload, secrets: readonly { name: string; version: number }[] = []): Record<string, unknown> {
  return {
    v: SPEC_HASH_VERSION,
    image: workload.image,
    command: workload.command ?? null,
    env: workload.env.map((e) => ({ name: e.name, value: e.value })),
    resources: {
      cpuMillis: workload.resources.cpuMillis,
      memoryMb: workload.resources.memoryMb,
      storageMb: workload.resources.storageMb ?? null,
    },
    kind: workload.kind,
    restart: { policy: workload.restart.policy, maxRetries: workload.restart.maxRetries ?? null },
    // Only when not the default: containers of workloads that never set them keep their hash.
    network: workload.network === 'none' ? 'none' : undefined,
    writableRoot: workload.writableRoot ? true : undefined,
    // Secrets (issue 13): their versions, never values; a new value rolls the replicas. Absent when none.
    secrets: secrets.length > 0 ? secrets.map((s) => ({ name: s.name, version: s.version })) : undefined,
    artifact: workload.artifact ? { url: workload.artifact.url, sha256: workload.artifact.sha256, args: workload.artifact.args } : undefined,
    // Services (issue 12, apps): only when set, like the two above.
    ports: workload.ports?.length ? workload.ports : undefined,
    volumes: workload.volumes?.length ? workload.volumes : undefined,
  }
}

/** 16 lowercase hex chars. */
export function specHash(workload: Workload, secrets: readonly { name: string; version: number }[] = []): string {
  return fnv1a64Hex(canonicalJson(specOf(workload, secrets)))
}
