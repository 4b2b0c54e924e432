import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { allocateHostPorts, endpointsFor, parsePortRange, portKey, portsProblem } from '../../src/core/host-ports.js'
import type { PortSpec } from '../../src/core/types.js'

const http: PortSpec = { name: 'http', containerPort: 80, protocol: 'tcp' }
const dns: PortSpec = { name: 'dns', containerPort: 53, protocol: 'udp' }
const range = { first: 24000, last: 24009 }

function ok(a: ReturnType<typeof allocateHostPorts>) {
  if (!a.ok) throw new Error(a.reason)
  return a.ports
}

describe('allocateHostPorts', () => {
  test('the same seed gets the same host port while it is free (a re-created replica keeps its URL)', () => {
    const p1 = ok(allocateHostPorts([http], new Set(), range, 'at://w1'))[0]!.hostPort
    const p2 = ok(allocateHostPorts([http], new Set(), range, 'at://w1'))[0]!.hostPort
    expect(p2).toBe(p1)
    expect(p1).toBeGreaterThanOrEqual(range.first)
    expect(p1).toBeLessThanOrEqual(range.last)
  })

  test('a used port is skipped to the next one up, wrapping at the end of the range', () => {
    const start = ok(allocateHostPorts([http], new Set(), range, 'seed'))[0]!.hostPort
    const next = ok(allocateHostPorts([http], new Set([portKey('tcp', start)]), range, 'seed'))[0]!.hostPort
    expect(next).toBe(start === range.last ? range.first : start + 1)
  })

  test('tcp and udp are separate spaces', () => {
    const all = new Set(Array.from({ length: 10 }, (_, i) => portKey('tcp', 24000 + i)))
    expect(allocateHostPorts([http], all, range, 's')).toEqual({ ok: false, reason: 'no free tcp host port left in 24000-24009 for port http' })
    expect(ok(allocateHostPorts([dns], all, range, 's'))).toHaveLength(1)
  })

  test('the last free port is found; one more fails with the reason', () => {
    const used = new Set(Array.from({ length: 9 }, (_, i) => portKey('tcp', 24000 + i)))
    expect(ok(allocateHostPorts([http], used, range, 'x'))[0]!.hostPort).toBe(24009)
    used.add(portKey('tcp', 24009))
    expect(allocateHostPorts([http], used, range, 'x').ok).toBe(false)
  })

  test('a one-port range', () => {
    expect(ok(allocateHostPorts([http], new Set(), { first: 30000, last: 30000 }, 'x'))[0]!.hostPort).toBe(30000)
    expect(allocateHostPorts([http, { ...http, name: 'b', containerPort: 81 }], new Set(), { first: 30000, last: 30000 }, 'x').ok).toBe(false)
  })

  test('invalid ranges are refused', () => {
    expect(allocateHostPorts([http], new Set(), { first: 0, last: 10 }, 'x').ok).toBe(false)
    expect(allocateHostPorts([http], new Set(), { first: 10, last: 65536 }, 'x').ok).toBe(false)
    expect(allocateHostPorts([http], new Set(), { first: 11, last: 10 }, 'x').ok).toBe(false)
  })

  test('property: never a used port, never one port twice, always inside the range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60000 }),
        fc.integer({ min: 0, max: 40 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.string(),
        (first, span, usedOffsets, n, seed) => {
          const r = { first, last: Math.min(65535, first + span) }
          const used = new Set(usedOffsets.map((o) => portKey('tcp', first + o)))
          const wanted = Array.from({ length: n }, (_, i) => ({ name: `p${i}`, containerPort: 1000 + i, protocol: 'tcp' as const }))
          const freeCount = Array.from({ length: r.last - r.first + 1 }, (_, i) => r.first + i).filter((p) => !used.has(portKey('tcp', p))).length
          const a = allocateHostPorts(wanted, used, r, seed)
          expect(a.ok).toBe(freeCount >= n)
          if (!a.ok) return
          const got = a.ports.map((p) => p.hostPort)
          expect(new Set(got).size).toBe(n)
          for (const p of got) {
            expect(used.has(portKey('tcp', p))).toBe(false)
            expect(p).toBeGreaterThanOrEqual(r.first)
            expect(p).toBeLessThanOrEqual(r.last)
          }
        },
      ),
    )
  })
})

