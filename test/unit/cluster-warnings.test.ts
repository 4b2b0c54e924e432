// Unverified links are logged only when they outlast a grace period (peers that start together
// publish their records seconds apart), once each, with what to do about them.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import type { MeshletLink, MeshletOwnerClaim, Membership } from '../../src/core/types.js'
import type { CommuneView } from '../../src/core/view.js'
import type { RecordSource } from '../../src/ports/record-source.js'
import { ClusterService } from '../../src/services/cluster.js'

const ALICE = 'did:plc:alicealicealicealicealic'
const MESH = 'did:plc:meshmeshmeshmeshmeshmesh'

function setup() {
  const links: MeshletLink[] = [{ owner: ALICE, meshlet: MESH }]
  const owners: MeshletOwnerClaim[] = []
  const memberships: Membership[] = []
  const view = { links: () => links, owners: () => owners, memberships: () => memberships } as unknown as CommuneView
  const source = { setRepos: async () => {} } as unknown as RecordSource
  const lines: { msg: string; level: number }[] = []
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(c.toString())), cb()) }))
  const svc = new ClusterService(view, source, { meshlet: 'did:plc:selfselfselfselfselfself', owner: ALICE, configuredMembers: [] }, log)
  const warnings = () => lines.filter((l) => l.level === 40).map((l) => l.msg)
  return { svc, owners, warnings }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test('a missing meshletOwner record that arrives within the grace period is never reported', async () => {
  const { svc, owners, warnings } = setup()
  svc.startReporting()
  await svc.refresh()
  await vi.advanceTimersByTimeAsync(svc.graceMs - 1000)
  owners.push({ meshlet: MESH, owner: ALICE })
  await svc.refresh()
  await vi.advanceTimersByTimeAsync(svc.graceMs * 2)
  expect(warnings()).toEqual([])
})

test('one that outlasts it is reported once, saying what to do', async () => {
  const { svc, warnings } = setup()
  svc.startReporting()
  await svc.refresh()
  await vi.advanceTimersByTimeAsync(svc.graceMs - 1000)
  expect(warnings()).toEqual([])
  await vi.advanceTimersByTimeAsync(2000)
  await svc.refresh()
  await vi.advanceTimersByTimeAsync(svc.graceMs * 2)
  expect(warnings()).toEqual([
    `not verified: ${ALICE} claims meshlet ${MESH}, but ${MESH} has no meshletOwner record yet (that meshlet publishes it when its peer starts: start it with \`meshlet run --did <meshlet> --owner <owner>\`)`,
  ])
})

test('nothing is reported before the backfill is done', async () => {
  const { svc, warnings } = setup()
  await svc.refresh()
  await vi.advanceTimersByTimeAsync(svc.graceMs * 3)
  expect(warnings()).toEqual([])
})
