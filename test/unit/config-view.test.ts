// --view-max-records / --view-max-mb (issue 16, scale): the view's bound is the operator's to raise,
// the flags' defaults are the core's, and a bound past the heap is said at start.
import { describe, expect, test } from 'vitest'
import { loadRunConfig } from '../../src/config.js'
import { settingsFromConfig, viewHeapProblem } from '../../src/context.js'
import { CommuneView, DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS } from '../../src/core/view.js'

const base = ['--did', 'did:plc:meshlet1', '--owner', 'did:plc:alice', '--password', 'pw', '--endpoint', 'https://m1.example']
const MiB = 1024 * 1024

describe('view bound flags', () => {
  test("the flags' defaults are the view's own defaults", () => {
    const s = settingsFromConfig(loadRunConfig(base, {}))
    expect(s.viewMaxRecords).toBe(DEFAULT_MAX_RECORDS)
    expect(s.viewMaxBytes).toBe(DEFAULT_MAX_BYTES)
    expect(new CommuneView({ maxRecords: s.viewMaxRecords, maxBytes: s.viewMaxBytes }).limits()).toEqual(new CommuneView().limits())
  })

  test('flag and env set them; MiB become bytes', () => {
    const s = settingsFromConfig(loadRunConfig([...base, '--view-max-records', '1000000'], { MESHLET_VIEW_MAX_MB: '2048' }))
    expect(s.viewMaxRecords).toBe(1_000_000)
    expect(s.viewMaxBytes).toBe(2048 * MiB)
  })

  test.each([
    [['--view-max-records', '999'], '--view-max-records (MESHLET_VIEW_MAX_RECORDS)'],
    [['--view-max-records', 'lots'], '--view-max-records (MESHLET_VIEW_MAX_RECORDS) must be a whole number'],
    [['--view-max-mb', '15'], '--view-max-mb (MESHLET_VIEW_MAX_MB)'],
    [['--view-max-mb', '0.5'], '--view-max-mb (MESHLET_VIEW_MAX_MB) must be a whole number'],
  ])('%j is refused with a line naming the flag', (args, message) => {
    expect(() => loadRunConfig([...base, ...args], {})).toThrow(message)
  })

  test('the smallest accepted bounds', () => {
    const s = settingsFromConfig(loadRunConfig([...base, '--view-max-records', '1000', '--view-max-mb', '16'], {}))
    expect([s.viewMaxRecords, s.viewMaxBytes]).toEqual([1000, 16 * MiB])
  })

  test('a bound over half the heap is said, with the fix; up to half is not', () => {
    expect(viewHeapProblem(512 * MiB, 1024 * MiB)).toBeUndefined()
    const said = viewHeapProblem(512 * MiB + 1, 1024 * MiB)
    expect(said).toMatch(/--view-max-mb 512 is more than half of this process's heap \(1024 MiB\)/)
    expect(said).toContain('--max-old-space-size=1025 ')
    expect(viewHeapProblem(700 * MiB, 1024 * MiB)).toContain('--max-old-space-size=1400 ')
    expect(viewHeapProblem(DEFAULT_MAX_BYTES, 4288 * MiB)).toBeUndefined()
  })
})
