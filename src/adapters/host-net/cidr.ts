// IPv4 ranges for the firewall: parsed and checked here, so iptables never sees a malformed one.

export interface Cidr {
  text: string
  base: number
  bits: number
}

/** The LAN as a home machine sees it: RFC1918, CGNAT (100.64/10) and link-local, which holds the cloud metadata address 169.254.169.254. */
export const DEFAULT_DENY_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16'] as const

export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (!m) return undefined
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return undefined
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0
}

/** A CIDR like 10.0.0.0/8 (a bare address is /32), or a reason it is not one. */
export function parseCidr(s: string): Cidr | string {
  const [addr, bitsText, extra] = s.trim().split('/')
  if (extra !== undefined || !addr) return `"${s}" is not an IPv4 range like 10.0.0.0/8`
  const base = parseIpv4(addr)
  const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : NaN
  if (base === undefined || !(bits >= 0 && bits <= 32)) return `"${s}" is not an IPv4 range like 10.0.0.0/8`
  if ((base & mask(bits)) >>> 0 !== base) return `"${s}" has host bits set (did you mean ${fmt((base & mask(bits)) >>> 0)}/${bits}?)`
  return { text: `${fmt(base)}/${bits}`, base, bits }
}

export function inCidr(ip: number, c: Cidr): boolean {
  return ((ip & mask(c.bits)) >>> 0) === c.base
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
}

function fmt(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** IPv4 nameservers of a resolv.conf text (what the engine's embedded resolver forwards to). */
export function nameservers(resolvConf: string): string[] {
  const out: string[] = []
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line)
    if (m && parseIpv4(m[1]!) !== undefined) out.push(m[1]!)
  }
  return out
}

/** Whether two ranges share any address (one holds the other's base). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits)
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0)
}

/**
 * A free /size subnet of the pool: the first one from slot `start` on (wrapping) that overlaps
 * nothing taken. The engine's default pools hold about 30 networks; carving /24s out of a pool
 * gives a meshlet thousands of owners. `start` spreads meshlets sharing an engine apart, so two
 * creating at once rarely pick the same slot (the engine refuses the second; the caller retries).
 */
export function pickSubnet(pool: readonly Cidr[], size: number, taken: readonly Cidr[], start: number): Cidr | undefined {
  const slots = pool.map((p) => (p.bits > size ? 0 : 2 ** (size - p.bits)))
  const total = slots.reduce((a, b) => a + b, 0)
  if (total === 0) return undefined
  const first = ((start % total) + total) % total
  for (let i = 0; i < total; i++) {
    let k = (first + i) % total
    let p = 0
    while (k >= slots[p]!) k -= slots[p++]!
    const base = (pool[p]!.base + k * 2 ** (32 - size)) >>> 0
    const c: Cidr = { text: `${fmt(base)}/${size}`, base, bits: size }
    if (!taken.some((t) => overlaps(t, c))) return c
  }
  return undefined
}

/** Destinations of the host's IPv4 routes (/proc/net/route text), the default route left out. */
export function routedRanges(procNetRoute: string): Cidr[] {
  const out: Cidr[] = []
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8) continue
    const dest = leHex(f[1]!)
    const m = leHex(f[7]!)
    if (dest === undefined || m === undefined || m === 0) continue
    const bits = 32 - Math.log2((~m >>> 0) + 1)
    if (!Number.isInteger(bits)) continue
    out.push({ text: `${fmt(dest)}/${bits}`, base: (dest & mask(bits)) >>> 0, bits })
  }
  return out
}

/** /proc/net/route writes addresses as little-endian hex. */
function leHex(h: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return undefined
  const n = parseInt(h, 16)
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0
}
