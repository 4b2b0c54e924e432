// Writes to one repo through a logged-in PDS session (it refreshes its tokens itself).
// Transient failures (network, 502-504, 429 with ratelimit-reset) are retried a bounded number
// of times; everything else becomes a PdsError that says what the PDS refused.
import type { AtpAgent } from '@atproto/api'
import { TID } from '@atproto/common-web'
import type { Did, StrongRef } from '../../core/types.js'
import { PdsError, describeError } from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'
import type { RecordPublisher, RecordValue, RepoWrite } from '../../ports/record-publisher.js'
import { PdsLoginError, PdsRequestError, PdsUnreachableError } from './errors.js'
import { networkCode } from './identity.js'
import { PdsSession, XrpcCallError } from './pds-session.js'

export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  maxRetries?: number
  baseDelayMs?: number
  maxDelayMs?: number
  /** A 429 whose reset is further away than this fails at once instead of blocking the caller. */
  maxRateLimitWaitMs?: number
}

export interface PublisherLoginOptions {
  service: string
  identifier: string
  password: string
  logger?: Logger
  retry?: RetryOptions
  /** Transport (tests route it through a fault-injecting proxy); a request timeout is always added. */
  fetch?: typeof globalThis.fetch
}

/**
 * No PDS request may hang on a dead connection (a partition that swallows packets): it must end in
 * an error, so the heartbeat and the writer get to try again once the network is back.
 */
export const PDS_REQUEST_TIMEOUT_MS = 15_000

export function fetchWithTimeout(ms: number, inner: typeof globalThis.fetch = globalThis.fetch): typeof globalThis.fetch {
  return (input, init) => {
    const timeout = AbortSignal.timeout(ms)
    return inner(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout })
  }
}

/** The PDS accepts at most this many writes per applyWrites call. */
export const MAX_WRITES_PER_CALL = 200

type ApplyWrite =
  | { $type: 'com.atproto.repo.applyWrites#create'; collection: string; rkey?: string; value: RecordValue }
  | { $type: 'com.atproto.repo.applyWrites#update'; collection: string; rkey: string; value: RecordValue }
  | { $type: 'com.atproto.repo.applyWrites#delete'; collection: string; rkey: string }

export class AtprotoPublisher implements RecordPublisher {
  readonly did: Did
  private readonly log: Logger
  private readonly retry: Required<RetryOptions>

  private constructor(
    private readonly session: PdsSession,
    readonly pds: string,
    opts: { logger?: Logger; retry?: RetryOptions },
  ) {
    const did = session.did
    this.did = did
    this.log = opts.logger ?? createLogger('meshlet:publisher', { did })
    this.retry = {
      maxRetries: opts.retry?.maxRetries ?? 3,
      baseDelayMs: opts.retry?.baseDelayMs ?? 250,
      maxDelayMs: opts.retry?.maxDelayMs ?? 10_000,
      maxRateLimitWaitMs: opts.retry?.maxRateLimitWaitMs ?? 60_000,
    }
  }

  /** liveness (issue 16 part 3): a read costs no write points; a meshlet answers probes only while its PDS answers. */
  async reachable(): Promise<boolean> {
    try {
      await this.session.query('com.atproto.server.describeServer', {})
      return true
    } catch {
      return false
    }
  }

  /** Logs in with an (app) password. Fails fast with a readable PdsError; does not retry a refused connection. */
  static async login(opts: PublisherLoginOptions): Promise<AtprotoPublisher> {
    const service = opts.service.replace(/\/+$/, '')
    try {
      const u = new URL(service)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
    } catch (err) {
      throw new PdsError(opts.service, 'is not a valid http(s) URL', { cause: err })
    }
    if (!opts.identifier) throw new PdsError(service, 'login needs an identifier (DID or handle)')
    if (!opts.password) throw new PdsError(service, `login needs a password for ${opts.identifier}`)
    let session: PdsSession
    try {
      session = await PdsSession.login(service, opts.identifier, opts.password, fetchWithTimeout(PDS_REQUEST_TIMEOUT_MS, opts.fetch))
    } catch (err) {
      if (err instanceof XrpcCallError && err.status === 401) throw new PdsLoginError(service, opts.identifier, { cause: err })
      throw toPdsError(service, 'com.atproto.server.createSession', err)
    }
    return new AtprotoPublisher(session, session.serviceUrl, opts)
  }

