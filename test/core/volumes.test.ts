import { describe, expect, test } from 'vitest'
import { heldVolumesList, preferHolders, volumeHolders, volumeName, volumesProblem } from '../../src/core/volumes.js'
import { resolvePlacement } from '../../src/core/placement.js'
import { decideWorkload, splitGraceMs } from '../../src/core/decide.js'
import type { Profile } from '../../src/core/types.js'
import { W_URI, bid, eligibleOf, status, workload } from './fixtures.js'

function profile(meshlet: string, volumes?: Profile['volumes']): Profile {
  return { meshlet, endpoint: 'https://m.example', roles: [], labels: [], capabilities: [], cpuMillis: 1000, memoryMb: 1024, updatedAt: '2025-01-01T00:00:00.000Z', ...(volumes ? { volumes } : {}) }
}

const withData = workload({ volumes: [{ name: 'data', target: '/data' }] })
const all = eligibleOf('did:a', 'did:b', 'did:c')
const ids = (xs: { meshlet: string }[]) => xs.map((x) => x.meshlet)

describe('volumeName', () => {
  test('scoped by meshlet, owner, record key and name: change any one and the name changes', () => {
    const base = volumeName('did:m', 'did:o', '3k1', 'data')
    expect(base).toMatch(/^mlv-[0-9a-f]{32}$/)
    expect(volumeName('did:m', 'did:o', '3k1', 'data')).toBe(base)
    for (const other of [volumeName('did:m2', 'did:o', '3k1', 'data'), volumeName('did:m', 'did:o2', '3k1', 'data'), volumeName('did:m', 'did:o', '3k2', 'data'), volumeName('did:m', 'did:o', '3k1', 'data2')]) {
      expect(other).not.toBe(base)
    }
  })
})

describe('volumeHolders', () => {
  test('only meshlets whose profile lists a volume of this workload under a declared name', () => {
    const profiles = [
      profile('did:a', [{ workload: W_URI, name: 'data' }]),
      profile('did:b', [{ workload: W_URI, name: 'other' }]),
      profile('did:c', [{ workload: `${W_URI}x`, name: 'data' }]),
      profile('did:d'),
    ]
    expect([...volumeHolders(withData, profiles)]).toEqual(['did:a'])
    expect([...volumeHolders(workload(), profiles)]).toEqual([])
  })
})

describe('placement prefers the volume holder', () => {
  test('a holder with a lower priority is next ahead of a higher bid; without holders rank decides', () => {
    const bids = [bid('did:a', 10), bid('did:b', 50), bid('did:c', 30)]
    expect(ids(resolvePlacement(withData, bids, [], all).next)).toEqual(['did:b'])
    expect(ids(resolvePlacement(withData, bids, [], all, undefined, undefined, new Set(['did:a'])).next)).toEqual(['did:a'])
    // Two holders keep their rank order between themselves, ahead of the rest.
    expect(ids(resolvePlacement({ ...withData, replicas: 3 }, bids, [], all, undefined, undefined, new Set(['did:a', 'did:c'])).next)).toEqual(['did:c', 'did:a', 'did:b'])
  })

  test('a holder that declined (or did not bid) is not placed: the next best bid is', () => {
    const bids = [bid('did:b', 50), bid('did:c', 30)]
    expect(ids(resolvePlacement(withData, bids, [], all, undefined, undefined, new Set(['did:a'])).next)).toEqual(['did:b'])
  })

  test('a kept claim is not moved to the holder (no needless moves)', () => {
    const bids = [bid('did:a', 10), bid('did:b', 50)]
    const p = resolvePlacement(withData, bids, [status('did:b', 'running', { priority: 50 })], all, undefined, undefined, new Set(['did:a']))
    expect(ids(p.kept)).toEqual(['did:b'])
    expect(p.next).toEqual([])
  })

  test('preferHolders keeps both groups in order and copies the input', () => {
    const ordered = [bid('did:a', 3), bid('did:b', 2), bid('did:c', 1)]
    expect(ids(preferHolders(ordered, new Set(['did:c', 'did:b'])))).toEqual(['did:b', 'did:c', 'did:a'])
    expect(ids(preferHolders(ordered, undefined))).toEqual(['did:a', 'did:b', 'did:c'])
    expect(preferHolders(ordered, new Set())).not.toBe(ordered)
  })
})

