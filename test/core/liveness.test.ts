// What a user reads when a record is set aside for its date, or a meshlet counts as gone
// (docs/protocol.md, Liveness by receipt): the field, the numbers and the limit, exactly.
import { describe, expect, test } from 'vitest'
import { FUTURE_SKEW_MS, futureDatedProblem, livenessProblem, Receipts, recordDate, STATUS_LEASE_MS, STATUS_RENEW_MS } from '../../src/core/liveness.js'
import { NSID, type SchedulerRecord } from '../../src/core/types.js'
import { bid, status, workload } from './fixtures.js'

const WALL = Date.parse('2026-01-01T00:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()
const profile = (updatedAt: string): SchedulerRecord => ({
  collection: NSID.profile,
  value: { meshlet: 'did:plc:m', endpoint: '', roles: [], labels: [], capabilities: [], cpuMillis: 1000, memoryMb: 1024, updatedAt },
})

describe('recordDate', () => {
  test('profiles and statuses are dated by updatedAt, bids and workloads by createdAt, linkage records not at all', () => {
    expect(recordDate(profile('2026-01-01T00:00:00.000Z'))).toEqual({ field: 'updatedAt', at: '2026-01-01T00:00:00.000Z' })
    expect(recordDate({ collection: NSID.workloadStatus, value: status('did:plc:m', 'running', { updatedAt: 'u' }) })).toEqual({ field: 'updatedAt', at: 'u' })
    expect(recordDate({ collection: NSID.bid, value: bid('did:plc:m', 1, { createdAt: 'b' }) })).toEqual({ field: 'createdAt', at: 'b' })
    expect(recordDate({ collection: NSID.workload, value: workload({ createdAt: 'w' }) })).toEqual({ field: 'createdAt', at: 'w' })
    expect(recordDate({ collection: NSID.membership, value: { meshlet: 'did:plc:m', members: [] } } as SchedulerRecord)).toBeUndefined()
  })
})

describe('futureDatedProblem', () => {
  test('says which field, how far ahead and the limit', () => {
    const at = iso(WALL + FUTURE_SKEW_MS + 1)
    expect(FUTURE_SKEW_MS).toBe(300_000)
    expect(futureDatedProblem(profile(at), WALL)).toBe(
      `dated in the future: updatedAt ${at} is 300001 ms ahead of this peer's clock (more than 300000 ms); ignored until then`,
    )
    const b = iso(WALL + 3_600_000)
    expect(futureDatedProblem({ collection: NSID.bid, value: bid('did:plc:m', 1, { createdAt: b }) }, WALL)).toBe(
      `dated in the future: createdAt ${b} is 3600000 ms ahead of this peer's clock (more than 300000 ms); ignored until then`,
    )
  })

  test('a custom skew is inclusive: exactly that far ahead passes, one ms more does not', () => {
    expect(futureDatedProblem(profile(iso(WALL + 1000)), WALL, 1000)).toBeUndefined()
    expect(futureDatedProblem(profile(iso(WALL + 1001)), WALL, 1000)).toBe(
      `dated in the future: updatedAt ${iso(WALL + 1001)} is 1001 ms ahead of this peer's clock (more than 1000 ms); ignored until then`,
    )
    // With no skew allowed, the observer's own instant passes and the next millisecond does not.
    expect(futureDatedProblem(profile(iso(WALL)), WALL, 0)).toBeUndefined()
    expect(futureDatedProblem(profile(iso(WALL + 1)), WALL, 0)).toMatch(/is 1 ms ahead .*more than 0 ms/)
  })

  test('a record that carries no date of its own is never flagged', () => {
    expect(futureDatedProblem({ collection: NSID.membership, value: { meshlet: 'did:plc:m', members: [] } } as SchedulerRecord, WALL)).toBeUndefined()
  })

  test('a record from the past is never flagged, however old', () => {
    expect(futureDatedProblem(profile(iso(WALL - 10 * 365 * 86_400_000)), WALL)).toBeUndefined()
  })
})

describe('livenessProblem', () => {
  test('the silence and the expiry, in ms', () => {
    expect(livenessProblem(10_000, 10_000 + 45_000, 30_000)).toBe('silent: last record from its repo received 45000 ms ago; lease of 30000 ms expired 15000 ms ago')
    expect(livenessProblem(10_000, 10_000 + 29_999, 30_000)).toBeUndefined()
    expect(livenessProblem(0, 30_000, 30_000)).toBe('silent: last record from its repo received 30000 ms ago; lease of 30000 ms expired 0 ms ago')
    // Received at monotonic 0 (a valid reading) is a receipt, not "never".
    expect(livenessProblem(0, 1, 30_000)).toBeUndefined()
  })
})

describe('Receipts', () => {
  test('keeps the latest receipt per repo, repos apart', () => {
    const r = new Receipts()
    r.note('did:plc:a', 100)
    r.note('did:plc:b', 50)
    r.note('did:plc:a', 100)
    r.note('did:plc:a', 99)
    expect(r.lastReceived('did:plc:a')).toBe(100)
    expect(r.lastReceived('did:plc:b')).toBe(50)
    r.note('did:plc:b', 51)
    expect(r.lastReceived('did:plc:b')).toBe(51)
  })
})

test('status lease constants: renewed every 10 minutes, credited 30 minutes after the last renewal', () => {
  expect(STATUS_RENEW_MS).toBe(600_000)
  expect(STATUS_LEASE_MS).toBe(1_800_000)
})
