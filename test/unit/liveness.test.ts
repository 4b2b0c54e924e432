// Liveness by receipt (docs/protocol.md): observers judge a meshlet alive while its records keep
// ARRIVING (their own monotonic clock), never by comparing the writer's timestamps with their own
// wall clock. Records go through the real intake (IntakeService + CommuneView) with explicit clocks.
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import { buildClusterGraph } from '../../src/core/cluster.js'
import { eligibility } from '../../src/core/eligibility.js'
import { FUTURE_SKEW_MS, futureDatedProblem, livenessProblem, Receipts } from '../../src/core/liveness.js'
import { NSID, type Did, type Profile, type RecordEvent, type Workload } from '../../src/core/types.js'
import { CommuneView } from '../../src/core/view.js'
import { IntakeService } from '../../src/services/intake.js'
import { workload as workloadFixture } from '../core/fixtures.js'

const OWNER = 'did:plc:alice'
const HONEST = 'did:plc:m-honest'
const AHEAD = 'did:plc:m-ahead'
const BEHIND = 'did:plc:m-behind'
const MESHLETS = [AHEAD, BEHIND, HONEST]
const LEASE = 15_000
const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()
const silent = pino({ level: 'silent' })

const graph = buildClusterGraph({
  links: MESHLETS.map((meshlet) => ({ owner: OWNER, meshlet })),
  owners: MESHLETS.map((meshlet) => ({ meshlet, owner: OWNER })),
  memberships: MESHLETS.map((meshlet) => ({ meshlet, members: [] })),
})

const workload: Workload = workloadFixture({
  uri: `at://${OWNER}/${NSID.workload}/3kabc`,
  cid: 'bafyworkload',
  owner: OWNER,
  rkey: '3kabc',
  resources: { cpuMillis: 100, memoryMb: 64 },
  createdAt: iso(T0 - 60_000),
})

function profileEvent(meshlet: Did, updatedAt: number, seq: number): RecordEvent {
  const value: Profile = { meshlet, endpoint: '', roles: [], labels: [], capabilities: [], cpuMillis: 4000, memoryMb: 8192, leaseMs: LEASE, updatedAt: iso(updatedAt) }
  const uri = `at://${meshlet}/${NSID.profile}/self`
  return { op: 'put', did: meshlet, collection: NSID.profile, rkey: 'self', uri, cid: `bafyprofile${seq}`, record: { collection: NSID.profile, value } }
}

/** One peer's intake and view, on its own clocks: wall = t + wallSkew, monotonic = t + monoOrigin (any origin). */
function observer(wallSkew: number, monoOrigin: number) {
  let t = 0
  const clock = { now: () => T0 + t + wallSkew, monotonic: () => t + monoOrigin }
  const view = new CommuneView()
  const intake = new IntakeService({ view, clock, log: silent })
  return {
    intake,
    view,
    at(ms: number) {
      t = ms
    },
    alive(meshlet: Did): boolean {
      const profiles = new Map(view.profiles().map((p) => [p.meshlet, p]))
      const r = eligibility({ workload, graph, profiles, monoNow: clock.monotonic(), lastReceived: (m) => intake.receipts.lastReceived(m), defaultLeaseMs: LEASE, leaseMsOf: (p) => p.leaseMs })
      expect(r.electorate.has(meshlet)).toBe(view.profile(meshlet) !== undefined) // liveness never changes the electorate
      return r.eligible.has(meshlet)
    },
  }
}

