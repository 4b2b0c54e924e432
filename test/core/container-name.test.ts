// The container name is protocol (docs/protocol.md, Hashes and record keys): two peers must
// derive the same name, and a restarted meshlet must find its replicas under it.
import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { containerNameFor } from '../../src/core/container-name.js'

const URI = 'at://did:plc:owner/commune.scheduler.workload/3kabc'
const hash16 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 16)

describe('containerNameFor', () => {
  test('meshlet-<owner tail 12>-<16 hex of sha256(uri)>-r<replica>-<meshlet tail 8>', () => {
    const name = containerNameFor({ owner: 'did:plc:abcdefghijklmnop', workloadUri: URI, replica: 2, meshlet: 'did:plc:zyxwvutsrqpo' })
    expect(name).toBe(`meshlet-efghijklmnop-${hash16(URI)}-r2-vutsrqpo`)
  })

  test('a short DID keeps its whole method-specific id, without the method', () => {
    expect(containerNameFor({ owner: 'did:plc:ab', workloadUri: URI, replica: 0, meshlet: 'did:plc:cd' })).toBe(`meshlet-ab-${hash16(URI)}-r0-cd`)
  })

  test('did:web ids are lower-cased and reduced to [a-z0-9] before taking the tail', () => {
    // "Example.COM%3A8080" -> "examplecom3a8080" -> last 12 "plecom3a8080"; meshlet "Laptop-1.lan" -> "laptop1lan" -> last 8 "ptop1lan"
    const name = containerNameFor({ owner: 'did:web:Example.COM%3A8080', workloadUri: URI, replica: 1, meshlet: 'did:web:Laptop-1.lan' })
    expect(name).toBe(`meshlet-plecom3a8080-${hash16(URI)}-r1-ptop1lan`)
    expect(name).toMatch(/^[a-z0-9-]+$/)
  })

  test('an id with nothing Docker-safe left becomes "x" rather than an empty segment', () => {
    expect(containerNameFor({ owner: 'did:plc:___', workloadUri: URI, replica: 0, meshlet: 'did:plc:..' })).toBe(`meshlet-x-${hash16(URI)}-r0-x`)
  })

  test.each<[string, number]>([
    ['negative', -1],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['past 2^53', 2 ** 53],
  ])('a %s replica index is written "x"', (_what, replica) => {
    expect(containerNameFor({ owner: 'did:plc:ab', workloadUri: URI, replica, meshlet: 'did:plc:cd' })).toBe(`meshlet-ab-${hash16(URI)}-rx-cd`)
  })

  test('the uri hash keeps workloads apart; the meshlet tail keeps two meshlets on one engine apart', () => {
    const base = { owner: 'did:plc:ab', workloadUri: URI, replica: 0, meshlet: 'did:plc:cd' }
    const names = new Set([
      containerNameFor(base),
      containerNameFor({ ...base, workloadUri: `${URI}x` }),
      containerNameFor({ ...base, meshlet: 'did:plc:ce' }),
      containerNameFor({ ...base, replica: 1 }),
    ])
    expect(names.size).toBe(4)
  })
})
