// A bridge network per owner on this engine, and the firewall that keeps each one away from the
// host, the LAN and the other owners (docs/protocol.md, Execution defaults). Networks are labelled
// with this meshlet's DID and made on demand; prune() removes those no container uses.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import type Docker from 'dockerode'
import type { Did } from '../../core/types.js'
import type { NetworkEnforcement, WorkloadNetworks } from '../../ports/workload-networks.js'
import { createLogger, type Logger } from '../../logger.js'
import { MeshletError, describeError } from '../../errors.js'
import { DEFAULT_DENY_RANGES, inCidr, nameservers, parseCidr, parseIpv4, pickSubnet, routedRanges, type Cidr } from './cidr.js'
import { Iptables } from './iptables.js'
import { bridgeRules, isBridgeRule, type ChainNames } from './rules.js'

export const NET_LABEL = {
  managed: 'farm.meshlet.network',
  meshlet: 'farm.meshlet.meshlet',
  owner: 'farm.meshlet.owner',
} as const

/** How long a network found complete is trusted without looking again. */
const READY_TTL_MS = 30_000

/**
 * Where owner networks get their subnets, a /24 each. The engine's default pools hand out /16s
 * and /20s, about 30 networks in all: a meshlet with more owners than that (or leftovers of a
 * crashed run) would fail every start with "could not find an available, non-overlapping IPv4
 * address pool". 172.16.0.0/12 in /24s is 4,096 subnets, less what the engine and the host's
 * routes already use.
 */
export const DEFAULT_SUBNET_POOL = ['172.16.0.0/12'] as const
const SUBNET_BITS = 24
/** Creates lost to another meshlet on the same engine taking the same subnet, before giving up. */
const SUBNET_TRIES = 8

export interface OwnerNetworksOptions {
  docker: Docker
  meshlet: Did
  /** Ranges containers must not reach. Default DEFAULT_DENY_RANGES. */
  denyRanges?: readonly string[]
  /** Chain name prefix: <prefix>-FILTER and <prefix>-INPUT. Default MESHLET (tests use their own). */
  chainPrefix?: string
  /** Docker network name prefix. Default "meshlet-net-". */
  networkPrefix?: string
  /** Bridge interface prefix (interface names have at most 15 characters). Default "mlbr". */
  bridgePrefix?: string
  /** Nameservers the engine's embedded resolver forwards to. Default: those of /etc/resolv.conf. */
  dnsServers?: readonly string[]
  /** A network asked for this recently is not pruned (a create may be on its way). Default 60 s. */
  pruneGraceMs?: number
  /** IPv4 ranges owner networks are carved from, /24 each. Default DEFAULT_SUBNET_POOL. */
  subnetPool?: readonly string[]
  /** The host's routing table (/proc/net/route text); subnets it routes elsewhere are not used. */
  readRoutes?: () => string
  iptables?: Iptables
  logger?: Logger
}

export class OwnerNetworks implements WorkloadNetworks {
  private readonly docker: Docker
  private readonly ipt: Iptables
  private readonly chains: ChainNames
  private readonly deny: Cidr[]
  private readonly pool: Cidr[]
  private readonly log: Logger
  private enforcement: Promise<NetworkEnforcement> | undefined
  private firewall = false
  private readonly pending = new Map<string, Promise<string>>()
  private readonly askedAt = new Map<string, number>()
  /** Networks found complete (network and rules) recently: a burst of starts checks once. */
  private readonly readyAt = new Map<string, number>()

  constructor(private readonly o: OwnerNetworksOptions) {
    this.docker = o.docker
    this.ipt = o.iptables ?? new Iptables()
    const prefix = o.chainPrefix ?? 'MESHLET'
    this.chains = { forward: `${prefix}-FILTER`, input: `${prefix}-INPUT` }
    this.deny = (o.denyRanges ?? DEFAULT_DENY_RANGES).map((r) => {
      const c = parseCidr(r)
      if (typeof c === 'string') throw new MeshletError(`deny range ${c}`)
      return c
    })
    this.pool = (o.subnetPool ?? DEFAULT_SUBNET_POOL).map((r) => {
      const c = parseCidr(r)
      if (typeof c === 'string') throw new MeshletError(`subnet pool ${c}`)
      if (c.bits > SUBNET_BITS) throw new MeshletError(`subnet pool ${c.text} is smaller than one /${SUBNET_BITS}`)
      return c
    })
    this.log = o.logger ?? createLogger('meshlet:host-net')
    if ((o.bridgePrefix ?? 'mlbr').length > 7) throw new MeshletError('bridge prefix must leave 8 of the 15 interface-name characters for the hash')
  }

  prepare(): Promise<NetworkEnforcement> {
    this.enforcement ??= this.setUp()
    return this.enforcement
  }

