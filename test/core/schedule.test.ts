import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { instantsBetween, isScheduledInstant, nextInstant, parseRunUri, runUri, scheduleProblem } from '../../src/core/schedule.js'

const at = (iso: string): number => Date.parse(iso)
const iso = (t: number): string => new Date(t).toISOString()

describe('schedule instants', () => {
  test('problems: field count, syntax, zone, too frequent', () => {
    expect(scheduleProblem({ cron: '0 3 * * *' })).toBeUndefined()
    expect(scheduleProblem({ cron: '*/5 * * * * *' })).toBeUndefined()
    expect(scheduleProblem({ cron: '0 3 * *' })).toMatch(/not a cron expression of 5 fields/)
    expect(scheduleProblem({ cron: 'bogus * * * *' })).toMatch(/is not valid/)
    expect(scheduleProblem({ cron: '0 3 * * *', tz: 'Mars/Olympus' })).toMatch(/in Mars\/Olympus is not valid/)
  })
  test('instants strictly after createdAt, up to and including now, the last few only', () => {
    const s = { cron: '0 3 * * *' }
    expect(instantsBetween(s, at('2026-01-01T03:00:00Z'), at('2026-01-04T03:00:00Z')).map(iso)).toEqual([
      '2026-01-02T03:00:00.000Z',
      '2026-01-03T03:00:00.000Z',
      '2026-01-04T03:00:00.000Z',
    ])
    expect(instantsBetween(s, at('2026-01-01T00:00:00Z'), at('2026-01-09T00:00:00Z'), 2).map(iso)).toEqual(['2026-01-07T03:00:00.000Z', '2026-01-08T03:00:00.000Z'])
    expect(instantsBetween(s, at('2026-01-01T00:00:00Z'), at('2026-01-01T02:59:59Z'))).toEqual([])
    expect(instantsBetween(s, at('2026-01-02T00:00:00Z'), at('2026-01-01T00:00:00Z'))).toEqual([])
  })
  test('seconds field and a time zone', () => {
    expect(instantsBetween({ cron: '*/5 * * * * *' }, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:12Z')).map(iso)).toEqual([
      '2026-01-01T00:00:05.000Z',
      '2026-01-01T00:00:10.000Z',
    ])
    // 03:00 in Berlin is 02:00Z in winter, 01:00Z in summer.
    expect(nextInstant({ cron: '0 3 * * *', tz: 'Europe/Berlin' }, at('2026-01-01T12:00:00Z'))).toBe(at('2026-01-02T02:00:00Z'))
    expect(nextInstant({ cron: '0 3 * * *', tz: 'Europe/Berlin' }, at('2026-07-01T12:00:00Z'))).toBe(at('2026-07-02T01:00:00Z'))
  })
  test('DST: a skipped local time fires at the shifted time, a repeated one once', () => {
    const spring = { cron: '30 2 * * *', tz: 'Europe/Berlin' }
    expect(instantsBetween(spring, at('2026-03-28T12:00:00Z'), at('2026-03-30T12:00:00Z')).map(iso)).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z'])
    const fall = { cron: '30 2 * * *', tz: 'Europe/Berlin' }
    expect(instantsBetween(fall, at('2026-10-24T12:00:00Z'), at('2026-10-26T12:00:00Z'), 5).map(iso)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'])
  })
  test('run URIs name the instant as an ISO time; anything else is not a run', () => {
    const w = 'at://did:plc:alice/commune.scheduler.workload/3kabc'
    const u = runUri(w, at('2026-01-02T03:00:00Z'))
    expect(u).toBe(`${w}#/run/2026-01-02T03:00:00.000Z`)
    expect(parseRunUri(u)).toEqual({ workloadUri: w, instant: at('2026-01-02T03:00:00Z') })
    expect(parseRunUri(w)).toBeUndefined()
    expect(parseRunUri(`${w}#/run/2026-01-02T03:00:00Z`)).toBeUndefined() // not the canonical ISO form
    expect(parseRunUri(`${w}#/run/yesterday`)).toBeUndefined()
  })
  test('only instants of the schedule after createdAt are runs', () => {
    const s = { cron: '0 3 * * *' }
    const created = at('2026-01-01T04:00:00Z')
    expect(isScheduledInstant(s, created, at('2026-01-02T03:00:00Z'))).toBe(true)
    expect(isScheduledInstant(s, created, at('2026-01-02T03:00:01Z'))).toBe(false)
    expect(isScheduledInstant(s, created, at('2026-01-01T03:00:00Z'))).toBe(false) // before createdAt
    expect(isScheduledInstant(s, at('2026-01-02T03:00:00Z'), at('2026-01-02T03:00:00Z'))).toBe(false) // strictly after
  })
  test('property: every peer derives the same instants from the record, whatever its clock, once they passed', () => {
    const arb = fc.record({
      cron: fc.constantFrom('*/7 */30 * * * *', '0 */2 * * *', '30 2 * * *', '15 3 * * 1-5', '0 0 1 * *', '*/10 * * * *'),
      tz: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
      created: fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2026-12-01T00:00:00Z') }),
      a: fc.integer({ min: 0, max: 86_400_000 }),
      b: fc.integer({ min: 0, max: 86_400_000 }),
    })
    fc.assert(
      fc.property(arb, ({ cron, tz, created, a, b }) => {
        const s = { cron, tz }
        const [early, late] = [created + Math.min(a, b), created + Math.max(a, b)]
        const seenEarly = instantsBetween(s, created, early, 1000)
        const seenLate = instantsBetween(s, created, late, 1000)
        // A later observer sees the earlier observer's instants as a prefix (no instant moves).
        expect(seenLate.slice(0, seenEarly.length)).toEqual(seenEarly)
        for (const t of seenLate) {
          expect(t).toBeGreaterThan(created)
          expect(t).toBeLessThanOrEqual(late)
          expect(isScheduledInstant(s, created, t)).toBe(true)
          expect(parseRunUri(runUri('at://x/y/z', t))?.instant).toBe(t)
        }
        for (let i = 1; i < seenLate.length; i++) expect(nextInstant(s, seenLate[i - 1]!)).toBe(seenLate[i])
      }),
      { numRuns: 60 },
    )
  })
})
