// What `ls` and `status` call a workload's state: failures read as failures, even while a pull is
// being retried on this meshlet or has been handed to the next one.
import { describe, expect, test } from 'vitest'
import { failureOf, overallState, problemOf } from '../../src/client/workload-commands.js'

type Output = Parameters<typeof overallState>[0]
const output = (replicas: { meshlet: string; state: string; message?: string; containerId?: string }[], extra: Partial<Output> = {}): Output =>
  ({ uri: 'at://did:plc:ann/commune.scheduler.workload/3kw0000000001', state: 'elsewhere', valid: true, phase: 'placed', replicas, bids: [], ...extra }) as Output

const PULL_ERR = 'cannot pull 127.0.0.1:9/meshlet/not-there:1: connection refused'

describe('workload state from its replicas', () => {
  test('a pull being retried is a failure with the error, marked as retrying', () => {
    const s = output([{ meshlet: 'did:plc:a', state: 'pulling', message: `retrying pull in 4 s (attempt 3/5): ${PULL_ERR}` }])
    expect(overallState(s)).toBe('failed')
    expect(problemOf(s)).toBe(`${PULL_ERR} (retrying)`)
  })

  test('a pull given up here and handed on is a failure with the error', () => {
    const s = output([{ meshlet: 'did:plc:a', state: 'stopped', message: `start failed: pull failed 5 times: ${PULL_ERR}` }])
    expect(overallState(s)).toBe('failed')
    expect(problemOf(s)).toBe(`${PULL_ERR} (given up here; other meshlets try in turn)`)
  })

  test('a first pull in progress elsewhere is still on its way, not failed', () => {
    const s = output([
      { meshlet: 'did:plc:a', state: 'stopped', message: `start failed: pull failed 5 times: ${PULL_ERR}` },
      { meshlet: 'did:plc:b', state: 'pulling', message: 'pulling 127.0.0.1:9/meshlet/not-there:1' },
    ])
    expect(overallState(s)).toBe('pulling')
  })

  test('a stop for a protocol reason is no failure', () => {
    expect(failureOf({ state: 'stopped', message: 'lost claim conflict: replica 0 is held by did:plc:b (priority 600 vs 500)' })).toBeUndefined()
    expect(failureOf({ state: 'stopped', message: 'deleted by its owner' })).toBeUndefined()
    expect(failureOf({ state: 'failed' })).toBe('failed without a message')
  })
})
