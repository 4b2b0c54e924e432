// The stand-in relay of bench/relay-intake.ts must speak subscribeRepos as @atproto/sync's
// Firehose (the peer's parser) understands it, or the bench silently measures a drop of garbage:
// every frame it builds goes through a real Firehose, with signatures checked.
import { afterEach, describe, expect, it } from 'vitest'
import { Firehose, FirehoseParseError, type Event } from '@atproto/sync'
import { AtprotoIdentityResolver } from '../../src/adapters/atproto/identity.js'
import { PreEncodedFrame, RepoWriter, accountFrame, commitFrame, identityFrame, randomPlcDid } from '../../bench/relay-frames.js'
import { StandInRelay } from '../../bench/relay-server.js'

let relay: StandInRelay | undefined
let firehose: Firehose | undefined

afterEach(async () => {
  await firehose?.destroy()
  await relay?.close()
  firehose = relay = undefined
})

describe('stand-in relay frames', () => {
  it('are decoded, validated and signature-checked by @atproto/sync', async () => {
    relay = await StandInRelay.start()
    const member = await RepoWriter.create()
    const stranger = await RepoWriter.create()
    const forger = await RepoWriter.create(member.did) // claims the member's repo with another key
    relay.serve(member)
    relay.serve(stranger)
    const time = new Date().toISOString()
    const liked = await member.commit('app.bench.like', 'tracked, ignored collection')
    const posted = await stranger.commit('app.bsky.feed.post', 'unrelated')
    const forged = await forger.commit('app.bench.like', 'forged')
    const events: Event[] = []
    const errors: Error[] = []
    const identity = new AtprotoIdentityResolver({ plcUrl: relay.url, allowInsecureHttp: true })
    firehose = new Firehose({
      service: relay.wsUrl,
      idResolver: identity.idResolver,
      unauthenticatedCommits: false,
      unauthenticatedHandles: true,
      handleEvent: async (e) => void events.push(e),
      onError: (e) => void errors.push(e),
    })
    void firehose.start()
    const other = randomPlcDid()
    relay.push([commitFrame(liked, 1, time), new PreEncodedFrame(commitFrame(posted, 2, time)), identityFrame(member.did, 3, time), accountFrame(other, 4, time, false), commitFrame(forged, 5, time)])
    await expect.poll(() => events.length + errors.length, { timeout: 10_000 }).toBe(5)

    expect(events.map((e) => [e.event, e.seq, e.did])).toEqual([
      ['create', 1, member.did],
      ['create', 2, stranger.did],
      ['identity', 3, member.did],
      ['account', 4, other],
    ])
    const [like, post] = events as Extract<Event, { event: 'create' }>[]
    expect(like!.collection).toBe('app.bench.like')
    expect(like!.record).toMatchObject({ text: 'tracked, ignored collection' })
    expect(like!.cid.equals(liked.ops[0]!.cid)).toBe(true)
    expect(like!.rev).toBe(liked.rev)
    expect(post!.record).toMatchObject({ $type: 'app.bsky.feed.post', text: 'unrelated' })
    // The identity event carries the document the stand-in serves as PLC.
    expect((events[2] as Extract<Event, { event: 'identity' }>).didDocument?.id).toBe(member.did)
    // A commit signed with a key the DID document does not name is refused: signatures are real.
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(FirehoseParseError)
    expect((errors[0] as FirehoseParseError).event).toMatchObject({ seq: 5, repo: member.did })
  })

  it('chain a repo: each commit is signed over the previous one', async () => {
    const w = await RepoWriter.create()
    const a = await w.commit('app.bench.like')
    const b = await w.commit('app.bench.like')
    expect(b.since).toBe(a.rev)
    expect(b.rev > a.rev).toBe(true)
    expect(w.head.cid.equals(b.commit)).toBe(true)
    expect(b.prevData).toBeDefined()
  })
})
