// Cluster formation over a real PLC + 2 PDS, with real peers reading the real firehose (issue 2).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { NSID } from '../../src/core/types.js'

describe('cluster formation on a real AT network', () => {
  let c: DevCommune
  beforeAll(async () => {
    c = await DevCommune.create({
      pdsCount: 2,
      leaseMs: 6000,
      members: [
        { name: 'ann', members: ['ben', 'mal'] },
        { name: 'ben', members: ['ann', 'cat'] },
        { name: 'cat', members: ['ben'] },
        // dan lists ann, but ann does not list dan: one-way membership
        { name: 'dan', members: ['ann'] },
        // mal links its meshlet, but the meshlet claims ann as its owner, to pass as one of ann's (spoof)
        { name: 'mal', members: ['ann'] },
      ],
    })
    const mal = c.member('mal')
    await Promise.all([
      c.startPeer(c.member('ann')),
      c.startPeer(c.member('ben')),
      c.startPeer(c.member('cat')),
      c.startPeer(c.member('dan')),
      c.startPeer(mal, {}, { owner: c.member('ann').owner.did, clusterMembers: [c.member('ann').owner.did] }),
    ])
  }, 120_000)
  afterAll(async () => c?.close())

  const owners = (name: string) => c.member(name).peer!.cluster.activeOwners()
  const did = (name: string) => c.member(name).owner.did

  test('a mutual pair forms; overlapping clusters A-B and B-C give B both while A and C stay apart', async () => {
    // Peers start together and read each other's records as they appear: wait for every pair.
    await waitFor(
      () => owners('ben').includes(did('ann')) && owners('ben').includes(did('cat')) && owners('ann').includes(did('ben')) && owners('cat').includes(did('ben')),
      { what: 'ben to see ann and cat, and both to see ben' },
    )
    expect(owners('ann')).not.toContain(did('cat'))
    expect(owners('cat')).not.toContain(did('ann'))
  })

  test('one-way membership does not form a cluster', async () => {
    // dan follows ann (he lists her) and reads her membership, which does not list him
    await waitFor(() => c.member('dan').peer!.view.memberships().some((m) => m.meshlet === c.member('ann').meshlet.did), { what: "dan to read ann's membership" })
    expect(owners('dan')).not.toContain(did('ann'))
    expect(owners('ann')).not.toContain(did('dan'))
    const problems = c.member('dan').peer!.cluster.current().problems().map((p) => p.reason)
    expect(problems.join('\n')).toMatch(new RegExp(`${did('dan')} lists ${did('ann')}, but no meshlet of ${did('ann')} lists ${did('dan')}`))
  })

  test('a meshlet that claims an owner who does not claim it back is rejected as a spoof', async () => {
    const mal = c.member('mal').meshlet.did
    const graph = () => c.member('ann').peer!.cluster.current()
    await waitFor(() => c.member('ann').peer!.view.owners().some((o) => o.meshlet === mal && o.owner === did('ann')), { what: "ann to see mal's meshlet claim her" })
    expect(graph().ownerOf(mal)).toBeUndefined()
    expect(graph().meshletsOf(did('ann'))).toEqual([c.member('ann').meshlet.did])
    expect(graph().problems().find((p) => p.did === mal || p.reason.includes(mal))?.reason).toMatch(/spoof|does not list|names/)
    // mal has no verified meshlet, so mal is not in ann's cluster even though both list each other
    expect(owners('ann')).not.toContain(did('mal'))
    // and it may not read from ann's meshlet
    expect(c.member('ann').peer!.control.isClusterMember(mal)).toBe(false)
    await waitFor(() => c.member('ann').peer!.control.isClusterMember(c.member('ben').meshlet.did), { what: "ann to accept ben's meshlet as a member" })
  })

  test('deleting a membership record drops the member out live, and re-adding brings it back', async () => {
    const cat = c.member('cat')
    await cat.meshlet.agent.com.atproto.repo.deleteRecord({ repo: cat.meshlet.did, collection: NSID.membership, rkey: 'self' })
    await waitFor(() => !owners('ben').includes(did('cat')), { what: 'cat to drop out of ben’s cluster', timeoutMs: 20_000 })
    expect(owners('ben')).toContain(did('ann'))
    await cat.meshlet.agent.com.atproto.repo.putRecord({
      repo: cat.meshlet.did,
      collection: NSID.membership,
      rkey: 'self',
      record: { $type: NSID.membership, members: [did('ben')], createdAt: new Date().toISOString() },
    })
    await waitFor(() => owners('ben').includes(did('cat')), { what: 'cat to come back', timeoutMs: 20_000 })
  })

  test('a lexicon-invalid record is rejected with a reason and the peer keeps running', async () => {
    // cat is in ann's 2-hop neighbourhood, so ann follows cat's meshlet repo
    const cat = c.member('cat')
    const res = await cat.meshlet.agent.com.atproto.repo.createRecord({
      repo: cat.meshlet.did,
      collection: NSID.bid,
      record: { $type: NSID.bid, workload: { uri: 'not-a-uri', cid: 'x' }, priority: 'high', createdAt: 12 },
      validate: false,
    })
    const ann = c.member('ann').peer!
    const rej = await waitFor(() => ann.view.rejection(res.data.uri), { what: 'rejection', timeoutMs: 20_000 })
    expect(rej.reason).toMatch(/priority|workload|createdAt/)
    const health = await fetch(`${ann.url}/health`)
    expect(health.status).toBe(200)
  })

  test('unknown and unresolvable DIDs in the member list are logged and do not stop the peer', async () => {
    const ghost = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
    const ann = c.member('ann')
    await c.stopPeer(ann)
    const peer = await c.startPeer(ann, {}, { clusterMembers: [did('ben'), ghost, 'did:web:nowhere.invalid'] })
    expect(peer.cluster.activeOwners()).toContain(did('ben'))
    expect(peer.cluster.activeOwners()).not.toContain(ghost)
    expect((await fetch(`${peer.url}/health`)).status).toBe(200)
  })
})