  /** Wraps an agent that is already logged in (tests); its tokens are adopted, the agent is not used. */
  static fromAgent(agent: AtpAgent, opts: { logger?: Logger; retry?: RetryOptions; fetch?: typeof globalThis.fetch } = {}): AtprotoPublisher {
    const s = agent.session
    if (!s) throw new PdsError(agent.serviceUrl.origin, 'the agent has no session (log in first)')
    const session = PdsSession.fromTokens(agent.serviceUrl.origin, s, fetchWithTimeout(PDS_REQUEST_TIMEOUT_MS, opts.fetch))
    return new AtprotoPublisher(session, session.serviceUrl, opts)
  }

  // notify (issue 16): tokens for hints to peers, from this account's PDS.
  /** A service auth token for calling `aud`'s `lxm`, valid until `expSec`. */
  async serviceAuth(aud: Did, lxm: string, expSec: number): Promise<string> {
    const res = await this.session.query<{ token: string }>('com.atproto.server.getServiceAuth', { aud, lxm, exp: String(expSec) })
    return res.token
  }

  async put(collection: string, rkey: string, value: RecordValue): Promise<StrongRef> {
    const res = await this.call('com.atproto.repo.putRecord', true, () =>
      this.session.procedure<{ uri: string; cid: string }>('com.atproto.repo.putRecord', { repo: this.did, collection, rkey, record: value }),
    )
    return { uri: res.uri, cid: res.cid }
  }

  /** A TID chosen here and written with putRecord: a retried create cannot make a second record. */
  async create(collection: string, value: RecordValue): Promise<StrongRef> {
    return this.put(collection, TID.nextStr(), value)
  }

  async delete(collection: string, rkey: string): Promise<void> {
    try {
      await this.call('com.atproto.repo.deleteRecord', true, () => this.session.procedure('com.atproto.repo.deleteRecord', { repo: this.did, collection, rkey }))
    } catch (err) {
      if (err instanceof PdsRequestError && /could not locate record|RecordNotFound/i.test(`${err.error} ${err.message}`)) return
      throw err
    }
  }

  async applyWrites(writes: RepoWrite[]): Promise<(StrongRef | undefined)[]> {
    const out: (StrongRef | undefined)[] = []
    for (let i = 0; i < writes.length; i += MAX_WRITES_PER_CALL) {
      out.push(...(await this.applyChunk(writes.slice(i, i + MAX_WRITES_PER_CALL))))
    }
    return out
  }

  private async applyChunk(writes: RepoWrite[]): Promise<(StrongRef | undefined)[]> {
    // Creates get their TID here, so both attempts below write the same records.
    const fixed = writes.map((w) => (w.op === 'create' && !w.rkey ? { ...w, rkey: TID.nextStr() } : w))
    try {
      return await this.send(fixed.map(toApplyWrite))
    } catch (err) {
      // The PDS answers 500 when an update targets a missing record or a delete finds nothing.
      // "put" means create-or-replace and deletes are idempotent: look, rewrite, try once more.
      if (!(err instanceof PdsRequestError && err.status === 500) || !fixed.some((w) => w.op !== 'create')) throw err
      const exists = await Promise.all(fixed.map((w) => (w.op === 'create' ? true : this.exists(w.collection, w.rkey))))
      if (exists.every(Boolean)) throw err
      const plan = fixed.map((w, i): ApplyWrite | undefined => {
        if (exists[i]) return toApplyWrite(w)
        if (w.op === 'put') return { $type: 'com.atproto.repo.applyWrites#create', collection: w.collection, rkey: w.rkey, value: w.value }
        return undefined // deleting what is not there is done
      })
      const sent = plan.filter((p): p is ApplyWrite => p !== undefined)
      const results = sent.length > 0 ? await this.send(sent) : []
      let j = 0
      return plan.map((p) => (p === undefined ? undefined : results[j++]))
    }
  }

