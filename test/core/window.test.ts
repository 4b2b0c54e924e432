import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { describeWindow, inWindow, localMinutes, nextWindowChange, parseHours, windowProblem } from '../../src/core/window.js'

const at = (iso: string): number => Date.parse(iso)

describe('window hours', () => {
  test('parse: HH:MM-HH:MM, 24:00 only as an end', () => {
    expect(parseHours('22:00-07:00')).toEqual({ start: 1320, end: 420 })
    expect(parseHours('00:00-24:00')).toEqual({ start: 0, end: 0 })
    expect(parseHours('09:30-17:45')).toEqual({ start: 570, end: 1065 })
    for (const bad of ['22-07', '24:00-01:00', '7:00-8:00', '10:60-11:00', '10:00-24:01', '10:00 - 11:00', '']) expect(parseHours(bad)).toBeUndefined()
  })
  test('problems say what is wrong', () => {
    expect(windowProblem({ hours: '22:00-07:00', tz: 'Europe/Berlin' })).toBeUndefined()
    expect(windowProblem({ hours: '22:00-07:00' })).toBeUndefined()
    expect(windowProblem({ hours: '22-7' })).toMatch(/not HH:MM-HH:MM/)
    expect(windowProblem({ hours: '22:00-07:00', tz: 'Mars/Olympus' })).toMatch(/"Mars\/Olympus" is not an IANA time zone/)
    expect(inWindow({ hours: '22:00-07:00', tz: 'Mars/Olympus' }, at('2026-01-01T23:00:00Z'))).toBe(false)
    expect(describeWindow({ hours: '22:00-07:00' })).toBe('22:00-07:00 UTC')
  })
})

describe('inWindow', () => {
  const night = { hours: '22:00-07:00', tz: 'Europe/Berlin' }
  test.each([
    // Berlin is UTC+1 in January.
    ['2026-01-10T20:59:00Z', false], // 21:59 local
    ['2026-01-10T21:00:00Z', true], // 22:00 local: start is inside
    ['2026-01-10T23:30:00Z', true], // 00:30 local, across midnight
    ['2026-01-11T05:59:00Z', true], // 06:59 local
    ['2026-01-11T06:00:00Z', false], // 07:00 local: end is outside
    ['2026-01-11T12:00:00Z', false],
    // UTC+2 in July: the same local hours are an hour earlier in UTC.
    ['2026-07-10T20:00:00Z', true], // 22:00 local
    ['2026-07-10T19:59:00Z', false],
    ['2026-07-11T05:00:00Z', false], // 07:00 local
  ])('22:00-07:00 Berlin at %s -> %s', (iso, expected) => {
    expect(inWindow(night, at(iso))).toBe(expected)
  })
  test('a window within one day, and the whole day', () => {
    const office = { hours: '09:00-17:00', tz: 'UTC' }
    expect(inWindow(office, at('2026-01-01T08:59:59Z'))).toBe(false)
    expect(inWindow(office, at('2026-01-01T09:00:00Z'))).toBe(true)
    expect(inWindow(office, at('2026-01-01T16:59:59Z'))).toBe(true)
    expect(inWindow(office, at('2026-01-01T17:00:00Z'))).toBe(false)
    expect(inWindow({ hours: '05:00-05:00' }, at('2026-01-01T12:00:00Z'))).toBe(true)
    expect(nextWindowChange({ hours: '00:00-24:00' }, 0)).toBeUndefined()
  })
  test('DST spring-forward: a boundary in the skipped hour takes effect at the jump', () => {
    // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z. Window 02:30-05:00.
    const w = { hours: '02:30-05:00', tz: 'Europe/Berlin' }
    expect(inWindow(w, at('2026-03-29T00:59:00Z'))).toBe(false) // 01:59 CET
    expect(inWindow(w, at('2026-03-29T01:00:00Z'))).toBe(true) // 03:00 CEST
    expect(nextWindowChange(w, at('2026-03-29T00:30:00Z'))).toBe(at('2026-03-29T01:00:00Z'))
    expect(nextWindowChange(w, at('2026-03-29T01:00:00Z'))).toBe(at('2026-03-29T03:00:00Z')) // 05:00 CEST
  })
  test('DST fall-back: the repeated hour is inside both times', () => {
    // Berlin 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z. Window 02:00-02:30 happens twice.
    const w = { hours: '02:00-02:30', tz: 'Europe/Berlin' }
    expect(inWindow(w, at('2026-10-25T00:10:00Z'))).toBe(true) // 02:10 CEST
    expect(inWindow(w, at('2026-10-25T00:40:00Z'))).toBe(false) // 02:40 CEST
    expect(inWindow(w, at('2026-10-25T01:10:00Z'))).toBe(true) // 02:10 CET
    expect(nextWindowChange(w, at('2026-10-25T00:40:00Z'))).toBe(at('2026-10-25T01:00:00Z'))
  })
  test('nextWindowChange: the first minute the answer flips', () => {
    const w = { hours: '22:00-07:00', tz: 'America/New_York' }
    expect(nextWindowChange(w, at('2026-01-10T12:00:00Z'))).toBe(at('2026-01-11T03:00:00Z')) // 22:00 EST
    expect(nextWindowChange(w, at('2026-01-11T03:00:00Z'))).toBe(at('2026-01-11T12:00:00Z')) // 07:00 EST
  })
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Sao_Paulo']
  const arbWindow = fc.record({
    start: fc.integer({ min: 0, max: 1439 }),
    end: fc.integer({ min: 0, max: 1439 }),
    tz: fc.constantFrom(...zones),
  }).map(({ start, end, tz }) => ({ hours: `${hhmm(start)}-${hhmm(end)}`, tz }))
  const arbTime = fc.integer({ min: at('2020-01-01T00:00:00Z'), max: at('2035-01-01T00:00:00Z') })
  test('property: membership is the local wall-clock minute against [start, end)', () => {
    fc.assert(
      fc.property(arbWindow, arbTime, (w, t) => {
        const { start, end } = parseHours(w.hours)!
        const m = localMinutes(w.tz, t)
        const expected = start === end || (start < end ? m >= start && m < end : m >= start || m < end)
        expect(inWindow(w, t)).toBe(expected)
      }),
      { numRuns: 300 },
    )
  })
  test('property: nextWindowChange flips the answer, and nothing flips before it', () => {
    fc.assert(
      fc.property(arbWindow, arbTime, (w, t) => {
        const next = nextWindowChange(w, t)
        const { start, end } = parseHours(w.hours)!
        if (start === end) {
          expect(next).toBeUndefined()
          return
        }
        expect(next).toBeDefined()
        expect(next!).toBeGreaterThan(t)
        expect(next! % 60_000).toBe(0)
        expect(inWindow(w, next!)).not.toBe(inWindow(w, t))
        // Every whole minute in between keeps the answer (sampled, the walk is long).
        for (let m = Math.ceil((t + 1) / 60_000) * 60_000; m < next!; m += 60_000 * 37) expect(inWindow(w, m)).toBe(inWindow(w, t))
        if (next! - 60_000 > t) expect(inWindow(w, next! - 60_000)).toBe(inWindow(w, t))
      }),
      { numRuns: 150 },
    )
  })
})

function hhmm(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`
}
