// The container boundary's pure parts (issue 17): ranges, the per-bridge rule block, what the engine
// contributes, the isolation a profile publishes and a workload may require, and the wire form.
import { describe, expect, test } from 'vitest'
import { DEFAULT_DENY_RANGES, inCidr, nameservers, parseCidr, parseIpv4 } from '../../src/adapters/host-net/cidr.js'
import { bridgeRules, isBridgeRule } from '../../src/adapters/host-net/rules.js'
import { engineSecurity } from '../../src/adapters/docker/engine-security.js'
import { createOptions } from '../../src/adapters/docker/container-spec.js'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { encodeProfile, encodeWorkload } from '../../src/core/encode.js'
import { isolationProblem, matchConstraints } from '../../src/core/constraints.js'
import { specHash } from '../../src/core/spec-hash.js'
import { NSID, type Isolation, type Profile } from '../../src/core/types.js'
import { loadRunConfig } from '../../src/config.js'
import { workload } from '../core/fixtures.js'

const FULL: Isolation = { network: 'owner-bridge', hostBlocked: true, lanBlocked: true, readOnlyRoot: true, userns: 'none', storage: 'watched' }

describe('ranges', () => {
  test.each([
    ['10.0.0.0/8', '10.255.255.53', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['172.16.0.0/12', '172.15.255.255', false],
    ['100.64.0.0/10', '100.127.0.1', true],
    ['100.64.0.0/10', '100.128.0.1', false],
    ['169.254.0.0/16', '169.254.169.254', true],
    ['198.18.0.0/15', '198.19.4.2', true],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['192.0.2.2/32', '192.0.2.2', true],
    ['192.0.2.2/32', '192.0.2.3', false],
  ])('%s holds %s: %s', (range, ip, want) => {
    const c = parseCidr(range)
    if (typeof c === 'string') throw new Error(c)
    expect(inCidr(parseIpv4(ip)!, c)).toBe(want)
  })

  test.each([
    ['10.0.0.1/8', /host bits set \(did you mean 10.0.0.0\/8\?\)/],
    ['10.0.0.0/33', /not an IPv4 range/],
    ['300.0.0.0/8', /not an IPv4 range/],
    ['fd00::/8', /not an IPv4 range/],
    ['', /not an IPv4 range/],
  ])('%s is refused', (range, why) => {
    expect(parseCidr(range)).toMatch(why)
  })

  test('the defaults are the LAN, CGNAT and link-local; nameservers come from resolv.conf', () => {
    expect([...DEFAULT_DENY_RANGES]).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16'])
    expect(nameservers('# x\nnameserver 10.255.255.53\nnameserver fd00::1\n  nameserver 1.1.1.1 \nsearch lan\n')).toEqual(['10.255.255.53', '1.1.1.1'])
  })

  test('config: deny ranges are validated; the defaults apply', () => {
    const base = ['--did', 'did:plc:a', '--owner', 'did:plc:b', '--password', 'x', '--endpoint', 'https://meshlet.example']
    expect(loadRunConfig(base, {}).denyRanges).toEqual([...DEFAULT_DENY_RANGES])
    expect(loadRunConfig([...base, '--deny-ranges', '198.18.0.0/15'], {}).denyRanges).toEqual(['198.18.0.0/15'])
    expect(() => loadRunConfig([...base, '--deny-ranges', '10.0.0.0/8,nope'], {})).toThrow(/--deny-ranges \(MESHLET_DENY_RANGES\) must be IPv4 ranges/)
    expect(() => loadRunConfig([...base, '--firewall-chain', 'DOCKER USER'], {})).toThrow(/--firewall-chain/)
    expect(loadRunConfig(base, {}).containerNofile).toBe(4096)
  })
})

describe('the rules of one bridge', () => {
  const rules = bridgeRules('mlbrabc', { chains: { forward: 'M-FILTER', input: 'M-INPUT' }, denyRanges: ['10.0.0.0/8', '198.18.0.0/15'], dnsServers: ['10.255.255.53'] })
  const text = rules.map((r) => r.join(' '))

  test('same-bridge and replies first, DNS to the resolver before the ranges, then refusals; the host refused on INPUT', () => {
    expect(text).toEqual([
      'M-FILTER -i mlbrabc -o mlbrabc -j RETURN',
      'M-FILTER -i mlbrabc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      'M-FILTER -i mlbrabc -m conntrack --ctstate DNAT -j REJECT --reject-with icmp-admin-prohibited',
      'M-FILTER -i mlbrabc -d 10.255.255.53/32 -p udp --dport 53 -j RETURN',
      'M-FILTER -i mlbrabc -d 10.255.255.53/32 -p tcp --dport 53 -j RETURN',
      'M-FILTER -i mlbrabc -d 10.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited',
      'M-FILTER -i mlbrabc -d 198.18.0.0/15 -j REJECT --reject-with icmp-admin-prohibited',
      'M-FILTER -o mlbrabc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      'M-FILTER -o mlbrabc -j DROP',
      'M-INPUT -i mlbrabc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      'M-INPUT -i mlbrabc -j REJECT --reject-with icmp-admin-prohibited',
    ])
  })

  test('with published ports: DNAT from anywhere but a meshlet bridge may enter, just before the DROP', () => {
    const withPorts = bridgeRules('mlbrabc', { chains: { forward: 'M-FILTER', input: 'M-INPUT' }, denyRanges: ['10.0.0.0/8'], dnsServers: [], meshletBridges: 'mlbr+' }).map((r) => r.join(' '))
    const drop = withPorts.indexOf('M-FILTER -o mlbrabc -j DROP')
    expect(withPorts[drop - 1]).toBe('M-FILTER ! -i mlbr+ -o mlbrabc -m conntrack --ctstate DNAT -j RETURN')
    // containers of any meshlet bridge, this one included, still meet the DNAT refusal first
    expect(withPorts.indexOf('M-FILTER -i mlbrabc -m conntrack --ctstate DNAT -j REJECT --reject-with icmp-admin-prohibited')).toBeLessThan(drop - 1)
    expect(withPorts).toHaveLength(9)
  })

  test('a listed rule belongs to its bridge only (not to one whose name merely starts the same)', () => {
    expect(isBridgeRule('-A M-FILTER -d 10.0.0.0/8 -i mlbrabc -j REJECT', 'mlbrabc')).toBe(true)
    expect(isBridgeRule('-A M-FILTER -o mlbrabc -j DROP', 'mlbrabc')).toBe(true)
    expect(isBridgeRule('-A M-FILTER -i mlbrabcd -j DROP', 'mlbrabc')).toBe(false)
    expect(isBridgeRule('-A M-FILTER -j RETURN', 'mlbrabc')).toBe(false)
  })
})

describe('engine security', () => {
  test.each([
    [{ SecurityOptions: ['name=seccomp,profile=default'], Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']] }, { userns: 'none', storageQuota: false, storageDriver: 'overlay2 on extfs' }],
    [{ SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'], Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'xfs']] }, { userns: 'rootless', storageQuota: true, storageDriver: 'overlay2 on xfs' }],
    [{ SecurityOptions: ['name=userns'], Driver: 'btrfs' }, { userns: 'userns-remap', storageQuota: false, storageDriver: 'btrfs on unknown' }],
    [{}, { userns: 'none', storageQuota: false, storageDriver: 'unknown on unknown' }],
  ])('%j', (info, want) => {
    expect(engineSecurity(info)).toEqual(want)
  })
})

describe('create options', () => {
  const spec = { name: 'x', image: 'i', env: [], cpuMillis: 100, memoryMb: 32, pidsLimit: 8, labels: { workloadUri: 'u', workloadCid: 'c', specHash: 'h', meshletDid: 'd', replica: 0 } }
  test('read-only root with bounded tmpfs, ulimits, the owner network; none and writable on request', () => {
    const h = createOptions({ ...spec, owner: 'did:plc:o' }, 'i', { hostCpus: 2, stopTimeoutS: 1, networkMode: 'meshlet-net-x', hardening: { nofile: 100, nproc: 200, tmpMb: 10 } }).HostConfig!
    expect(h.NetworkMode).toBe('meshlet-net-x')
    expect(h.ReadonlyRootfs).toBe(true)
    expect(h.Tmpfs).toEqual({ '/tmp': 'rw,nosuid,nodev,size=10m', '/run': 'rw,nosuid,nodev,size=5m' })
    expect(h.Ulimits).toEqual([{ Name: 'nofile', Soft: 100, Hard: 100 }, { Name: 'nproc', Soft: 200, Hard: 200 }])
    const none = createOptions({ ...spec, network: 'none', writableRoot: true }, 'i', { hostCpus: 2, stopTimeoutS: 1, networkMode: 'meshlet-net-x' }).HostConfig!
    expect(none.NetworkMode).toBe('none')
    expect(none.ReadonlyRootfs).toBe(false)
    expect(none.Tmpfs).toBeUndefined()
  })
})

describe('isolation in the profile, required by a workload', () => {
  const profile = (isolation?: Isolation): Profile => ({ meshlet: 'did:plc:m', endpoint: 'http://127.0.0.1:1', roles: [], labels: [], capabilities: [], cpuMillis: 1000, memoryMb: 1000, updatedAt: '2026-01-01T00:00:00.000Z', ...(isolation ? { isolation } : {}) })
  const cand = (isolation?: Isolation) => ({ meshlet: 'did:plc:m', owner: 'did:plc:owner', profile: profile(isolation) })

  test.each<[string, Isolation | undefined, string | undefined]>([
    ['all enforced', FULL, undefined],
    ['no promise', undefined, 'its profile promises none'],
    ['host open', { ...FULL, hostBlocked: false }, 'the host is reachable'],
    ['LAN open', { ...FULL, lanBlocked: false }, 'the LAN is reachable'],
    ['shared bridge', { ...FULL, network: 'shared-bridge' }, 'network is shared-bridge, not owner-bridge'],
    ['no rights, with the reason', { ...FULL, hostBlocked: false, lanBlocked: false, note: 'no CAP_NET_ADMIN' }, 'the host is reachable, the LAN is reachable (no CAP_NET_ADMIN)'],
  ])('%s', (_n, iso, gap) => {
    expect(isolationProblem(iso)).toBe(gap)
    const w = workload({ requires: { isolation: true } })
    expect(matchConstraints(w, cand(iso))).toBe(gap === undefined ? undefined : `requires isolation, which this meshlet cannot enforce: ${gap}`)
    // Without the requirement any meshlet will do.
    expect(matchConstraints(workload(), cand(iso))).toBeUndefined()
  })

  test('the profile carries it over the wire, and unknown words read as the weaker known ones', () => {
    const rec = encodeProfile({ ...profile({ ...FULL, note: 'n' }) })
    const back = decodeRecord({ did: 'did:plc:m', collection: NSID.profile, rkey: 'self', cid: 'bafyp', value: rec })
    expect(back).toMatchObject({ op: 'put', record: { value: { isolation: { ...FULL, note: 'n' } } } })
    const newer = decodeRecord({ did: 'did:plc:m', collection: NSID.profile, rkey: 'self', cid: 'bafyp', value: { ...rec, isolation: { ...FULL, network: 'microvm', userns: 'gvisor', storage: 'zfs' } } })
    expect(newer).toMatchObject({ op: 'put', record: { value: { isolation: { ...FULL, network: 'shared-bridge', userns: 'none', storage: 'watched' } } } })
  })

  test('workload fields: defaults stay off the wire and out of the spec hash; none, writableRoot and requires go through', () => {
    const plain = workload()
    const { uri: _u, cid: _c, owner: _o, rkey: _r, ...input } = plain
    expect(Object.keys(encodeWorkload(input))).not.toContain('network')
    const full = { ...input, network: 'none' as const, writableRoot: true, requires: { isolation: true } }
    const rec = encodeWorkload(full)
    expect(rec).toMatchObject({ network: 'none', writableRoot: true, requires: { isolation: true } })
    const back = decodeRecord({ did: 'did:plc:ownerownerownerownerowne', collection: NSID.workload, rkey: '3jzfcijpj2z2a', cid: 'bafyw', value: rec })
    expect(back).toMatchObject({ op: 'put', record: { value: { network: 'none', writableRoot: true, requires: { isolation: true } } } })
    expect(specHash(workload({ network: 'owner' }))).toBe(specHash(plain))
    expect(specHash(workload({ network: 'none' }))).not.toBe(specHash(plain))
    expect(specHash(workload({ writableRoot: true }))).not.toBe(specHash(plain))
  })
})
