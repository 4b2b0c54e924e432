import { describe, expect, it } from 'vitest'
import { overlaps, parseCidr, pickSubnet, routedRanges, type Cidr } from '../../src/adapters/host-net/cidr.js'

const c = (s: string): Cidr => {
  const r = parseCidr(s)
  if (typeof r === 'string') throw new Error(r)
  return r
}

describe('owner network subnets', () => {
  it('overlap is symmetric and respects the larger range', () => {
    expect(overlaps(c('172.16.0.0/12'), c('172.17.5.0/24'))).toBe(true)
    expect(overlaps(c('172.17.5.0/24'), c('172.16.0.0/12'))).toBe(true)
    expect(overlaps(c('172.17.5.0/24'), c('172.17.6.0/24'))).toBe(false)
    expect(overlaps(c('172.32.0.0/24'), c('172.16.0.0/12'))).toBe(false)
  })

  it('a /16 pool gives 256 distinct /24s, then none', () => {
    const pool = [c('172.20.0.0/16')]
    const taken: Cidr[] = []
    for (let i = 0; i < 256; i++) {
      const s = pickSubnet(pool, 24, taken, 12345)
      expect(s).toBeDefined()
      expect(s!.bits).toBe(24)
      expect(overlaps(s!, pool[0]!)).toBe(true)
      taken.push(s!)
    }
    expect(new Set(taken.map((t) => t.text)).size).toBe(256)
    expect(pickSubnet(pool, 24, taken, 0)).toBeUndefined()
  })

  it('starts at the given slot, wraps, and skips what the engine and the routes hold', () => {
    const pool = [c('172.16.0.0/12')]
    expect(pickSubnet(pool, 24, [], 0)!.text).toBe('172.16.0.0/24')
    expect(pickSubnet(pool, 24, [], 257)!.text).toBe('172.17.1.0/24')
    expect(pickSubnet(pool, 24, [], 4096 + 3)!.text).toBe('172.16.3.0/24')
    // docker0 holds 172.17.0.0/16: a start inside it moves past the whole /16
    expect(pickSubnet(pool, 24, [c('172.17.0.0/16')], 256)!.text).toBe('172.18.0.0/24')
    // the last slot taken wraps to the first
    expect(pickSubnet(pool, 24, [c('172.31.255.0/24')], 4095)!.text).toBe('172.16.0.0/24')
  })

  it('walks several pools in order', () => {
    const pool = [c('10.99.0.0/23'), c('192.168.7.0/24')]
    expect(pickSubnet(pool, 24, [], 2)!.text).toBe('192.168.7.0/24')
    expect(pickSubnet(pool, 24, [c('192.168.7.0/24')], 2)!.text).toBe('10.99.0.0/24')
    expect(pickSubnet([c('10.99.0.0/25')], 24, [], 0)).toBeUndefined()
  })

  it('reads the host routes, leaving the default route out', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'br1\t00F0A8C0\t00000000\t0001\t0\t0\t0\t00F0FFFF\t0\t0\t0',
      'lo\t0100007F\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
      'garbage line',
    ].join('\n')
    expect(routedRanges(text).map((r) => r.text)).toEqual(['172.17.0.0/16', '192.0.2.0/24', '192.168.240.0/20', '127.0.0.1/32'])
  })
})
