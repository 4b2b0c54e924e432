import { describe, expect, test } from 'vitest'
import { guestImageRefusal, localAddressKind, registryListed, registryOf, resolvedRegistryRefusal } from '../../src/core/registry-policy.js'

const none = { allow: [], deny: [], sharedImages: [] }

describe('registry policy for guests', () => {
  test('registry of a reference: its domain, else docker.io', () => {
    expect(registryOf('busybox')).toBe('docker.io')
    expect(registryOf('meshlet/busybox:test')).toBe('docker.io')
    expect(registryOf('127.0.0.1:5000/a/b:1')).toBe('127.0.0.1:5000')
    expect(registryOf('ghcr.io/x/y@sha256:' + 'a'.repeat(64))).toBe('ghcr.io')
    expect(registryOf('BAD REF')).toBeUndefined()
  })
  test.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['10.0.0.1', 'a private (LAN) address'],
    ['172.16.0.1', 'a private (LAN) address'],
    ['172.31.255.255', 'a private (LAN) address'],
    ['192.168.1.1', 'a private (LAN) address'],
    ['169.254.169.254', 'a link-local address'],
    ['100.64.0.1', 'a shared (CGNAT) address'],
    ['198.18.0.1', 'a benchmarking (198.18.0.0/15) address'],
    ['0.0.0.0', 'an unspecified address'],
    ['::1', 'a loopback address'],
    ['fd00::1', 'a private (ULA) address'],
    ['fe80::1', 'a link-local address'],
    ['::ffff:10.1.2.3', 'a private (LAN) address'],
    ['localhost', 'a loopback name'],
    ['registry', 'a name only local DNS resolves'],
    ['nas.local', 'a local network name'],
    ['reg.home.arpa', 'a local network name'],
  ])('%s is %s', (host, kind) => {
    expect(localAddressKind(host)).toBe(kind)
  })
  test.each(['172.15.0.1', '172.32.0.1', '100.128.0.1', '198.20.0.1', '8.8.8.8', 'ghcr.io', '2001:db8::1', '11.0.0.1', '192.169.0.1'])('%s is public', (host) => {
    expect(localAddressKind(host)).toBeUndefined()
  })
  test('loopback and LAN registries are refused for guests by default, with the reason and the way out', () => {
    expect(guestImageRefusal('127.0.0.1:5000/meshlet/busybox:test', none)).toBe(
      "image registry 127.0.0.1:5000 is a loopback address: this meshlet does not pull guests' images from loopback, private or link-local registries (its owner may allow one with --registry-allow)",
    )
    expect(guestImageRefusal('[::1]:5000/x:1', none)).toMatch(/loopback/)
    expect(guestImageRefusal('ghcr.io/team/app:1', none)).toBeUndefined()
    expect(guestImageRefusal('busybox', none)).toBeUndefined()
  })
  test('allow names a registry (host = any port, host:port = that port); deny refuses any registry', () => {
    expect(guestImageRefusal('127.0.0.1:5000/x:1', { ...none, allow: ['127.0.0.1:5000'] })).toBeUndefined()
    expect(guestImageRefusal('127.0.0.1:5001/x:1', { ...none, allow: ['127.0.0.1:5000'] })).toMatch(/loopback/)
    expect(guestImageRefusal('127.0.0.1:5001/x:1', { ...none, allow: ['127.0.0.1'] })).toBeUndefined()
    expect(guestImageRefusal('busybox', { ...none, deny: ['docker.io'] })).toBe("image registry docker.io is on this meshlet's deny list for guests' images")
    expect(guestImageRefusal('127.0.0.1:5000/x:1', { ...none, allow: ['127.0.0.1:5000'], deny: ['127.0.0.1'] })).toMatch(/deny list/)
    expect(registryListed('GHCR.io', ['ghcr.io'])).toBe(true)
  })
  test('a shared image is never refused (it is not pulled)', () => {
    expect(guestImageRefusal('127.0.0.1:5000/x:1', { ...none, sharedImages: ['127.0.0.1:5000/x:1'] })).toBeUndefined()
  })
  test('a public name that resolves to a local address is refused unless allowed', () => {
    expect(resolvedRegistryRefusal('reg.example.com', ['93.184.216.34', '10.0.0.5'], none)).toBe(
      "image registry reg.example.com resolves to 10.0.0.5, a private (LAN) address: this meshlet does not pull guests' images from loopback, private or link-local registries (its owner may allow one with --registry-allow)",
    )
    expect(resolvedRegistryRefusal('reg.example.com', ['93.184.216.34'], none)).toBeUndefined()
    expect(resolvedRegistryRefusal('reg.example.com', ['10.0.0.5'], { ...none, allow: ['reg.example.com'] })).toBeUndefined()
  })
})
