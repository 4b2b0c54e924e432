// checkBid (docs/protocol.md, Verifiability): what a bid claims against public records, each
// failure with the reason every peer shows as "invalid: <reason>", checked in a documented order.
import { describe, expect, test } from 'vitest'
import { checkBid, formatResources, sameResources, verifyBid, type BidCheckContext } from '../../src/core/bid-verify.js'
import type { Bid, Did } from '../../src/core/types.js'
import { bid as bidFixture, workload } from './fixtures.js'

const M = 'did:plc:bidder'
const M_OWNER = 'did:plc:bidder-owner'
const W = workload() // createdAt 2025-01-01T00:00:00.000Z, resources 500m / 256 MiB
const EPOCH = Math.floor(Date.UTC(2025, 0, 1) / 3_600_000)
const PROFILE = { cpuMillis: 4000, memoryMb: 8192 }
const CAPACITY = { cpuMillisFree: 3000, memoryMbFree: 6144, loadPermille: 0, onBattery: false, thermal: 'nominal' as const }
// balance 0: fairShare 250. fit: mem floor(200 x (6144-256) / 8192) = 143, cpu floor(150 x (3000-500) / 4000) = 93,
// load 100, power 50, no thermal penalty = 386. Priority 636.
const PRIORITY = 636

function good(over: Partial<Bid> = {}): Bid {
  return bidFixture(M, PRIORITY, { epoch: EPOCH, resources: { cpuMillis: 500, memoryMb: 256 }, capacity: CAPACITY, ...over })
}

function ctx(over: Partial<BidCheckContext> = {}): BidCheckContext {
  return { workload: W, profile: PROFILE, owner: M_OWNER, balanceAt: () => 0n, ...over }
}

const reason = (b: Bid, c: BidCheckContext = ctx()) => {
  const r = checkBid(b, c)
  return r.ok ? undefined : r.reason
}

