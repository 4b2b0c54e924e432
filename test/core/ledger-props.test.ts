// Properties every peer relies on: the ledger and the recomputed priorities depend on the SET of
// records only, not on the order they arrived in, and a record seen twice counts once.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { Ledger, type LedgerRecords } from '../../src/core/ledger.js'
import type { Bid, WorkloadStatus } from '../../src/core/types.js'
import { mulberry32 } from '../helpers/rng.js'
import { E0, OWNERS, at, claim, honestBid, meshletOf, records, wl } from './ledger-world.js'

const owners = Object.values(OWNERS)
const states: WorkloadStatus['state'][] = ['pending', 'running', 'exited', 'stopped', 'failed']

const spec = fc.record({
  owner: fc.integer({ min: 0, max: 3 }),
  runner: fc.integer({ min: 0, max: 3 }),
  epoch: fc.integer({ min: 0, max: 4 }),
  state: fc.integer({ min: 0, max: states.length - 1 }),
  startMin: fc.integer({ min: -30, max: 200 }),
  durMin: fc.integer({ min: 0, max: 300 }),
  replica: fc.integer({ min: 0, max: 1 }),
  cpuFree: fc.integer({ min: 0, max: 4000 }),
  corrupt: fc.boolean(),
})

/** Records built in epoch order, each bid honest against what came before (unless corrupted). */
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never

function world(specs: readonly Spec[]): Omit<LedgerRecords, 'now'> {
  const sorted = specs.map((s, i) => ({ ...s, i })).sort((a, b) => a.epoch - b.epoch || a.i - b.i)
  const workloads = sorted.map((s) => wl(owners[s.owner], `w${s.i}`, E0 + s.epoch, { replicas: 2 }))
  const bids: Bid[] = []
  const statuses: WorkloadStatus[] = []
  for (const [n, s] of sorted.entries()) {
    const w = workloads[n]
    const b = honestBid(records(workloads, bids, statuses), meshletOf(owners[s.runner]), w, { capacity: { cpuMillisFree: s.cpuFree, memoryMbFree: 4096, loadPermille: 100, onBattery: false, thermal: 'nominal' } })
    if (s.corrupt) b.priority += 1
    bids.push(b)
    const start = at(E0 + s.epoch, s.startMin * 60_000)
    statuses.push(claim(b, states[s.state], start, start + s.durMin * 60_000, { replica: s.replica }))
  }
  return records(workloads, bids, statuses)
}

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const rng = mulberry32(seed)
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** Everything a peer reads from a ledger: balances at every epoch, every status's account, every bid's verdict. */
function readout(l: Ledger, bids: readonly Bid[]): unknown {
  const balances: string[] = []
  for (let k = E0; k <= E0 + 8; k++) for (const o of owners) {
    const b = l.balanceAt(o, k)
    balances.push(`${o}@${k}: ${b.contributed} - ${b.consumed}`)
  }
  const verdicts = [...bids].sort((a, b) => (a.uri < b.uri ? -1 : 1)).map((b) => `${b.uri}: ${l.verifyBid(b) ?? 'ok'}`)
  return { balances, accounts: l.statusAccounts(), verdicts }
}

describe('ledger properties', () => {
  test('order-independent and idempotent under duplicates: same balances, accounts and bid verdicts', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 12 }), fc.integer(), (specs, seed) => {
        const r = world(specs)
        const now = at(E0 + 9)
        const a = new Ledger({ ...r, now })
        const dup = <T>(xs: readonly T[]) => shuffle([...xs, ...xs.filter((_, i) => i % 2 === 0)], seed)
        const b = new Ledger({ ...r, workloads: shuffle(r.workloads, seed + 1), bids: dup(r.bids), statuses: dup(r.statuses), profiles: shuffle(r.profiles, seed + 2), now })
        // Query in a different order too: memoisation must not depend on which balance was asked first.
        for (const o of shuffle(owners, seed)) b.balanceAt(o, E0 + 3)
        expect(readout(b, r.bids)).toEqual(readout(a, r.bids))
      }),
      { numRuns: 150 },
    )
  })

  test('honest bids always verify; a corrupted priority never does', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 10 }), (specs) => {
        const r = world(specs)
        const l = new Ledger({ ...r, now: at(E0 + 9) })
        const sorted = [...specs].map((s, i) => ({ s, i })).sort((a, b) => a.s.epoch - b.s.epoch || a.i - b.i)
        sorted.forEach(({ s }, n) => {
          const verdict = l.verifyBid(r.bids[n])
          if (s.corrupt) expect(verdict).toMatch(/^priority \d+ does not match the recomputed \d+ = fairShare \d+ \+ fit \d+$/)
          else expect(verdict).toBeUndefined()
        })
      }),
      { numRuns: 100 },
    )
  })
})
