// Services options (issue 12): where published ports go, checked at start with one readable line.
import { describe, expect, test } from 'vitest'
import { loadRunConfig } from '../../src/config.js'
import { advertisedHost } from '../../src/peer/advertise.js'

const base = ['--did', 'did:plc:meshlet1', '--owner', 'did:plc:alice', '--password', 'pw', '--endpoint', 'https://m1.example']

describe('publish options', () => {
  test('dev defaults: loopback, 24000-24999; no advertised address (the endpoint host is used)', () => {
    const cfg = loadRunConfig(base, {})
    expect(cfg.publishAddress).toBe('127.0.0.1')
    expect(cfg.publishPorts).toEqual({ first: 24000, last: 24999 })
    expect(cfg.advertiseAddress).toBeUndefined()
  })

  test('flags and env', () => {
    const cfg = loadRunConfig([...base, '--publish-address', '0.0.0.0', '--advertise-address', 'desk.alice.example'], { MESHLET_PUBLISH_PORTS: '30000-30010' })
    expect(cfg.publishAddress).toBe('0.0.0.0')
    expect(cfg.publishPorts).toEqual({ first: 30000, last: 30010 })
    expect(cfg.advertiseAddress).toBe('desk.alice.example')
  })

  test('bad values fail with the flag and the reason', () => {
    expect(() => loadRunConfig([...base, '--publish-ports', '30010-30000'], {})).toThrow('--publish-ports (MESHLET_PUBLISH_PORTS) the first port must not be above the last')
    expect(() => loadRunConfig([...base, '--publish-ports', '0-10'], {})).toThrow('ports must be within 1-65535')
    expect(() => loadRunConfig([...base, '--publish-address', 'desk.example'], {})).toThrow('--publish-address (MESHLET_PUBLISH_ADDRESS) must be an IP address')
    expect(() => loadRunConfig([...base, '--advertise-address', 'http://x'], {})).toThrow('--advertise-address (MESHLET_ADVERTISE_ADDRESS) must be a host name or IP address')
  })

  test('the advertised host: the configured one, else the endpoint host', () => {
    expect(advertisedHost('vpn.example', 'https://m1.example')).toBe('vpn.example')
    expect(advertisedHost(undefined, 'https://m1.example:8443/x')).toBe('m1.example')
    expect(advertisedHost(undefined, 'http://[fd00::1]:2590')).toBe('fd00::1')
    expect(advertisedHost(undefined, '')).toBe('')
  })
})