describe('checkBid', () => {
  test('a bid whose every claim matches the records holds up, with its epoch, balance and recomputed parts', () => {
    const r = checkBid(good(), ctx())
    expect(r).toEqual({ ok: true, epoch: EPOCH, balance: 0n, parts: { mem: 143, cpu: 93, load: 100, power: 50, thermal: 0, spread: 0, fit: 386, fairShare: 250, priority: 636 } })
  })

  test('the balance is the bidder OWNER’s at the epoch the bid names', () => {
    const seen: [Did, number][] = []
    // -3600 (one core-hour of debt): fairShare 250 - trunc(250 x -3600 / 7200) = 375, priority 375 + 386 = 761.
    const balanceAt = (o: Did, e: number) => (seen.push([o, e]), o === M_OWNER && e === EPOCH ? -3600n : 0n)
    expect(checkBid(good({ priority: 761 }), ctx({ balanceAt }))).toMatchObject({ ok: true, balance: -3600n, parts: { fairShare: 375, priority: 761 } })
    expect(seen).toEqual([[M_OWNER, EPOCH]])
  })

  test.each<[string, Partial<Bid>]>([
    ['no epoch', { epoch: undefined }],
    ['a negative epoch', { epoch: -1 }],
    ['a fractional epoch', { epoch: EPOCH + 0.5 }],
  ])('%s: "bid names no ledger epoch", checked before anything else', (_what, over) => {
    expect(reason(good({ ...over, resources: undefined, capacity: undefined, priority: 1 }), ctx({ profile: undefined, owner: undefined }))).toBe('bid names no ledger epoch')
  })

  test('epoch 0 is an epoch', () => {
    expect(reason(good({ epoch: 0 }))).toBe(`epoch 0 is not the workload's epoch ${EPOCH} (created 2025-01-01T00:00:00.000Z)`)
  })

  test('the epoch must be that of the workload’s createdAt, one either side is refused', () => {
    expect(reason(good({ epoch: EPOCH + 1 }))).toBe(`epoch ${EPOCH + 1} is not the workload's epoch ${EPOCH} (created 2025-01-01T00:00:00.000Z)`)
    expect(reason(good({ epoch: EPOCH - 1 }))).toBe(`epoch ${EPOCH - 1} is not the workload's epoch ${EPOCH} (created 2025-01-01T00:00:00.000Z)`)
    // The last millisecond of the epoch is still in it; the next one starts the next epoch.
    const last = workload({ createdAt: '2025-01-01T00:59:59.999Z' })
    expect(reason(good(), ctx({ workload: last }))).toBeUndefined()
    const next = workload({ createdAt: '2025-01-01T01:00:00.000Z' })
    expect(reason(good(), ctx({ workload: next }))).toBe(`epoch ${EPOCH} is not the workload's epoch ${EPOCH + 1} (created 2025-01-01T01:00:00.000Z)`)
  })

  test('a bid naming no workload is not compared with the workload on record, and does not crash the check', () => {
    const stray = good({ epoch: EPOCH + 5, workload: undefined as unknown as Bid['workload'] })
    expect(checkBid(stray, ctx())).toMatchObject({ ok: true, epoch: EPOCH + 5 })
  })

  test('the epoch and resources are checked only against the version the bid names', () => {
    const other = { epoch: EPOCH + 5, resources: { cpuMillis: 500, memoryMb: 256 } }
    // Same uri, another cid: an older version; the workload on record says nothing about it.
    expect(checkBid(good({ ...other, workload: { uri: W.uri, cid: 'bafyolder' } }), ctx())).toMatchObject({ ok: true, epoch: EPOCH + 5 })
    // Another uri with the same cid string: not this workload either.
    expect(checkBid(good({ ...other, workload: { uri: `${W.uri}x`, cid: W.cid } }), ctx())).toMatchObject({ ok: true, epoch: EPOCH + 5 })
    expect(reason(good({ epoch: EPOCH + 5 }))).toBe(`epoch ${EPOCH + 5} is not the workload's epoch ${EPOCH} (created 2025-01-01T00:00:00.000Z)`)
    // No workload on record (deleted): nothing to compare with.
    expect(reason(good({ epoch: EPOCH + 5, resources: { cpuMillis: 1, memoryMb: 1 } }), ctx({ workload: undefined }))).toMatch(/^priority 636 does not match/)
  })

  test.each<[string, Bid['resources']]>([
    ['missing', undefined],
    ['a negative cpuMillis', { cpuMillis: -1, memoryMb: 256 }],
    ['a fractional memoryMb', { cpuMillis: 500, memoryMb: 256.5 }],
    ['a memoryMb that is not a number', { cpuMillis: 500, memoryMb: '256' as unknown as number }],
  ])('resources %s: "bid carries no copy of the workload resources"', (_what, resources) => {
    expect(reason(good({ resources }))).toBe('bid carries no copy of the workload resources')
  })

  test('resources must equal the workload’s, storage included (none and 0 are the same)', () => {
    expect(reason(good({ resources: { cpuMillis: 501, memoryMb: 256 } }))).toBe("resources 501m/256MiB differ from the workload's 500m/256MiB")
    expect(reason(good({ resources: { cpuMillis: 500, memoryMb: 255 } }))).toBe("resources 500m/255MiB differ from the workload's 500m/256MiB")
    expect(reason(good({ resources: { cpuMillis: 500, memoryMb: 256, storageMb: 100 } }))).toBe("resources 500m/256MiB/100MiB disk differ from the workload's 500m/256MiB")
    expect(reason(good({ resources: { cpuMillis: 500, memoryMb: 256, storageMb: 0 } }))).toBeUndefined()
    const withDisk = workload({ resources: { cpuMillis: 500, memoryMb: 256, storageMb: 100 } })
    expect(reason(good({ resources: { cpuMillis: 500, memoryMb: 256, storageMb: 100 } }), ctx({ workload: withDisk }))).toBeUndefined()
    expect(reason(good(), ctx({ workload: withDisk }))).toBe("resources 500m/256MiB differ from the workload's 500m/256MiB/100MiB disk")
  })

  test.each<[string, Bid['capacity']]>([
    ['missing', undefined],
    ['a negative cpuMillisFree', { ...CAPACITY, cpuMillisFree: -1 }],
    ['a fractional memoryMbFree', { ...CAPACITY, memoryMbFree: 1.5 }],
    ['no memoryMbFree', { cpuMillisFree: 3000 } as Bid['capacity']],
  ])('capacity %s: "bid carries no capacity snapshot"', (_what, capacity) => {
    expect(reason(good({ capacity }))).toBe('bid carries no capacity snapshot')
  })

  test('without the bidder’s profile its capacity cannot be checked', () => {
    expect(reason(good(), ctx({ profile: undefined }))).toBe(`${M} has no profile, so its capacity cannot be checked`)
  })

  test('capacity may equal the published totals, not exceed them', () => {
    // All free: mem floor(200 x 7936 / 8192) = 193, cpu floor(150 x 3500 / 4000) = 131, + 100 + 50 = 474, + 250.
    expect(reason(good({ priority: 724, capacity: { ...CAPACITY, cpuMillisFree: 4000, memoryMbFree: 8192 } }))).toBeUndefined()
    expect(reason(good({ capacity: { ...CAPACITY, cpuMillisFree: 4001 } }))).toBe("capacity cpuMillisFree 4001 exceeds the bidder's published total 4000")
    expect(reason(good({ capacity: { ...CAPACITY, memoryMbFree: 8193 } }))).toBe("capacity memoryMbFree 8193 exceeds the bidder's published total 8192")
  })

  test('a bidder without a verified owner has no balance, so its priority cannot be checked', () => {
    expect(reason(good(), ctx({ owner: undefined }))).toBe(`${M} has no verified owner, so it has no ledger balance`)
  })

  test('a priority other than the recomputed one is refused, one either side, with the parts that explain it', () => {
    for (const p of [PRIORITY - 1, PRIORITY + 1]) {
      const r = checkBid(good({ priority: p }), ctx())
      expect(r).toMatchObject({ ok: false, reason: `priority ${p} does not match the recomputed 636 = fairShare 250 + fit 386`, parts: { priority: 636 } })
    }
  })
})

