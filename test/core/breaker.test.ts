// notify (issue 16): a peer that does not answer hints is skipped for a while, not tried on every write.
import { describe, expect, it } from 'vitest'
import { Breakers } from '../../src/core/breaker.js'

const POLICY = { threshold: 3, openMs: 1000, maxOpenMs: 3000 }

describe('Breakers', () => {
  it('stays closed below the threshold; opens at it for openMs', () => {
    const b = new Breakers<string>(POLICY)
    b.failed('p', 0)
    b.failed('p', 0)
    expect(b.allow('p', 1)).toBe(true)
    b.failed('p', 10)
    expect(b.isOpen('p', 10)).toBe(true)
    expect(b.allow('p', 1009)).toBe(false)
    expect(b.allow('q', 1009)).toBe(true)
  })

  it('after openMs lets exactly one probe through; a success closes it', () => {
    const b = new Breakers<string>(POLICY)
    for (let i = 0; i < 3; i++) b.failed('p', 0)
    expect(b.allow('p', 1000)).toBe(true)
    expect(b.allow('p', 1000)).toBe(false)
    b.succeeded('p')
    expect(b.allow('p', 1001)).toBe(true)
    expect(b.isOpen('p', 1001)).toBe(false)
  })

  it('a failed probe doubles the open period, up to maxOpenMs', () => {
    const b = new Breakers<string>(POLICY)
    for (let i = 0; i < 3; i++) b.failed('p', 0)
    expect(b.allow('p', 1000)).toBe(true)
    b.failed('p', 1000) // period 2000
    expect(b.allow('p', 2999)).toBe(false)
    expect(b.allow('p', 3000)).toBe(true)
    b.failed('p', 3000) // period 3000 (capped, not 4000)
    expect(b.allow('p', 5999)).toBe(false)
    expect(b.allow('p', 6000)).toBe(true)
  })

  it('a success resets the failure count', () => {
    const b = new Breakers<string>(POLICY)
    b.failed('p', 0)
    b.failed('p', 0)
    b.succeeded('p')
    b.failed('p', 0)
    b.failed('p', 0)
    expect(b.isOpen('p', 0)).toBe(false)
  })
})
