// notify (issue 16): one record with its proof, straight from the writer's PDS. The hinted uri+cid
// is a claim; this checks it: com.atproto.sync.getRecord returns a CAR with the signed commit, the
// MST path and the record; @atproto/repo's verifyRecords checks the commit's signature against the
// repo's signing key (the identity resolver's cached DID document) and reads the records the proof
// reaches. The record at the key must be there with the hinted cid; the commit's rev orders it.
import { cidForRecord, def, MemoryBlockstore, readCarWithRoot, verifyRecords } from '@atproto/repo'
import type { Cid, Did } from '../../core/types.js'
import { describeError } from '../../errors.js'
import type { IdentityResolver } from '../../ports/identity-resolver.js'
import type { ProofResult, RecordProofs } from '../../ports/record-hints.js'
import { recordUri } from './decode.js'
import { pdsUrlProblem } from './ws-url.js'

export interface AtprotoRecordProofsOptions {
  identity: IdentityResolver
  allowInsecureHttp?: boolean
  /** Per fetch (default 3 s): a hint is worth little once the firehose has caught up anyway. */
  timeoutMs?: number
  /** A getRecord answer bigger than this is refused (a proof is a commit, a path and one record). */
  maxBytes?: number
  /** A bad signature re-reads the DID document (a rotated key) at most once per this many ms per DID. */
  keyRefreshMs?: number
  fetch?: typeof globalThis.fetch
  now?: () => number
}

const DEFAULT_MAX_BYTES = 1024 * 1024

export class AtprotoRecordProofs implements RecordProofs {
  private readonly fetch: typeof globalThis.fetch
  private readonly refreshed = new Map<Did, number>()

  constructor(private readonly o: AtprotoRecordProofsOptions) {
    this.fetch = o.fetch ?? globalThis.fetch
  }

  async prove(did: Did, collection: string, rkey: string, cid: Cid): Promise<ProofResult> {
    let id
    try {
      id = await this.o.identity.resolve(did)
    } catch (err) {
      return { ok: false, reason: 'fetch-failed', detail: `cannot resolve ${did}: ${describeError(err)}` }
    }
    const problem = pdsUrlProblem(id.pds, this.o.allowInsecureHttp ?? false)
    if (problem) return { ok: false, reason: 'fetch-failed', detail: problem }
    let car: Uint8Array
    try {
      car = await this.getRecord(id.pds, did, collection, rkey)
    } catch (err) {
      return { ok: false, reason: 'fetch-failed', detail: describeError(err) }
    }
    let checked = await check(car, did, id.signingKey, collection, rkey, cid)
    if (!checked.ok && checked.reason === 'bad-proof' && this.mayRefresh(did)) {
      // The key may have been rotated since the document was cached: read it once more.
      const fresh = await this.o.identity.resolve(did, { force: true }).catch(() => undefined)
      if (fresh && fresh.signingKey !== id.signingKey) checked = await check(car, did, fresh.signingKey, collection, rkey, cid)
    }
    return checked
  }

  private mayRefresh(did: Did): boolean {
    const now = (this.o.now ?? Date.now)()
    const last = this.refreshed.get(did)
    if (last !== undefined && now - last < (this.o.keyRefreshMs ?? 60_000)) return false
    if (this.refreshed.size > 4096) this.refreshed.clear()
    this.refreshed.set(did, now)
    return true
  }

  private async getRecord(pds: string, did: Did, collection: string, rkey: string): Promise<Uint8Array> {
    const qs = new URLSearchParams({ did, collection, rkey })
    const res = await this.fetch(`${pds}/xrpc/com.atproto.sync.getRecord?${qs}`, {
      headers: { accept: 'application/vnd.ipld.car' },
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 3000),
    })
    const max = this.o.maxBytes ?? DEFAULT_MAX_BYTES
    const declared = Number(res.headers.get('content-length') ?? '0')
    if (declared > max) throw new Error(`getRecord answer of ${declared} bytes is over ${max}`)
    const body = new Uint8Array(await res.arrayBuffer())
    if (body.byteLength > max) throw new Error(`getRecord answer of ${body.byteLength} bytes is over ${max}`)
    if (!res.ok) throw new Error(`getRecord answered HTTP ${res.status}: ${new TextDecoder().decode(body.slice(0, 200))}`)
    return body
  }
}

/**
 * Checks a getRecord proof CAR for `did` against `signingKey` (a did:key) and the hinted cid. Pure
 * but for crypto: exported for tests that build repos with their own keys.
 */
export async function check(car: Uint8Array, did: Did, signingKey: string, collection: string, rkey: string, cid: Cid): Promise<ProofResult> {
  let records
  let rev: string
  try {
    records = await verifyRecords(car, did, signingKey)
    // verifyRecords checked the signature of this very root: its rev is the commit's.
    const { root, blocks } = await readCarWithRoot(car)
    rev = (await new MemoryBlockstore(blocks).readObj(root, def.commit)).rev
  } catch (err) {
    return { ok: false, reason: 'bad-proof', detail: describeError(err) }
  }
  const found = records.find((r) => r.collection === collection && r.rkey === rkey)
  if (!found?.record) return { ok: false, reason: 'absent', detail: `no ${collection}/${rkey} in ${did}'s repo at rev ${rev}` }
  const actual = (await cidForRecord(found.record)).toString()
  if (actual !== cid) return { ok: false, reason: 'cid-mismatch', detail: `${collection}/${rkey} is ${actual} at rev ${rev}, the hint said ${cid}` }
  return { ok: true, record: { did, collection, rkey, uri: recordUri(did, collection, rkey), cid, rev, value: found.record } }
}
