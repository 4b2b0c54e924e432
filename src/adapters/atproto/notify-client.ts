// notify (issue 16): sends farm.meshlet.notify to a peer's endpoint with service auth. A notify
// token is accepted again within its lifetime (src/xrpc/notify.ts), so one token per receiver is
// minted by the sender's PDS (com.atproto.server.getServiceAuth) and reused until shortly before it
// expires: one getServiceAuth per receiver per token lifetime, not one per hint.
import type { Did, StrongRef } from '../../core/types.js'
import type { HintTarget, PeerNotifier } from '../../ports/record-hints.js'
import { XrpcCallError, xrpcCall } from './xrpc-client.js'

export const NOTIFY_NSID = 'farm.meshlet.notify'

/** Asks the sender's PDS for a service auth token (aud = the receiver, lxm = the method, exp in s). */
export type ServiceAuthMinter = (aud: Did, lxm: string, expSec: number) => Promise<string>

export interface NotifyClientOptions {
  mint: ServiceAuthMinter
  /** Per call (default 2 s): a hint that takes longer is worth less than the firehose. */
  timeoutMs?: number
  /** Token lifetime asked for (default 240 s; receivers refuse more than 300 s by default). */
  tokenTtlSec?: number
  fetch?: typeof globalThis.fetch
  now?: () => number
}

/** A token is renewed this long before it expires, so one never dies in flight. */
const MARGIN_SEC = 30

export class NotifyClient implements PeerNotifier {
  private readonly tokens = new Map<Did, { token: string; until: number }>()
  private readonly minting = new Map<Did, Promise<string>>()
  private readonly now: () => number
  /** getServiceAuth calls made (the bench and tests read it). */
  minted = 0

  constructor(private readonly o: NotifyClientOptions) {
    this.now = o.now ?? Date.now
  }

  async notify(target: HintTarget, records: StrongRef[]): Promise<void> {
    const body = { records: records.map((r) => ({ uri: r.uri, cid: r.cid })) }
    for (let attempt = 0; ; attempt++) {
      const token = await this.token(target.did, attempt > 0)
      try {
        await xrpcCall({ service: target.endpoint, nsid: NOTIFY_NSID, body, token, fetch: this.o.fetch, timeoutMs: this.o.timeoutMs ?? 2000 })
        return
      } catch (err) {
        // A token refused (expired early, receiver's clock ahead): one fresh one, then give up.
        if (attempt === 0 && err instanceof XrpcCallError && err.status === 401) continue
        throw err
      }
    }
  }

  /** Mints `aud`'s token ahead of the first hint (meshlet submit, while the record is written). */
  async warm(aud: Did): Promise<void> {
    await this.token(aud, false)
  }

  private async token(aud: Did, force: boolean): Promise<string> {
    const nowSec = Math.floor(this.now() / 1000)
    const cached = this.tokens.get(aud)
    if (!force && cached && cached.until > nowSec) return cached.token
    const pending = this.minting.get(aud)
    if (pending) return pending
    const ttl = this.o.tokenTtlSec ?? 240
    const p = this.o
      .mint(aud, NOTIFY_NSID, nowSec + ttl)
      .then((token) => {
        this.minted++
        this.tokens.set(aud, { token, until: nowSec + ttl - MARGIN_SEC })
        return token
      })
      .finally(() => this.minting.delete(aud))
    this.minting.set(aud, p)
    return p
  }
}
