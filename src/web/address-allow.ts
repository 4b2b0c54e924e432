// Who may read /metrics (issue 15): a list of addresses and CIDR ranges checked against the
// request's remote address. Default loopback only: counters say what runs where and how busy a
// machine is, which a member may not want the LAN to read.
import net, { BlockList } from 'node:net'

export const DEFAULT_METRICS_ALLOW = ['127.0.0.0/8', '::1/128']

function parse(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | string {
  const [address, bits, extra] = entry.split('/')
  if (extra !== undefined || !address) return `"${entry}" is not an address or CIDR range`
  const v = net.isIP(address)
  if (v === 0) return `"${address}" is not an IP address`
  const max = v === 4 ? 32 : 128
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN
  if (!(prefix >= 0 && prefix <= max)) return `"/${bits}" is not a prefix length for IPv${v}`
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' }
}

/** Why `entry` is not an address or CIDR range, or undefined when it is one. */
export function allowEntryProblem(entry: string): string | undefined {
  const p = parse(entry)
  return typeof p === 'string' ? p : undefined
}

/** A predicate over remote addresses; 'any' in the list allows everyone. IPv4-mapped IPv6 addresses count as IPv4. */
export function addressAllow(entries: readonly string[] = DEFAULT_METRICS_ALLOW): (remote: string | undefined) => boolean {
  if (entries.includes('any')) return () => true
  const list = new BlockList()
  for (const e of entries) {
    const p = parse(e)
    if (typeof p === 'string') throw new Error(p)
    list.addSubnet(p.address, p.prefix, p.family)
  }
  return (remote) => {
    if (!remote) return false
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)
    const addr = mapped ? mapped[1]! : remote
    const v = net.isIP(addr)
    if (v === 0) return false
    return list.check(addr, v === 4 ? 'ipv4' : 'ipv6')
  }
}
