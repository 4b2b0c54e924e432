import { describe, expect, test } from 'vitest'
import { DEBT_LIMIT } from '../../src/core/epoch.js'
import { debtNote, debtorsLast, inDebt, ownerRefusal } from '../../src/core/free-riders.js'

describe('free riders', () => {
  test.each<[bigint, boolean]>([
    [0n, false],
    [-360_000n, false], // at the limit: not beyond it
    [-360_001n, true],
    [-(10n ** 20n), true],
  ])('balance %s in debt: %s', (b, want) => {
    expect(inDebt(b)).toBe(want)
  })

  test('the note says so with the numbers', () => {
    expect(DEBT_LIMIT).toBe(360_000)
    expect(debtNote(-400_000n)).toBe('owner in debt: balance -400000, below -360000')
    expect(debtNote(-360_000n)).toBeUndefined()
  })

  test('workloads of owners in debt come last, each part in its input order; this peer’s own owner never counts as a debtor', () => {
    const balance: Record<string, bigint> = { a: 0n, d: -400_000n, e: -360_001n, self: -(10n ** 9n) }
    const items = ['d1', 'a1', 'e1', 'self1', 'a2', 'd2', 'x1']
    const owner = (i: string) => (i.startsWith('x') ? undefined : i.slice(0, -1))
    expect(debtorsLast(items, owner, (o) => balance[o], 'self')).toEqual(['a1', 'self1', 'a2', 'x1', 'd1', 'e1', 'd2'])
  })

  test('a workload whose owner is not known is served in order, whatever the ledger says', () => {
    const everyoneInDebt = () => -(10n ** 9n)
    expect(debtorsLast(['x1', 'd1', 'x2'], (i) => (i.startsWith('x') ? undefined : 'd'), everyoneInDebt, 'self')).toEqual(['x1', 'x2', 'd1'])
  })

  test.each<[string, bigint, number | undefined, string | undefined]>([
    ['no minimum configured', -(10n ** 9n), undefined, undefined],
    ['exactly at the minimum', -1000n, -1000, undefined],
    ['one below', -1001n, -1000, "owner did:plc:o has balance -1001, below this meshlet's minimum -1000"],
    ['a positive minimum', 10n, 3600, "owner did:plc:o has balance 10, below this meshlet's minimum 3600"],
  ])('%s', (_n, balance, min, want) => {
    expect(ownerRefusal('did:plc:o', balance, min, 'did:plc:self')).toBe(want)
  })

  test('its own owner is never refused', () => {
    expect(ownerRefusal('did:plc:self', -(10n ** 9n), 0, 'did:plc:self')).toBeUndefined()
  })
})
