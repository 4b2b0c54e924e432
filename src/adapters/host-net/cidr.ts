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