  private async send(ops: ApplyWrite[]): Promise<(StrongRef | undefined)[]> {
    const res = await this.call('com.atproto.repo.applyWrites', false, () =>
      this.session.procedure<{ results?: { uri?: string; cid?: string }[] }>('com.atproto.repo.applyWrites', { repo: this.did, writes: ops }),
    )
    const results = res.results ?? []
    return ops.map((op, i) => {
      const r = results[i]
      if (op.$type === 'com.atproto.repo.applyWrites#delete' || !r?.uri || !r.cid) return undefined
      return { uri: r.uri, cid: r.cid }
    })
  }

  private async exists(collection: string, rkey: string): Promise<boolean> {
    try {
      await this.call('com.atproto.repo.getRecord', true, () => this.session.query('com.atproto.repo.getRecord', { repo: this.did, collection, rkey }))
      return true
    } catch (err) {
      if (err instanceof PdsRequestError && (err.status === 400 || err.status === 404) && /RecordNotFound|could not locate/i.test(`${err.error} ${err.message}`)) return false
      throw err
    }
  }

  /** Runs `fn`, retrying transient failures; `idempotent` also allows retrying a connection that broke mid-request. */
  private async call<T>(method: string, idempotent: boolean, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        const wait = this.retryDelay(err, attempt, idempotent)
        if (wait === undefined) throw toPdsError(this.pds, method, err)
        this.log.warn({ method, attempt: attempt + 1, waitMs: Math.round(wait), reason: describeError(err) }, 'PDS call failed; retrying')
        await new Promise((r) => setTimeout(r, wait))
      }
    }
  }

  private retryDelay(err: unknown, attempt: number, idempotent: boolean): number | undefined {
    if (attempt >= this.retry.maxRetries) return undefined
    const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt) * (0.5 + Math.random() * 0.5)
    if (!(err instanceof XrpcCallError)) return undefined
    if (err.status === 429) {
      const reset = Number(err.headers?.['ratelimit-reset'])
      if (!Number.isFinite(reset) || reset <= 0) return backoff
      const untilReset = reset * 1000 - Date.now()
      if (untilReset > this.retry.maxRateLimitWaitMs) return undefined
      return Math.max(backoff, untilReset + 50)
    }
    if (err.status === 502 || err.status === 503 || err.status === 504) return backoff
    if (err.status === 1) {
      // A refused connection never reached the server; anything else may have been applied.
      const code = networkCode(err)
      if (idempotent || code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return backoff
    }
    return undefined
  }
}

function toApplyWrite(w: RepoWrite): ApplyWrite {
  switch (w.op) {
    case 'create':
      return { $type: 'com.atproto.repo.applyWrites#create', collection: w.collection, ...(w.rkey ? { rkey: w.rkey } : {}), value: w.value }
    case 'put':
      return { $type: 'com.atproto.repo.applyWrites#update', collection: w.collection, rkey: w.rkey, value: w.value }
    case 'delete':
      return { $type: 'com.atproto.repo.applyWrites#delete', collection: w.collection, rkey: w.rkey }
  }
}

/** A readable PdsError for whatever the session threw. */
export function toPdsError(pds: string, method: string, err: unknown): PdsError {
  if (err instanceof PdsError) return err
  if (err instanceof XrpcCallError) {
    if (err.status === 1) return new PdsUnreachableError(pds, networkCode(err) ?? deepestMessage(err), { cause: err })
    if (err.status === 429) {
      const reset = Number(err.headers?.['ratelimit-reset'])
      const until = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : ''
      return new PdsRequestError(pds, method, 429, err.error, `rate limited${until}`, { cause: err })
    }
    return new PdsRequestError(pds, method, err.status, err.error, err.message, { cause: err })
  }
  const code = networkCode(err)
  if (code) return new PdsUnreachableError(pds, code, { cause: err })
  return new PdsError(pds, `${method} failed: ${describeError(err)}`, { cause: err })
}

function deepestMessage(err: unknown): string {
  let cur: unknown = err
  let msg = describeError(err)
  for (let i = 0; i < 6 && cur instanceof Error; i++) {
    msg = cur.message
    cur = cur.cause
  }
  return msg
}
