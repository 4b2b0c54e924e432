import { afterEach, describe, expect, it, vi } from 'vitest'
import { delayedReport } from '../../src/services/delayed-report.js'
import { SingleFlight } from '../../src/services/single-flight.js'

function gate(): { wait: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void
  let fail!: (e: Error) => void
  const wait = new Promise<void>((res, rej) => {
    open = res
    fail = rej
  })
  return { wait, open, fail }
}

describe('SingleFlight (a burst of starts shares one pull)', () => {
  it('concurrent calls for one key run once and all see it finish', async () => {
    const sf = new SingleFlight<string>()
    const g = gate()
    let runs = 0
    const fn = async () => {
      runs++
      await g.wait
    }
    const all = [sf.run('alice\nimg:1', fn), sf.run('alice\nimg:1', fn), sf.run('alice\nimg:1', fn)]
    expect(sf.size).toBe(1)
    g.open()
    await Promise.all(all)
    expect(runs).toBe(1)
    expect(sf.size).toBe(0)
  })

  it('keys do not share: another owner or image runs its own pull', async () => {
    const sf = new SingleFlight<string>()
    const ran: string[] = []
    await Promise.all(['alice\nimg:1', 'bob\nimg:1', 'alice\nimg:2'].map((k) => sf.run(k, async () => void ran.push(k))))
    expect(ran.sort()).toEqual(['alice\nimg:1', 'alice\nimg:2', 'bob\nimg:1'])
  })

  it('caches nothing: a call after the shared run settled runs again (a later start pulls fresh)', async () => {
    const sf = new SingleFlight<string>()
    let runs = 0
    await sf.run('k', async () => void runs++)
    await sf.run('k', async () => void runs++)
    expect(runs).toBe(2)
  })

  it('a failure reaches every waiter and is not remembered', async () => {
    const sf = new SingleFlight<string>()
    const g = gate()
    const a = sf.run('k', () => g.wait)
    const b = sf.run('k', async () => {
      throw new Error('never runs')
    })
    g.fail(new Error('registry down'))
    await expect(a).rejects.toThrow('registry down')
    await expect(b).rejects.toThrow('registry down')
    let ran = false
    await sf.run('k', async () => void (ran = true))
    expect(ran).toBe(true)
  })
})

describe('delayedReport (a quick step costs no status commit)', () => {
  afterEach(() => vi.useRealTimers())

  it('reports once the delay passes, not before', async () => {
    vi.useFakeTimers()
    const report = vi.fn(async () => undefined)
    delayedReport(500, report, () => {})
    await vi.advanceTimersByTimeAsync(499)
    expect(report).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(report).toHaveBeenCalledTimes(1)
  })

  it('a cancel within the delay means no report at all', async () => {
    vi.useFakeTimers()
    const report = vi.fn(async () => undefined)
    const r = delayedReport(500, report, () => {})
    await vi.advanceTimersByTimeAsync(300)
    r.cancel()
    await vi.advanceTimersByTimeAsync(5000)
    expect(report).not.toHaveBeenCalled()
  })

  it('a failed report goes to onError and does not throw', async () => {
    vi.useFakeTimers()
    const errors: unknown[] = []
    delayedReport(10, async () => Promise.reject(new Error('PDS down')), (e) => errors.push(e))
    await vi.advanceTimersByTimeAsync(10)
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('PDS down')
  })
})
