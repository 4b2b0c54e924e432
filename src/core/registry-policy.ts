// Where guests' images may come from (docs/protocol.md, Images). A meshlet pulls from the host's
// network position: a guest naming a registry on loopback or the LAN would make the host fetch
// from places only the host can reach. So, for workloads of owners other than this meshlet's own,
// registries on loopback, private, link-local or shared (CGNAT) addresses, and host names that
// only local DNS can resolve (no dot, .local, .internal, .lan, .home.arpa), are refused unless the
// meshlet's owner allows them by name; a deny list refuses any registry outright. Pure: the peer
// also checks the addresses a host name resolves to before pulling (replica-starter.ts).
import { parseImageRef } from './image-ref.js'

export interface RegistryPolicy {
  /** Registries guests may pull from even on local addresses: "host" (any port) or "host:port". */
  allow: string[]
  /** Registries guests may never pull from: "host" (any port) or "host:port" (e.g. "docker.io"). */
  deny: string[]
  /** Local images guests may use as they are, without a pull (the owner declares them public). */
  sharedImages: string[]
}

export const EMPTY_REGISTRY_POLICY: RegistryPolicy = { allow: [], deny: [], sharedImages: [] }

/** Docker's default registry when a reference names none. */
export const DEFAULT_REGISTRY = 'docker.io'

/** The registry `host[:port]` of an image reference (docker.io when it names none), or undefined if invalid. */
export function registryOf(image: string): string | undefined {
  const r = parseImageRef(image)
  if (!r.ok) return undefined
  return (r.ref.domain ?? DEFAULT_REGISTRY).toLowerCase()
}

/** Splits "host:port", "[v6]:port" or "host" into the host (no brackets) and port. */
export function splitHostPort(registry: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(registry)
  if (v6) return { host: v6[1]!.toLowerCase(), ...(v6[2] ? { port: v6[2] } : {}) }
  const i = registry.lastIndexOf(':')
  if (i > 0 && /^\d+$/.test(registry.slice(i + 1))) return { host: registry.slice(0, i).toLowerCase(), port: registry.slice(i + 1) }
  return { host: registry.toLowerCase() }
}

function ipv4(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (!m) return undefined
  const parts = m.slice(1).map(Number)
  return parts.every((p) => p <= 255) ? parts : undefined
}

/**
 * What kind of local address `host` (an IP literal or a name) is, or undefined when it is public.
 * IPv4: 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, 198.18/15; IPv6: ::, ::1,
 * fc00::/7, fe80::/10, and IPv4-mapped forms of the above.
 */
export function localAddressKind(host: string): string | undefined {
  const h = host.toLowerCase()
  const v4 = ipv4(h)
  if (v4) {
    const [a, b] = v4 as [number, number, number, number]
    if (a === 127) return 'a loopback address'
    if (a === 0) return 'an unspecified address'
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'a private (LAN) address'
    if (a === 169 && b === 254) return 'a link-local address'
    if (a === 100 && b >= 64 && b <= 127) return 'a shared (CGNAT) address'
    if (a === 198 && (b === 18 || b === 19)) return 'a benchmarking (198.18.0.0/15) address'
    return undefined
  }
  if (h.includes(':')) {
    if (h === '::1') return 'a loopback address'
    if (h === '::') return 'an unspecified address'
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
    if (mapped) return localAddressKind(mapped[1]!)
    if (/^f[cd][0-9a-f]{0,2}:/.test(h)) return 'a private (ULA) address'
    if (/^fe[89ab][0-9a-f]?:/.test(h)) return 'a link-local address'
    return undefined
  }
  if (h === 'localhost' || h.endsWith('.localhost')) return 'a loopback name'
  if (!h.includes('.')) return 'a name only local DNS resolves'
  if (/\.(local|internal|lan|home\.arpa|intranet|corp)$/.test(h)) return 'a local network name'
  return undefined
}

/** Whether `registry` ("host" or "host:port") is named by an entry ("host" = any port). */
export function registryListed(registry: string, list: readonly string[]): boolean {
  const r = splitHostPort(registry)
  return list.some((entry) => {
    const e = splitHostPort(entry.trim())
    return e.host === r.host && (e.port === undefined || e.port === r.port)
  })
}

/**
 * Why this meshlet refuses to pull `image` for a guest, or undefined. Images the owner shares
 * (`sharedImages`, exact reference) are used locally and never refused here.
 */
export function guestImageRefusal(image: string, policy: RegistryPolicy = EMPTY_REGISTRY_POLICY): string | undefined {
  if (policy.sharedImages.includes(image)) return undefined
  const registry = registryOf(image)
  if (registry === undefined) return undefined // an invalid reference is reported as such elsewhere
  if (registryListed(registry, policy.deny)) return `image registry ${registry} is on this meshlet's deny list for guests' images`
  if (registryListed(registry, policy.allow)) return undefined
  const kind = localAddressKind(splitHostPort(registry).host)
  if (kind) {
    return `image registry ${registry} is ${kind}: this meshlet does not pull guests' images from loopback, private or link-local registries (its owner may allow one with --registry-allow)`
  }
  return undefined
}

/** Why a guest's pull from `registry` is refused given the addresses its host name resolves to, or undefined. */
export function resolvedRegistryRefusal(registry: string, addresses: readonly string[], policy: RegistryPolicy = EMPTY_REGISTRY_POLICY): string | undefined {
  if (registryListed(registry, policy.allow)) return undefined
  for (const a of addresses) {
    const kind = localAddressKind(a)
    if (kind) return `image registry ${registry} resolves to ${a}, ${kind}: this meshlet does not pull guests' images from loopback, private or link-local registries (its owner may allow one with --registry-allow)`
  }
  return undefined
}
