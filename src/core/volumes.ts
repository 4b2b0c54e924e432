// Workload volumes (issue 12, docs/protocol.md "Volumes"): named engine volumes local to one
// meshlet and scoped to one workload (owner + record key + name), and the placement preference for
// the meshlet that already holds them. Pure: the preference reads only published profiles, so every
// peer ranks the same.
import { sha256Hex } from './hash.js'
import type { Bid, Did, HeldVolume, Profile, VolumeSpec, Workload } from './types.js'

/**
 * The engine's name of a workload's volume: "mlv-" + 32 hex digits of SHA-256(meshlet|owner|rkey|name).
 * Another workload (another rkey, or another owner) cannot name it, whatever its fields say, and
 * two meshlets sharing one engine (a devnet) never share one.
 */
export function volumeName(meshlet: Did, owner: Did, rkey: string, name: string): string {
  return `mlv-${sha256Hex(`${meshlet}|${owner}|${rkey}|${name}`).slice(0, 32)}`
}

/** Meshlets whose published profile says they hold a volume of `w` (one of its declared names). */
export function volumeHolders(w: Pick<Workload, 'uri' | 'volumes'>, profiles: Iterable<Profile>): Set<Did> {
  const out = new Set<Did>()
  const names = new Set((w.volumes ?? []).map((v) => v.name))
  if (names.size === 0) return out
  for (const p of profiles) {
    if (p.volumes?.some((h) => h.workload === w.uri && names.has(h.name))) out.add(p.meshlet)
  }
  return out
}

/**
 * Bids in rank order with the volume holders' bids moved to the front, each group keeping its
 * order: a meshlet that holds the workload's data is asked first; without holders nothing moves.
 */
export function preferHolders(ordered: readonly Bid[], holders: ReadonlySet<Did> | undefined): Bid[] {
  if (!holders || holders.size === 0) return [...ordered]
  return [...ordered.filter((b) => holders.has(b.meshlet)), ...ordered.filter((b) => !holders.has(b.meshlet))]
}

/** The profile's list: one entry per (workload, name), sorted, at most `max` (the lexicon's bound). */
export function heldVolumesList(held: readonly HeldVolume[], max = 256): HeldVolume[] {
  const seen = new Map<string, HeldVolume>()
  for (const h of held) seen.set(`${h.workload}|${h.name}`, { workload: h.workload, name: h.name })
  return [...seen.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, max)
    .map(([, h]) => h)
}

const VOLUME_NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/

/** What is wrong with a workload's `volumes` (names, targets), or undefined. */
export function volumesProblem(volumes: readonly VolumeSpec[]): string | undefined {
  const names = new Set<string>()
  const targets = new Set<string>()
  for (const [i, v] of volumes.entries()) {
    if (!VOLUME_NAME.test(v.name)) return `volumes[${i}].name ${JSON.stringify(v.name.slice(0, 60))} must be a-z, 0-9, '-' and '_', starting with a letter or digit (at most 48)`
    if (names.has(v.name)) return `volumes[${i}].name ${JSON.stringify(v.name)} is used twice`
    names.add(v.name)
    const t = v.target
    if (!t.startsWith('/') || t === '/' || t.includes(':') || t.includes('\0') || t.split('/').some((seg) => seg === '..' || seg === '.') || /\/\/|\/$/.test(t)) {
      return `volumes[${i}].target ${JSON.stringify(t.slice(0, 80))} must be an absolute path like /data (not /, no '..', ':' or trailing '/')`
    }
    if (targets.has(t)) return `volumes[${i}].target ${t} is mounted twice`
    targets.add(t)
  }
  return undefined
}