describe('endpointsFor', () => {
  test('tcp as http, udp as udp, IPv6 in brackets', () => {
    const ports = [
      { ...http, hostPort: 24001 },
      { ...dns, hostPort: 24002 },
    ]
    expect(endpointsFor(ports, 'desk.example')).toEqual([
      { name: 'http', url: 'http://desk.example:24001' },
      { name: 'dns', url: 'udp://desk.example:24002' },
    ])
    expect(endpointsFor(ports.slice(0, 1), 'fd00::1')).toEqual([{ name: 'http', url: 'http://[fd00::1]:24001' }])
  })
})

describe('parsePortRange and portsProblem', () => {
  test('ranges', () => {
    expect(parsePortRange('24000-24999')).toEqual({ first: 24000, last: 24999 })
    expect(parsePortRange('1-65535')).toEqual({ first: 1, last: 65535 })
    expect(parsePortRange('0-10')).toBe('ports must be within 1-65535')
    expect(parsePortRange('10-65536')).toBe('ports must be within 1-65535')
    expect(parsePortRange('20-10')).toBe('the first port must not be above the last')
    expect(parsePortRange('80')).toBe('must be a range like 24000-24999')
  })

  test('names and duplicates', () => {
    expect(portsProblem([http, dns])).toBeUndefined()
    expect(portsProblem([http, { ...http, containerPort: 81 }])).toBe('ports[1].name "http" is used twice')
    expect(portsProblem([http, { ...http, name: 'alt' }])).toBe('ports[1]: tcp port 80 is published twice')
    expect(portsProblem([http, { ...http, name: 'alt', protocol: 'udp' }])).toBeUndefined()
    expect(portsProblem([{ ...http, name: 'Web' }])).toMatch(/^ports\[0\]\.name "Web" must be/)
    expect(portsProblem([{ ...http, name: '1web' }])).toMatch(/must be/)
    expect(portsProblem([{ ...http, name: 'a'.repeat(32) }])).toBeUndefined()
    expect(portsProblem([{ ...http, name: 'a'.repeat(33) }])).toMatch(/must be/)
    expect(portsProblem([{ ...http, containerPort: 0 }])).toBe('ports[0].containerPort must be 1-65535')
    expect(portsProblem([{ ...http, containerPort: 65536 }])).toBe('ports[0].containerPort must be 1-65535')
    expect(portsProblem([{ ...http, containerPort: 65535 }])).toBeUndefined()
  })
})

describe('boundaries (from mutation testing)', () => {
  test('the top port of the space and whole numbers only', () => {
    expect(ok(allocateHostPorts([http], new Set(), { first: 65535, last: 65535 }, 'x'))[0]!.hostPort).toBe(65535)
    expect(allocateHostPorts([http], new Set(), { first: 24000.5, last: 24010 }, 'x').ok).toBe(false)
    expect(allocateHostPorts([http], new Set(), { first: 24000, last: 24010.5 }, 'x')).toEqual({ ok: false, reason: 'invalid host port range 24000-24010.5' })
  })

  test('the start depends on the seed and on the port name (workloads spread over the range)', () => {
    const wide = { first: 20000, last: 29999 }
    const bySeed = new Set(Array.from({ length: 20 }, (_, i) => ok(allocateHostPorts([http], new Set(), wide, `at://w${i}`))[0]!.hostPort))
    const byName = new Set(Array.from({ length: 20 }, (_, i) => ok(allocateHostPorts([{ ...http, name: `p${i}` }], new Set(), wide, 'at://w'))[0]!.hostPort))
    expect(bySeed.size).toBeGreaterThan(10)
    expect(byName.size).toBeGreaterThan(10)
  })

  test('ranges: one port, spaces around, nothing else around', () => {
    expect(parsePortRange('24000-24000')).toEqual({ first: 24000, last: 24000 })
    expect(parsePortRange(' 24000-24999 ')).toEqual({ first: 24000, last: 24999 })
    expect(parsePortRange('x24000-24999')).toBe('must be a range like 24000-24999')
    expect(parsePortRange('24000-24999x')).toBe('must be a range like 24000-24999')
  })

  test('container port 1 is a port; a long bad name is clipped in the message; a bracketed IPv6 host stays as it is', () => {
    expect(portsProblem([{ ...http, containerPort: 1 }])).toBeUndefined()
    const msg = portsProblem([{ ...http, name: 'X'.repeat(100) }])!
    expect(msg).toContain(`"${'X'.repeat(40)}"`)
    expect(msg).not.toContain('X'.repeat(41))
    expect(endpointsFor([{ ...http, hostPort: 24001 }], '[fd00::1]')).toEqual([{ name: 'http', url: 'http://[fd00::1]:24001' }])
  })
})