  private async setUp(): Promise<NetworkEnforcement> {
    const lacking = await this.firewallProblem()
    if (lacking) {
      this.log.warn({ reason: lacking }, 'containers get a bridge per owner, but this peer cannot block their way to the host and the LAN')
      return { network: 'owner-bridge', hostBlocked: false, lanBlocked: false, note: lacking }
    }
    try {
      for (const c of [this.chains.forward, this.chains.input]) await this.ipt.ensureChain(c)
      await this.ipt.ensureJump('DOCKER-USER', this.chains.forward)
      await this.ipt.ensureJump('INPUT', this.chains.input)
    } catch (err) {
      const note = `cannot install firewall chains: ${describeError(err)}`
      this.log.warn({ reason: note }, 'containers can reach the host and the LAN')
      return { network: 'owner-bridge', hostBlocked: false, lanBlocked: false, note }
    }
    this.firewall = true
    this.log.info({ chains: this.chains, denyRanges: this.deny.map((d) => d.text), dns: this.dnsAllowed() }, 'container firewall ready')
    return { network: 'owner-bridge', hostBlocked: true, lanBlocked: true }
  }

  /** Why this peer cannot filter the engine's bridges, or undefined. */
  private async firewallProblem(): Promise<string | undefined> {
    const r = await this.ipt.run(['-S', 'DOCKER-USER'])
    if (r.ok) return undefined
    if (r.missing) return 'iptables is not installed where this peer runs'
    if (/permission denied|must be root|not permitted/i.test(r.stderr)) return 'no right to change iptables (needs root or CAP_NET_ADMIN in the host network namespace)'
    if (/no chain|does not exist/i.test(r.stderr)) {
      return "the engine's DOCKER-USER chain is not visible: this peer does not share the host's network namespace (e.g. it runs in compose)"
    }
    return `iptables does not answer: ${r.stderr.slice(0, 200)}`
  }

  /** Nameservers inside the denied ranges: the embedded resolver forwards there from the container's namespace. */
  private dnsAllowed(): string[] {
    let servers = this.o.dnsServers
    if (!servers) {
      try {
        servers = nameservers(readFileSync('/etc/resolv.conf', 'utf8'))
      } catch {
        servers = []
      }
    }
    return servers.filter((s) => {
      const ip = parseIpv4(s)
      return ip !== undefined && this.deny.some((c) => inCidr(ip, c))
    })
  }

  names(owner: Did): { network: string; bridge: string } {
    const hash = createHash('sha256').update(`${this.o.meshlet}\n${owner}`).digest('hex')
    const bridgePrefix = this.o.bridgePrefix ?? 'mlbr'
    return { network: `${this.o.networkPrefix ?? 'meshlet-net-'}${hash.slice(0, 16)}`, bridge: `${bridgePrefix}${hash.slice(0, 15 - bridgePrefix.length)}` }
  }

  networkFor(owner: Did): Promise<string> {
    const { network } = this.names(owner)
    this.askedAt.set(network, Date.now())
    let p = this.pending.get(network)
    if (!p) {
      p = this.ensure(owner).finally(() => this.pending.delete(network))
      this.pending.set(network, p)
    }
    return p
  }

  private async ensure(owner: Did): Promise<string> {
    await this.prepare()
    const { network, bridge } = this.names(owner)
    if (Date.now() - (this.readyAt.get(network) ?? -Infinity) < READY_TTL_MS) return network
    const existing = await this.inspect(network)
    if (!existing) {
      await this.create(owner, network, bridge)
    } else if (existing.Labels?.[NET_LABEL.meshlet] !== this.o.meshlet) {
      throw new MeshletError(`network ${network} exists but is not this meshlet's`)
    }
    if (this.firewall) await this.ensureRules(bridge)
    this.readyAt.set(network, Date.now())
    return network
  }