describe('liveness by receipt', () => {
  // Three observers with different wall skews (small, honest), monotonic origins and delivery delays
  // (multiples of the 10 ms step, so each record is handled the moment it arrives).
  const setups = [
    { wallSkew: 0, monoOrigin: 0, delay: 40 },
    { wallSkew: 2_000, monoOrigin: 987_654_321, delay: 700 },
    { wallSkew: -1_500, monoOrigin: 12, delay: 2_300 },
  ]

  test.each([
    { writer: AHEAD, skew: 60_000 },
    { writer: BEHIND, skew: -60_000 },
  ])('a peer whose clock is $skew ms off is alive exactly while its records keep arriving, and dead one lease after the last receipt on every observer', ({ writer, skew }) => {
    const beatEvery = LEASE / 3
    const lastBeat = 12 * beatEvery // then it stops (crash, cut off)
    for (const s of setups) {
      const o = observer(s.wallSkew, s.monoOrigin)
      const arrivals: number[] = []
      for (let w = 0; w <= lastBeat; w += beatEvery) arrivals.push(w + s.delay)
      let seq = 0
      let lastArrival: number | undefined
      for (let t = 0; t <= lastBeat + 2 * LEASE; t += 10) {
        o.at(t)
        while (seq < arrivals.length && arrivals[seq]! <= t) {
          // The writer dates its record on ITS clock: 60 s off from everyone else's.
          o.intake.handle(profileEvent(writer, T0 + arrivals[seq]! - s.delay + skew, seq))
          lastArrival = arrivals[seq]!
          seq++
        }
        const expected = lastArrival !== undefined && t - lastArrival < LEASE
        expect(o.alive(writer), `observer ${JSON.stringify(s)} at t=${t}`).toBe(expected)
      }
      const last = arrivals.at(-1)!
      o.at(last + LEASE - 1)
      expect(o.alive(writer)).toBe(true)
      o.at(last + LEASE)
      expect(o.alive(writer)).toBe(false)
      expect(o.view.rejections()).toEqual([])
    }
  })

  test('any record from its repo keeps a meshlet alive, not only its profile', () => {
    const o = observer(0, 0)
    o.intake.handle(profileEvent(HONEST, T0, 0))
    o.at(LEASE - 1)
    const status = { uri: `at://${HONEST}/${NSID.workloadStatus}/s1`, meshlet: HONEST, workload: { uri: workload.uri, cid: workload.cid }, state: 'running' as const, updatedAt: iso(T0) }
    o.intake.handle({ op: 'put', did: HONEST, collection: NSID.workloadStatus, rkey: 's1', uri: status.uri, cid: 'bafys', record: { collection: NSID.workloadStatus, value: status } })
    o.at(2 * LEASE - 2)
    expect(o.alive(HONEST)).toBe(true)
    o.at(2 * LEASE - 1)
    expect(o.alive(HONEST)).toBe(false)
  })

  test('a record dated more than 5 minutes ahead is flagged, ignored for decisions and does not count as a receipt', () => {
    const o = observer(0, 0)
    o.at(1_000)
    o.intake.handle(profileEvent(AHEAD, T0 + 1_000 + FUTURE_SKEW_MS + 1, 0))
    const rej = o.view.rejection(`at://${AHEAD}/${NSID.profile}/self`)
    expect(rej?.reason).toBe(`dated in the future: updatedAt ${iso(T0 + 1_000 + FUTURE_SKEW_MS + 1)} is ${FUTURE_SKEW_MS + 1} ms ahead of this peer's clock (more than ${FUTURE_SKEW_MS} ms); ignored until then`)
    expect(o.view.profile(AHEAD)).toBeUndefined()
    expect(o.intake.receipts.lastReceived(AHEAD)).toBeUndefined()
    expect(o.alive(AHEAD)).toBe(false)
    // Exactly at the limit it is believed (and counts).
    o.intake.handle(profileEvent(AHEAD, T0 + 1_000 + FUTURE_SKEW_MS, 1))
    expect(o.view.rejection(`at://${AHEAD}/${NSID.profile}/self`)).toBeUndefined()
    expect(o.alive(AHEAD)).toBe(true)
  })
})

describe('futureDatedProblem', () => {
  const wall = T0
  const status = (updatedAt: string) => ({ collection: NSID.workloadStatus, value: { uri: 'at://x/y/z', meshlet: HONEST, workload: { uri: workload.uri, cid: workload.cid }, state: 'running' as const, updatedAt } })
  test.each([
    { ahead: -3_600_000, flagged: false },
    { ahead: 0, flagged: false },
    { ahead: FUTURE_SKEW_MS, flagged: false },
    { ahead: FUTURE_SKEW_MS + 1, flagged: true },
    { ahead: 86_400_000, flagged: true },
  ])('a status dated $ahead ms after the observer clock: flagged $flagged', ({ ahead, flagged }) => {
    const why = futureDatedProblem(status(iso(wall + ahead)), wall)
    expect(why !== undefined).toBe(flagged)
    if (why) expect(why).toMatch(/^dated in the future: updatedAt /)
  })

  test('bids and workloads are judged by createdAt; linkage records carry no date here', () => {
    const bid = { collection: NSID.bid, value: { uri: 'at://x/y/z', cid: 'c', meshlet: HONEST, rkey: 'z', workload: { uri: workload.uri, cid: workload.cid }, priority: 1, createdAt: iso(wall + FUTURE_SKEW_MS + 1) } }
    expect(futureDatedProblem(bid, wall)).toMatch(/^dated in the future: createdAt /)
    expect(futureDatedProblem({ collection: NSID.workload, value: { ...workload, createdAt: iso(wall + 10 * FUTURE_SKEW_MS) } }, wall)).toMatch(/createdAt/)
    expect(futureDatedProblem({ collection: NSID.membership, value: { meshlet: HONEST, members: [] } }, wall)).toBeUndefined()
  })

  test('an unreadable date is left to the decoder (not flagged here)', () => {
    expect(futureDatedProblem(status('soon'), wall)).toBeUndefined()
  })
})

describe('livenessProblem and Receipts', () => {
  test('boundaries: alive strictly inside the lease', () => {
    expect(livenessProblem(1_000, 1_000 + LEASE - 1, LEASE)).toBeUndefined()
    expect(livenessProblem(1_000, 1_000 + LEASE, LEASE)).toBe(`silent: last record from its repo received ${LEASE} ms ago; lease of ${LEASE} ms expired 0 ms ago`)
    expect(livenessProblem(undefined, 0, LEASE)).toBe('silent: no record received from its repo yet')
  })

  test('a receipt never moves backwards', () => {
    const r = new Receipts()
    r.note(HONEST, 500)
    r.note(HONEST, 200)
    expect(r.lastReceived(HONEST)).toBe(500)
    r.note(HONEST, 900)
    expect(r.lastReceived(HONEST)).toBe(900)
    expect(r.lastReceived(AHEAD)).toBeUndefined()
  })
})
