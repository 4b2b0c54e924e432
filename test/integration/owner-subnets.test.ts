// Owner networks on the real engine, past the engine's default address pools (about 30 networks):
// a meshlet with more owners than that still gets a network for each, every one on its own /24,
// none overlapping any other network of the engine. And when another creator takes the subnet
// between the listing and the create, the engine's refusal sends the create to the next one.
import type Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { OwnerNetworks } from '../../src/adapters/host-net/owner-networks.js'
import { Iptables } from '../../src/adapters/host-net/iptables.js'
import { overlaps, parseCidr, type Cidr } from '../../src/adapters/host-net/cidr.js'
import { ensureDocker, randomMeshletDid, testDocker } from '../helpers/docker.js'
import { removeMeshletNetworks, tag } from '../helpers/host-net.js'

const docker = testDocker()
const T = tag(4)
const meshlet = randomMeshletDid()
const racerMeshlet = randomMeshletDid()
const racers: string[] = []

function cidr(s: string): Cidr {
  const c = parseCidr(s)
  if (typeof c === 'string') throw new Error(c)
  return c
}

async function subnetsOf(prefix?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const n of await docker.listNetworks()) {
    if (prefix && !n.Name.startsWith(prefix)) continue
    for (const c of n.IPAM?.Config ?? []) if (c.Subnet && !c.Subnet.includes(':')) out.set(n.Name, c.Subnet)
  }
  return out
}

beforeAll(async () => {
  await ensureDocker(docker)
})

afterAll(async () => {
  await removeMeshletNetworks(docker, meshlet)
  await removeMeshletNetworks(docker, racerMeshlet)
  for (const r of racers) await docker.getNetwork(r).remove().catch(() => {})
})

describe('owner networks beyond the engine default pools', () => {
  test('40 owners get 40 networks, each on its own /24 of the pool, clear of every other network', async () => {
    const prefix = `os-${T}-`
    const nets = new OwnerNetworks({ docker, meshlet, networkPrefix: prefix, bridgePrefix: `os${T.slice(0, 3)}`, iptables: new Iptables('/nonexistent/iptables') })
    const owners = Array.from({ length: 40 }, () => randomMeshletDid())
    const names: string[] = []
    // Eight at a time, as a burst of starts for different owners would ask.
    for (let i = 0; i < owners.length; i += 8) names.push(...(await Promise.all(owners.slice(i, i + 8).map((o) => nets.networkFor(o)))))
    expect(new Set(names).size).toBe(40)

    const all = await subnetsOf()
    const mine = [...all].filter(([n]) => n.startsWith(prefix))
    expect(mine).toHaveLength(40)
    const pool = cidr('172.16.0.0/12')
    for (const [name, s] of mine) {
      const c = cidr(s)
      expect(c.bits, name).toBe(24)
      expect(overlaps(c, pool), `${name} ${s}`).toBe(true)
      for (const [other, o] of all) if (other !== name) expect(overlaps(c, cidr(o)), `${name} ${s} vs ${other} ${o}`).toBe(false)
    }
    expect(await nets.removeAll()).toBe(40)
    expect(await subnetsOf(prefix)).toEqual(new Map())
  }, 120_000)

  test('a subnet taken between the listing and the create: the next one is used', async () => {
    // A pool of two /24s in 172.16.0.0/16 (outside the engine's own default pools), free right now.
    const used = [...(await subnetsOf()).values()].map(cidr)
    let pool: Cidr | undefined
    for (let k = 1 + Math.floor(Math.random() * 120); k < 255 && !pool; k += 2) {
      const c = cidr(`172.16.${k - (k % 2)}.0/23`)
      if (!used.some((u) => overlaps(u, c))) pool = c
    }
    expect(pool).toBeDefined()
    // The racer: a proxy of the real engine that, on the first create, lets another network take
    // the very subnet asked for, just before the request arrives.
    const racer = `os-${T}-racer`
    racers.push(racer)
    let raced: string | undefined
    const racing = new Proxy(docker, {
      get(target, prop, recv) {
        if (prop !== 'createNetwork') return Reflect.get(target, prop, recv)
        return async (opts: Docker.NetworkCreateOptions) => {
          const want = opts.IPAM?.Config?.[0]?.Subnet
          if (!raced && want) {
            raced = want
            await target.createNetwork({ Name: racer, Driver: 'bridge', IPAM: { Driver: 'default', Config: [{ Subnet: want }] } })
          }
          return target.createNetwork(opts)
        }
      },
    })
    const nets = new OwnerNetworks({ docker: racing, meshlet: racerMeshlet, networkPrefix: `os-${T}r-`, bridgePrefix: `or${T.slice(0, 3)}`, subnetPool: [pool!.text], iptables: new Iptables('/nonexistent/iptables') })
    const name = await nets.networkFor(randomMeshletDid())
    const got = (await subnetsOf()).get(name)
    expect(raced).toBeDefined()
    expect(got).toBeDefined()
    expect(got).not.toBe(raced)
    expect(overlaps(cidr(got!), pool!)).toBe(true)

    // With both /24s taken, the next owner is told why, not handed the engine's 404.
    await expect(nets.networkFor(randomMeshletDid())).rejects.toThrow(/no free \/24 left in the owner network pool/)
  }, 60_000)
})