  /** Creates the owner's network on a free /24 of the pool, retrying when another creator took it first. */
  private async create(owner: Did, network: string, bridge: string): Promise<void> {
    const lost: Cidr[] = []
    let lastErr: unknown
    for (let attempt = 0; attempt < SUBNET_TRIES; attempt++) {
      const taken = [...(await this.usedSubnets()), ...lost]
      const subnet = pickSubnet(this.pool, SUBNET_BITS, taken, parseInt(network.slice(-6), 16))
      if (!subnet) throw new MeshletError(`no free /${SUBNET_BITS} left in the owner network pool ${this.pool.map((p) => p.text).join(',')} (${taken.length} ranges in use)`)
      try {
        await this.docker.createNetwork({
          Name: network,
          Driver: 'bridge',
          CheckDuplicate: true,
          Internal: false,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet.text }] },
          Labels: { [NET_LABEL.managed]: 'true', [NET_LABEL.meshlet]: this.o.meshlet, [NET_LABEL.owner]: owner },
          Options: { 'com.docker.network.bridge.name': bridge, 'com.docker.network.bridge.enable_icc': 'true' },
        })
        this.log.info({ network, bridge, owner, subnet: subnet.text }, 'owner network created')
        return
      } catch (err) {
        // Created meanwhile (another start for the same owner): use it.
        if ((err as { statusCode?: number }).statusCode === 409) return
        // Another network took the subnet between the listing and the create: try the next one.
        if (!/overlap/i.test(describeError(err))) throw err
        lost.push(subnet)
        lastErr = err
      }
    }
    throw new MeshletError(`no owner network after ${SUBNET_TRIES} subnets were taken under it`, { cause: lastErr })
  }

  /** Subnets of the engine's networks and of the host's routes. */
  private async usedSubnets(): Promise<Cidr[]> {
    const out: Cidr[] = []
    for (const n of await this.docker.listNetworks()) {
      for (const c of n.IPAM?.Config ?? []) {
        const parsed = typeof c.Subnet === 'string' ? parseCidr(c.Subnet) : undefined
        if (parsed && typeof parsed !== 'string') out.push(parsed)
      }
    }
    let routes = ''
    try {
      routes = (this.o.readRoutes ?? (() => readFileSync('/proc/net/route', 'utf8')))()
    } catch {
      // no /proc (not Linux): the engine still refuses overlaps with its own networks
    }
    return [...out, ...routedRanges(routes)]
  }

  private async inspect(network: string): Promise<Docker.NetworkInspectInfo | undefined> {
    try {
      return (await this.docker.getNetwork(network).inspect()) as Docker.NetworkInspectInfo
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined
      throw err
    }
  }

  /** The bridge's rules, complete and in order: replaced as a block when any is missing. */
  private async ensureRules(bridge: string): Promise<void> {
    if (!existsSync(`/sys/class/net/${bridge}`)) {
      // The bridge is made by the engine in ITS namespace: not seeing it means rules here filter nothing.
      this.log.warn({ bridge }, 'owner bridge not visible in this network namespace; its rules would have no effect')
    }
    const rules = bridgeRules(bridge, { chains: this.chains, denyRanges: this.deny.map((d) => d.text), dnsServers: this.dnsAllowed(), meshletBridges: `${this.o.bridgePrefix ?? 'mlbr'}+` })
    // Two listings instead of one check per rule: iptables calls queue behind the engine's on the xtables lock.
    const listed = [...(await this.ipt.list(this.chains.forward)), ...(await this.ipt.list(this.chains.input))].filter((l) => isBridgeRule(l, bridge))
    if (listed.length === rules.length && (await this.ipt.has(rules[rules.length - 1]!))) return
    await this.removeRules(bridge)
    await this.ipt.apply(rules.map(([chain, ...spec]) => ['-A', chain, ...spec].join(' ')))
  }

  private async removeRules(bridge: string): Promise<void> {
    const stale: string[] = []
    for (const chain of [this.chains.forward, this.chains.input]) {
      for (const line of await this.ipt.list(chain)) if (isBridgeRule(line, bridge)) stale.push(line.replace(/^-A /, '-D '))
    }
    await this.ipt.apply(stale)
  }

  /** Removes every network of this meshlet no container uses, at once (a test commune closing). */
  async removeAll(): Promise<number> {
    await this.prepare()
    return this.prune(0)
  }

  async prune(graceMs?: number): Promise<number> {
    const grace = graceMs ?? this.o.pruneGraceMs ?? 60_000
    const nets = await this.docker.listNetworks({ filters: { label: [`${NET_LABEL.managed}=true`, `${NET_LABEL.meshlet}=${this.o.meshlet}`] } })
    let removed = 0
    for (const n of nets) {
      if (this.pending.has(n.Name) || Date.now() - (this.askedAt.get(n.Name) ?? 0) < grace) continue
      const info = await this.inspect(n.Name)
      if (!info || Object.keys(info.Containers ?? {}).length > 0) continue
      const bridge = info.Options?.['com.docker.network.bridge.name']
      try {
        await this.docker.getNetwork(info.Id).remove()
      } catch (err) {
        const code = (err as { statusCode?: number }).statusCode
        if (code !== 404 && code !== 403 && code !== 409) this.log.warn({ err: describeError(err), network: n.Name }, 'could not remove unused owner network')
        continue // in use again (403 "active endpoints"), or gone
      }
      if (this.firewall && bridge) await this.removeRules(bridge).catch((err) => this.log.warn({ err: describeError(err), bridge }, 'could not remove the rules of a removed network'))
      this.askedAt.delete(n.Name)
      this.readyAt.delete(n.Name)
      removed++
      this.log.info({ network: n.Name, owner: info.Labels?.[NET_LABEL.owner] }, 'unused owner network removed')
    }
    return removed
  }
}

/**
 * Removes meshlet's chains of this prefix and the jumps into them. Only for a prefix nobody else
 * uses (a test commune's own): the default chains are shared by every meshlet on the host.
 */
export async function removeFirewallChains(prefix: string, ipt = new Iptables()): Promise<void> {
  for (const [from, chain] of [['DOCKER-USER', `${prefix}-FILTER`], ['INPUT', `${prefix}-INPUT`]] as const) {
    for (let i = 0; i < 10 && (await ipt.run(['-D', from, '-j', chain])).ok; i++) {
      // a jump inserted twice (two peers racing at start) goes twice
    }
    await ipt.run(['-F', chain])
    await ipt.run(['-X', chain])
  }
}
