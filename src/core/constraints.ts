// Workload constraints against one meshlet's profile. Every failing constraint is named, so the
// owner reading "why not here?" sees all that is missing at once, not one thing per retry.

import type { Did, Isolation, Profile, Workload } from './types.js'

export interface ConstraintCandidate {
  meshlet: Did
  owner: Did
  profile: Profile
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many)

/** undefined when the meshlet satisfies every constraint of the workload, else a human reason. */
export function matchConstraints(workload: Workload, candidate: ConstraintCandidate): string | undefined {
  const c = workload.constraints
  const { owner, profile } = candidate
  const reasons: string[] = []

  if (c.privacy === 'owner-only' && owner !== workload.owner) {
    reasons.push(`workload is owner-only and this meshlet belongs to ${owner}, not ${workload.owner}`)
  }
  if (c.members.length > 0 && !c.members.includes(owner)) {
    reasons.push(`owner ${owner} is not in the workload's members list`)
  }

  const roles = new Set(profile.roles)
  const missingRoles = [...new Set(c.roles)].filter((r) => !roles.has(r))
  if (missingRoles.length > 0) reasons.push(`needs ${plural(missingRoles.length, 'role', 'roles')} ${missingRoles.join(', ')}`)

  for (const want of c.labels) {
    const have = profile.labels.filter((l) => l.key === want.key)
    if (have.some((l) => l.value === want.value)) continue
    const found = have.length === 0 ? 'missing' : `has ${have.map((l) => `${l.key}=${l.value}`).join(', ')}`
    reasons.push(`needs label ${want.key}=${want.value} (${found})`)
  }

  const caps = new Set(profile.capabilities)
  const missingCaps = [...new Set(c.capabilities)].filter((x) => !caps.has(x))
  if (missingCaps.length > 0) {
    reasons.push(`needs ${plural(missingCaps.length, 'capability', 'capabilities')} ${missingCaps.join(', ')}`)
  }

  const isolationGap = workload.requires?.isolation ? isolationProblem(profile.isolation) : undefined
  if (isolationGap) reasons.push(`requires isolation, which this meshlet cannot enforce: ${isolationGap}`)

  return reasons.length > 0 ? reasons.join('; ') : undefined
}

/** What keeps a meshlet's published isolation from meeting `requires.isolation`, or undefined. */
export function isolationProblem(iso: Isolation | undefined): string | undefined {
  if (!iso) return 'its profile promises none'
  const gaps: string[] = []
  if (iso.network !== 'owner-bridge') gaps.push(`network is ${iso.network}, not owner-bridge`)
  if (!iso.hostBlocked) gaps.push('the host is reachable')
  if (!iso.lanBlocked) gaps.push('the LAN is reachable')
  if (gaps.length === 0) return undefined
  return iso.note ? `${gaps.join(', ')} (${iso.note})` : gaps.join(', ')
}