describe('resources helpers', () => {
  test('sameResources compares cpu, memory and storage (absent storage is 0)', () => {
    expect(sameResources({ cpuMillis: 1, memoryMb: 2 }, { cpuMillis: 1, memoryMb: 2, storageMb: 0 })).toBe(true)
    expect(sameResources({ cpuMillis: 1, memoryMb: 2, storageMb: 3 }, { cpuMillis: 1, memoryMb: 2, storageMb: 3 })).toBe(true)
    expect(sameResources({ cpuMillis: 1, memoryMb: 2, storageMb: 3 }, { cpuMillis: 1, memoryMb: 2 })).toBe(false)
    expect(sameResources({ cpuMillis: 1, memoryMb: 2 }, { cpuMillis: 2, memoryMb: 2 })).toBe(false)
    expect(sameResources({ cpuMillis: 1, memoryMb: 2 }, { cpuMillis: 1, memoryMb: 3 })).toBe(false)
  })

  test('formatResources names disk only when there is some', () => {
    expect(formatResources({ cpuMillis: 250, memoryMb: 64 })).toBe('250m/64MiB')
    expect(formatResources({ cpuMillis: 250, memoryMb: 64, storageMb: 0 })).toBe('250m/64MiB')
    expect(formatResources({ cpuMillis: 250, memoryMb: 64, storageMb: 10 })).toBe('250m/64MiB/10MiB disk')
  })
})

describe('verifyBid', () => {
  function source(over: Partial<Parameters<typeof verifyBid>[0]> = {}) {
    const calls = { workload: 0 }
    const src = {
      workload: (uri: string) => (calls.workload++, uri === W.uri ? W : undefined),
      profile: (m: Did) => (m === M ? PROFILE : undefined),
      ownerOf: (m: Did) => (m === M ? M_OWNER : undefined),
      balanceAt: () => 0n,
      ...over,
    }
    return { calls, verifier: verifyBid(src) }
  }

  test('the verifier gives undefined for a bid that holds up, else its reason; check() gives the whole result', () => {
    const { verifier } = source()
    expect(verifier(good())).toBeUndefined()
    expect(verifier(good({ priority: 1 }))).toBe('priority 1 does not match the recomputed 636 = fairShare 250 + fit 386')
    expect(verifier.check(good())).toMatchObject({ ok: true, epoch: EPOCH })
    expect(verifier(good({ meshlet: 'did:plc:stranger' }))).toBe('did:plc:stranger has no profile, so its capacity cannot be checked')
  })

  test('it reads the records through the source: the workload by uri, the profile and owner by meshlet, the balance by owner and epoch', () => {
    const { verifier } = source({ balanceAt: (o: Did, e: number) => (o === M_OWNER && e === EPOCH ? -3600n : 0n) })
    expect(verifier(good({ priority: 761 }))).toBeUndefined()
    expect(verifier(good({ epoch: EPOCH + 1 }))).toBe(`epoch ${EPOCH + 1} is not the workload's epoch ${EPOCH} (created 2025-01-01T00:00:00.000Z)`)
  })

  test('a bid record naming no workload does not crash the check (selection refuses it as "another workload" first)', () => {
    const { verifier } = source()
    const stray = good({ workload: undefined as unknown as Bid['workload'] })
    expect(() => verifier(stray)).not.toThrow()
    expect(verifier.check(stray)).toMatchObject({ ok: true, epoch: EPOCH })
  })

  test('each bid record is checked once, however often it is asked about', () => {
    const { calls, verifier } = source()
    const b = good()
    verifier(b)
    verifier(b)
    verifier.check(b)
    expect(calls.workload).toBe(1)
    verifier(good())
    expect(calls.workload).toBe(2)
  })
})
