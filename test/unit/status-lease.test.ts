// Status leases: every claim-state status says leaseMs = 30 min, and the reporter re-writes the ones
// last written 10 minutes ago (in one commit), so the ledger sees a runner that stops renewing stop
// earning. The statuses go through the real RecordWriter, decode and view, to an in-memory repo.
import { describe, expect, test } from 'vitest'
import { STATUS_LEASE_MS, STATUS_RENEW_MS } from '../../src/core/liveness.js'
import { NSID } from '../../src/core/types.js'
import { MESHLET, OWNER, cid, setup } from './status-repo.js'

const bidRef = { uri: `at://${MESHLET}/${NSID.bid}/3kb0000000001`, cid: cid('bid') }

describe('status leases', () => {
  test('claim states carry leaseMs = 30 min; ended states carry none', async () => {
    const { reporter, ws, writer } = setup()
    await reporter.claim(ws[0]!, { bid: bidRef, priority: 500, replica: 0 })
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBe(STATUS_LEASE_MS)
    await reporter.update(ws[0]!, { state: 'running', containerId: 'c1', message: 'running' })
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBe(1_800_000)
    await reporter.update(ws[0]!, { state: 'exited', containerId: 'c1', exitCode: 0, message: 'completed (exit 0)' })
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBeUndefined()
    await reporter.release(ws[0]!, 'stopped by its owner')
    expect(reporter.own(ws[0]!.uri)?.leaseMs).toBeUndefined()
    await writer.idle()
  })

  test('claim-state statuses are renewed 10 minutes after their last write, in one commit, unchanged but for updatedAt', async () => {
    const { reporter, ws, repo, writer, advance, now } = setup()
    await reporter.claim(ws[0]!, { bid: bidRef, priority: 500, replica: 0 })
    await reporter.update(ws[0]!, { state: 'running', containerId: 'c1', message: 'running', startedAt: new Date(now()).toISOString() })
    await reporter.claim(ws[1]!, { bid: bidRef, priority: 400, replica: 1 })
    await reporter.claim(ws[2]!, { bid: bidRef, priority: 300, replica: 0 })
    await reporter.update(ws[2]!, { state: 'failed', message: 'exit code 1' })
    await writer.idle()
    const before = reporter.own(ws[0]!.uri)!

    advance(STATUS_RENEW_MS - 1)
    expect(await reporter.renewDue()).toBe(0)
    advance(1)
    const commits = repo.commits.length
    expect(await reporter.renewDue()).toBe(2) // the two live claims; the failed one has ended
    await writer.idle()
    const after = reporter.own(ws[0]!.uri)!
    expect(after.updatedAt).toBe(new Date(now()).toISOString())
    const { updatedAt: _a, cid: _c, ...same } = after
    const { updatedAt: _b, cid: _d, ...was } = before
    expect(same).toEqual(was) // bid, priority, replica, containerId, startedAt, message, leaseMs kept
    expect(reporter.own(ws[1]!.uri)?.updatedAt).toBe(new Date(now()).toISOString())
    expect(reporter.own(ws[2]!.uri)?.state).toBe('failed')
    // Renewals that wait go out together: at most a lone put and one batch, never one commit each per status.
    expect(repo.commits.length - commits).toBeLessThanOrEqual(2)
    expect(repo.commits.slice(commits).flat()).toHaveLength(2)

    // Just renewed: nothing due until another 10 minutes pass.
    advance(STATUS_RENEW_MS - 1)
    expect(await reporter.renewDue()).toBe(0)
  })

  test('a status of an older version of the workload is not renewed', async () => {
    const { reporter, ws, view, advance, writer } = setup()
    await reporter.claim(ws[0]!, { bid: bidRef, priority: 500, replica: 0 })
    await writer.idle()
    const v2 = { ...ws[0]!, cid: cid('workload 1 v2') }
    view.apply({ op: 'put', did: OWNER, collection: NSID.workload, rkey: v2.rkey, uri: v2.uri, cid: v2.cid, record: { collection: NSID.workload, value: v2 } }, 0)
    advance(STATUS_RENEW_MS)
    expect(await reporter.renewDue()).toBe(0)
  })
})
