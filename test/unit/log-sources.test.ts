// `meshlet logs` asks only the replicas that have or had a container, like `docker logs`: a claim
// that never got one (still pulling or starting, lost its race, failed its pull) gets a one-line
// note instead of an empty section.
import { describe, expect, test } from 'vitest'
import { hadContainer, logSources } from '../../src/client/log-sources.js'

const A = 'did:plc:aaaa'
const B = 'did:plc:bbbb'
const C = 'did:plc:cccc'
const ID = '3f2a9c1d0b7e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a'

describe('hadContainer', () => {
  test.each([
    // before a container: only an id says one was made (a health-check restart reports starting with it)
    ['pending', undefined, false],
    ['pulling', undefined, false],
    ['starting', undefined, false],
    ['pending', ID, true],
    ['pulling', ID, true],
    ['starting', ID, true],
    // written only once a container exists
    ['running', ID, true],
    ['running', undefined, true],
    ['paused', ID, true],
    ['exited', ID, true],
    ['exited', undefined, true],
    // also written for a pull/create that never made one, or a lost claim: the id decides
    ['failed', ID, true],
    ['failed', undefined, false],
    ['stopped', ID, true],
    ['stopped', undefined, false],
  ])('%s with container id %s: %s', (state, containerId, expected) => {
    expect(hadContainer({ meshlet: A, state, containerId })).toBe(expected)
  })

  test('an empty container id is no container', () => {
    expect(hadContainer({ meshlet: A, state: 'starting', containerId: '' })).toBe(false)
  })
})

describe('logSources', () => {
  test('a transient second claimer that only reached starting gets a note, not a section', () => {
    const running = { meshlet: A, state: 'running', containerId: ID, message: 'running hello' }
    const loser = { meshlet: B, state: 'starting', message: 'starting hello' }
    expect(logSources([running, loser])).toEqual({ holders: [running], notes: [`replica on ${B} has no container yet (state: starting)`] })
  })

  test('claims that ended without a container say "never", those on their way say "yet"', () => {
    const { holders, notes } = logSources([
      { meshlet: A, state: 'pulling' },
      { meshlet: B, state: 'failed', message: 'cannot pull' },
      { meshlet: C, state: 'stopped', message: 'lost claim conflict' },
    ])
    expect(holders).toEqual([])
    expect(notes).toEqual([
      `replica on ${A} has no container yet (state: pulling)`,
      `replica on ${B} never started a container (state: failed)`,
      `replica on ${C} never started a container (state: stopped)`,
    ])
  })

  test('crashed and stopped containers keep their logs, in the given order', () => {
    const crashed = { meshlet: B, state: 'failed', containerId: ID, message: 'crash loop' }
    const exited = { meshlet: A, state: 'exited', containerId: ID }
    const stopped = { meshlet: C, state: 'stopped', containerId: ID }
    expect(logSources([crashed, exited, stopped])).toEqual({ holders: [crashed, exited, stopped], notes: [] })
  })

  test('one section per meshlet: its replica with a container, and no note beside it', () => {
    const stale = { meshlet: A, state: 'starting' }
    const live = { meshlet: A, state: 'running', containerId: ID }
    const other = { meshlet: A, state: 'exited', containerId: ID }
    expect(logSources([stale, live, other])).toEqual({ holders: [live], notes: [] })
    expect(logSources([{ meshlet: B, state: 'pulling' }, { meshlet: B, state: 'starting' }]).notes).toEqual([`replica on ${B} has no container yet (state: pulling)`])
  })

  test('nothing placed: nothing to ask, nothing to note', () => {
    expect(logSources([])).toEqual({ holders: [], notes: [] })
  })
})
