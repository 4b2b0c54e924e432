// The measured process of bench/relay-intake.ts, forked by it (IPC channel). Two modes:
//   peer   the peer's real intake: AtprotoRecordSource with --firehose set to the stand-in relay,
//          its SQLite cursor store in a data dir, options as src/context.ts builds them, tracking
//          the member repos it is given. The parent reads the stored cursor.
//   bare   @atproto/sync's Firehose alone with a runner that drops every event: what any
//          subscribeRepos consumer pays (socket, frame decode, lexicon validation) before meshlet
//          sees the event. Reports over IPC when the seq it was told to wait for arrives.
import { Firehose } from '@atproto/sync'
import { AtprotoIdentityResolver } from '../src/adapters/atproto/identity.js'
import { AtprotoRecordSource } from '../src/adapters/atproto/record-source.js'
import { SqliteCursorStore } from '../src/adapters/store/sqlite-cursor-store.js'
import { COLLECTIONS, type Did } from '../src/core/types.js'
import { createLogger } from '../src/logger.js'

const [mode, relayUrl, plcUrl, dataDir, ...tracked] = process.argv.slice(2)
if ((mode !== 'peer' && mode !== 'bare') || !relayUrl || !plcUrl || !dataDir) {
  console.error('usage: relay-intake-peer.ts peer|bare <relay ws url> <plc url> <data dir> [tracked did...]')
  process.exit(2)
}
const send = (m: unknown) => process.send?.(m)
let records = 0

async function peer(): Promise<void> {
  const log = createLogger('meshlet')
  const identity = new AtprotoIdentityResolver({ plcUrl, allowInsecureHttp: true })
  const source = new AtprotoRecordSource({
    identity,
    cursorStore: SqliteCursorStore.open(dataDir!),
    relayUrl,
    allowInsecureHttp: true,
    logger: log.child({ name: 'meshlet:source' }),
  })
  await source.setRepos(tracked as Did[])
  await source.start(() => {
    records++
  })
  process.on('message', (m: { ask?: string }) => {
    if (m.ask === 'records') send({ records, synced: tracked.every((d) => source.isSynced(d as Did)) })
  })
}

async function bare(): Promise<void> {
  let target = Infinity
  let last = 0
  process.on('message', (m: { waitFor?: number }) => {
    if (typeof m.waitFor === 'number') {
      target = m.waitFor
      if (last >= target) send({ reached: last })
    }
  })
  const identity = new AtprotoIdentityResolver({ plcUrl, allowInsecureHttp: true })
  const firehose = new Firehose({
    service: relayUrl,
    idResolver: identity.idResolver,
    filterCollections: [...COLLECTIONS],
    runner: {
      getCursor: async () => undefined,
      trackEvent: async (_did, seq) => {
        last = seq
        if (seq >= target) {
          send({ reached: seq })
          target = Infinity
        }
      },
    },
    handleEvent: async () => {},
    onError: (err) => console.error(err),
  })
  void firehose.start()
}

await (mode === 'peer' ? peer() : bare())
send({ ready: true })
