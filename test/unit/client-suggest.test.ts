import { describe, expect, test } from 'vitest'
import { editDistance, nearest } from '../../src/suggest.js'
import { unknownKeyWarnings } from '../../src/client/submit.js'

describe('nearest', () => {
  const flags = ['as', 'password', 'pds', 'plc', 'allow-http', 'meshlet', 'json', 'strict', 'tail']
  test.each([
    ['plcc', 'plc'],
    ['allow-htp', 'allow-http'],
    ['pasword', 'password'],
    ['mehslet', 'meshlet'],
    ['jsno', 'json'],
  ])('%s -> %s', (typo, want) => expect(nearest(typo, flags)).toBe(want))

  test.each([['frobnicate'], ['x'], ['verbose']])('%s has no suggestion', (word) => expect(nearest(word, flags)).toBeUndefined())

  test('a word that starts with a known key is a near miss (restartPolicy -> restart)', () => {
    expect(nearest('restartPolicy', ['name', 'image', 'restart', 'replicas'])).toBe('restart')
  })

  test('distance counts a swap of neighbours as one edit', () => {
    expect(editDistance('jsno', 'json')).toBe(1)
    expect(editDistance('abc', 'abc')).toBe(0)
    expect(editDistance('', 'abc')).toBe(3)
  })
})

describe('unknown workload keys', () => {
  const base = { $type: 'commune.scheduler.workload', name: 'w', image: 'i', replicas: 1, resources: { cpuMillis: 1, memoryMb: 6 }, createdAt: '2026-01-01T00:00:00Z' }
  test('a valid workload has none', () => expect(unknownKeyWarnings(base)).toEqual([]))
  test('top-level, nested and in lists, with the nearest known key', () => {
    const w = unknownKeyWarnings({ ...base, expose: [8080], restartPolicy: 'always', resources: { cpuMillis: 1, memoryMb: 6, memoryMB: 6 }, env: [{ name: 'A', value: 'b', vlaue: 'c' }] })
    expect(w).toHaveLength(4)
    const about = (p: string) => w.find((x) => x.startsWith(`unknown key ${p}:`))
    expect(about('expose')).toMatch(/^unknown key expose: \(known here: name, image, replicas, resources, command, env,/)
    expect(about('restartPolicy')).toMatch(/did you mean "restart"\?/)
    expect(about('resources.memoryMB')).toMatch(/did you mean "memoryMb"\? \(known here: cpuMillis, memoryMb, storageMb;/)
    expect(about('env[0].vlaue')).toMatch(/did you mean "value"\?/)
  })
})
