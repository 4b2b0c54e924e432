// The groups the view's caps take from: counts, bytes and each group's highest record key must match
// a plain scan after any sequence of holds and releases (the heap drops stale entries lazily).
import { describe, expect, test } from 'vitest'
import { RecordGroups, groupOf, rkeyOf } from '../../src/core/view-groups.js'
import { mulberry32 } from '../helpers/rng.js'

const uri = (repo: number, rkey: number) => `at://did:plc:r${repo}/commune.scheduler.bid/3k${String(rkey).padStart(6, '0')}`

describe('RecordGroups', () => {
  test('splits a uri into its group and record key', () => {
    expect(groupOf('at://did:plc:a/commune.scheduler.bid/3kabc')).toBe('at://did:plc:a/commune.scheduler.bid')
    expect(rkeyOf('at://did:plc:a/commune.scheduler.bid/3kabc')).toBe('3kabc')
  })

  test('top, count and bytes equal a scan after random holds and releases', () => {
    const rand = mulberry32(7)
    const g = new RecordGroups()
    const model = new Map<string, number>()
    for (let step = 0; step < 20_000; step++) {
      const u = uri(Math.floor(rand() * 3), Math.floor(rand() * 400))
      if (rand() < 0.55) {
        const bytes = 100 + Math.floor(rand() * 900)
        g.hold(u, bytes)
        if (!model.has(u)) model.set(u, bytes)
      } else {
        expect(g.release(u)).toBe(model.get(u))
        model.delete(u)
      }
      if (step % 97 === 0 || step > 19_900) {
        for (let r = 0; r < 3; r++) {
          const key = `at://did:plc:r${r}/commune.scheduler.bid`
          const mine = [...model].filter(([k]) => groupOf(k) === key)
          expect(g.count(key)).toBe(mine.length)
          expect(g.bytes(key)).toBe(mine.reduce((n, [, b]) => n + b, 0))
          const best = mine.map(([k]) => k).sort((a, b) => (rkeyOf(a) < rkeyOf(b) ? 1 : -1))[0]
          expect(g.top(key)).toBe(best)
        }
        expect(g.held).toBe(model.size)
        expect(g.heldBytes).toBe([...model.values()].reduce((n, b) => n + b, 0))
      }
    }
  })

  test('an emptied group is gone; a record held twice counts once', () => {
    const g = new RecordGroups()
    g.hold(uri(1, 5), 10)
    g.hold(uri(1, 5), 99)
    expect([g.count('at://did:plc:r1/commune.scheduler.bid'), g.heldBytes]).toEqual([1, 10])
    expect(g.release(uri(1, 5))).toBe(10)
    expect(g.release(uri(1, 5))).toBeUndefined()
    expect([...g.keys()]).toEqual([])
    expect(g.top('at://did:plc:r1/commune.scheduler.bid')).toBeUndefined()
  })
})
