import { describe, expect, test } from 'vitest'
import { guestQuota, quotaRefusal, usageByOwner } from '../../src/core/quota.js'

const GUEST = 'did:plc:guest'
const SELF = 'did:plc:self'
const quota = { maxContainers: 2, cpuMillis: 1000, memoryMb: 512 }
const need = { cpuMillis: 100, memoryMb: 64 }

describe('guest quotas', () => {
  test('absolute limits: the share of the totals, rounded down, integers only', () => {
    expect(guestQuota({ maxContainers: 32, sharePercent: 50 }, { cpuMillis: 2001, memoryMb: 4095 })).toEqual({ maxContainers: 32, cpuMillis: 1000, memoryMb: 2047 })
    expect(guestQuota({ maxContainers: 1, sharePercent: 100 }, { cpuMillis: 2000, memoryMb: 10 })).toEqual({ maxContainers: 1, cpuMillis: 2000, memoryMb: 10 })
    expect(guestQuota({ maxContainers: 1, sharePercent: 0 }, { cpuMillis: 2000, memoryMb: 10 })).toEqual({ maxContainers: 1, cpuMillis: 0, memoryMb: 0 })
  })
  test('admitted up to exactly the limit, refused one past it, with the numbers', () => {
    expect(quotaRefusal(GUEST, SELF, { containers: 1, cpuMillis: 900, memoryMb: 448 }, need, quota)).toBeUndefined()
    expect(quotaRefusal(GUEST, SELF, { containers: 2, cpuMillis: 0, memoryMb: 0 }, need, quota)).toBe(
      `over quota: owner ${GUEST} already holds 2 of the 2 containers this meshlet allows one guest owner`,
    )
    expect(quotaRefusal(GUEST, SELF, { containers: 1, cpuMillis: 901, memoryMb: 0 }, need, quota)).toBe(
      `over quota: owner ${GUEST} would hold 1001 of the 1000 CPU millicores this meshlet allows one guest owner (901 held, 100 needed)`,
    )
    expect(quotaRefusal(GUEST, SELF, { containers: 1, cpuMillis: 0, memoryMb: 449 }, need, quota)).toBe(
      `over quota: owner ${GUEST} would hold 513 of the 512 MiB of memory this meshlet allows one guest owner (449 held, 64 needed)`,
    )
  })
  test("the meshlet's own owner is never limited", () => {
    expect(quotaRefusal(SELF, SELF, { containers: 99, cpuMillis: 99_999, memoryMb: 99_999 }, need, quota)).toBeUndefined()
  })
  test('usage sums one entry per replica by owner', () => {
    const u = usageByOwner([
      { owner: GUEST, resources: { cpuMillis: 10, memoryMb: 6 } },
      { owner: GUEST, resources: { cpuMillis: 5, memoryMb: 7 } },
      { owner: SELF, resources: { cpuMillis: 1, memoryMb: 8 } },
    ])
    expect(u.get(GUEST)).toEqual({ containers: 2, cpuMillis: 15, memoryMb: 13 })
    expect(u.get(SELF)).toEqual({ containers: 1, cpuMillis: 1, memoryMb: 8 })
  })
})