describe('heldVolumesList', () => {
  test('deduplicated, sorted, bounded', () => {
    const list = heldVolumesList([
      { workload: 'at://b', name: 'x' },
      { workload: 'at://a', name: 'y' },
      { workload: 'at://b', name: 'x' },
    ])
    expect(list).toEqual([
      { workload: 'at://a', name: 'y' },
      { workload: 'at://b', name: 'x' },
    ])
    expect(heldVolumesList(list, 1)).toEqual([{ workload: 'at://a', name: 'y' }])
  })
})

describe('volumesProblem', () => {
  test('names, targets, duplicates', () => {
    expect(volumesProblem([{ name: 'data', target: '/data' }, { name: 'cache_1', target: '/var/cache/app', readOnly: true }])).toBeUndefined()
    expect(volumesProblem([{ name: 'data', target: '/a' }, { name: 'data', target: '/b' }])).toBe('volumes[1].name "data" is used twice')
    expect(volumesProblem([{ name: 'a', target: '/d' }, { name: 'b', target: '/d' }])).toBe('volumes[1].target /d is mounted twice')
    for (const target of ['data', '/', '/a/../etc', '/a/./b', '/a:/b', '/a/', '//a']) {
      expect(volumesProblem([{ name: 'v', target }]), target).toMatch(/must be an absolute path/)
    }
    for (const name of ['Data', '-x', 'a.b', 'a'.repeat(49)]) expect(volumesProblem([{ name, target: '/d' }]), name).toMatch(/must be a-z/)
    expect(volumesProblem([{ name: 'a'.repeat(48), target: '/d' }])).toBeUndefined()
  })
})

describe('boundaries (from mutation testing)', () => {
  test('a profile holding this and other workloads still counts as a holder', () => {
    const p = profile('did:a', [{ workload: `${W_URI}x`, name: 'data' }, { workload: W_URI, name: 'data' }])
    expect([...volumeHolders(withData, [p])]).toEqual(['did:a'])
  })

  test('the held list is sorted whatever the input order', () => {
    const list = heldVolumesList([
      { workload: 'at://c', name: 'x' },
      { workload: 'at://a', name: 'x' },
      { workload: 'at://b', name: 'x' },
      { workload: 'at://a', name: 'w' },
    ])
    expect(list.map((h) => `${h.workload}|${h.name}`)).toEqual(['at://a|w', 'at://a|x', 'at://b|x', 'at://c|x'])
  })

  test('a long bad volume name is clipped in the message', () => {
    const msg = volumesProblem([{ name: 'X'.repeat(100), target: '/d' }])!
    expect(msg).toContain(`"${'X'.repeat(60)}"`)
    expect(msg).not.toContain('X'.repeat(61))
  })
})

describe('a candidate waits for the volume holder’s offer before it claims', () => {
  // A loaded network: the holder's bid lands after the others' windows closed. Claiming meanwhile
  // would move the data for nothing (a kept claim is never moved), so the others wait a grace.
  const T0 = 1_000_000
  const w = workload({ bidWindowMs: 1000, volumes: [{ name: 'data', target: '/data' }] })
  const elig = eligibleOf('did:plc:holder', 'did:plc:other')
  const decide = (bids: ReturnType<typeof bid>[], now: number, self = 'did:plc:other') =>
    decideWorkload({ workload: w, bids, statuses: [], eligible: elig, electorate: elig, firstSeenAt: T0, now, self: { meshlet: self, owner: 'o', draining: false, recovering: false }, offer: { kind: 'bid', priority: 900, capacity: { cpuMillisFree: 4000, memoryMbFree: 4000 } }, preferred: new Set(['did:plc:holder']) })
  const grace = splitGraceMs(w)

  test('the holder has not offered yet: no claim, and a wake-up at the end of the grace', () => {
    const d = decide([bid('did:plc:other', 900)], T0 + 1500)
    expect(d.actions.filter((a) => a.type === 'claim')).toEqual([])
    expect(d.wakeAt).toBe(T0 + 1000 + grace)
  })
  test('once the holder offered, it takes the slot and the other does not claim', () => {
    const bids = [bid('did:plc:other', 900), bid('did:plc:holder', 100)]
    expect(decide(bids, T0 + 1500).actions.filter((a) => a.type === 'claim')).toEqual([])
    expect(decide(bids, T0 + 1500, 'did:plc:holder').actions.filter((a) => a.type === 'claim')).toHaveLength(1)
  })
  test('a holder that never offers holds nothing up past the grace', () => {
    expect(decide([bid('did:plc:other', 900)], T0 + 1000 + grace).actions.filter((a) => a.type === 'claim')).toHaveLength(1)
  })
})
