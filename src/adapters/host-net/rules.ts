// The firewall rules of one meshlet bridge, as iptables arguments (docs/protocol.md, Execution
// defaults). Every rule names the bridge, so adding and removing one owner's network never touches
// another's, and nothing outside meshlet's own chains is changed besides the two jumps into them.

export interface ChainNames {
  /** Forwarded traffic; jumped to from DOCKER-USER (which the engine consults before its own rules). */
  forward: string
  /** Traffic from a meshlet bridge to the host itself; jumped to from INPUT. */
  input: string
}

export interface BridgeRuleOptions {
  chains: ChainNames
  /** Ranges containers must not reach (the LAN, CGNAT, link-local/metadata), as CIDR text. */
  denyRanges: readonly string[]
  /** Nameservers inside denyRanges the engine's embedded resolver forwards to: port 53 only. */
  dnsServers: readonly string[]
  /**
   * Services (issue 12): meshlet's bridges as an iptables wildcard (e.g. "mlbr+"). When given, a
   * connection to a published port (DNAT) from anywhere but a meshlet bridge may enter the bridge:
   * members reach the services; other owners' containers still cannot (their DNAT is refused above).
   */
  meshletBridges?: string
}

const REJECT = ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']

/** [chain, ...match/target] per rule, in the order they must be appended. */
export function bridgeRules(bridge: string, o: BridgeRuleOptions): string[][] {
  const f = o.chains.forward
  const rules: string[][] = [
    // The owner's own containers talk to each other; the engine's ICC decides.
    [f, '-i', bridge, '-o', bridge, '-j', 'RETURN'],
    // Replies to connections that were allowed.
    [f, '-i', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN'],
    // A published port of the host (DNAT from one of its addresses) is the host too.
    [f, '-i', bridge, '-m', 'conntrack', '--ctstate', 'DNAT', ...REJECT],
  ]
  for (const ns of o.dnsServers) {
    for (const proto of ['udp', 'tcp']) rules.push([f, '-i', bridge, '-d', `${ns}/32`, '-p', proto, '--dport', '53', '-j', 'RETURN'])
  }
  for (const range of o.denyRanges) rules.push([f, '-i', bridge, '-d', range, ...REJECT])
  // Nothing starts a connection into the bridge from elsewhere (other owners' bridges, the LAN).
  rules.push([f, '-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN'])
  // Published ports (issue 12): forwarded from the host's addresses, but never from a meshlet bridge.
  if (o.meshletBridges) rules.push([f, '!', '-i', o.meshletBridges, '-o', bridge, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'RETURN'])
  rules.push([f, '-o', bridge, '-j', 'DROP'])
  // The host's own addresses (its gateway on the bridge, its LAN and loopback-published services).
  rules.push([o.chains.input, '-i', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN'])
  rules.push([o.chains.input, '-i', bridge, ...REJECT])
  return rules
}

/** Does an `iptables -S` line belong to this bridge? */
export function isBridgeRule(line: string, bridge: string): boolean {
  const words = line.trim().split(/\s+/)
  for (let i = 0; i < words.length - 1; i++) if ((words[i] === '-i' || words[i] === '-o') && words[i + 1] === bridge) return true
  return false
}
