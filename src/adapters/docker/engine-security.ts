// What the engine itself contributes to isolation, read from `docker info`: whether container root
// is the host's root (rootless engine, userns-remap) and whether it can hold a disk quota.
import type { Isolation } from '../../core/types.js'

export interface EngineSecurity {
  userns: Isolation['userns']
  /** overlay2 on xfs (with pquota) can take --storage-opt size; anything else cannot. */
  storageQuota: boolean
  /** The driver and its backing filesystem, for the start log. */
  storageDriver: string
}

export function engineSecurity(info: { SecurityOptions?: unknown; Driver?: unknown; DriverStatus?: unknown }): EngineSecurity {
  const opts = Array.isArray(info.SecurityOptions) ? info.SecurityOptions.filter((s): s is string => typeof s === 'string') : []
  const userns = opts.some((s) => /(^|,)name=rootless(,|$)/.test(s)) ? 'rootless' : opts.some((s) => /(^|,)name=userns(,|$)/.test(s)) ? 'userns-remap' : 'none'
  const driver = typeof info.Driver === 'string' ? info.Driver : 'unknown'
  const status = Array.isArray(info.DriverStatus) ? (info.DriverStatus as unknown[]).filter((r): r is [string, string] => Array.isArray(r) && r.length === 2) : []
  const backing = status.find(([k]) => k === 'Backing Filesystem')?.[1] ?? 'unknown'
  return { userns, storageQuota: driver === 'overlay2' && backing === 'xfs', storageDriver: `${driver} on ${backing}` }
}
