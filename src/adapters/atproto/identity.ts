// DID -> PDS endpoint + signing key, over @atproto/identity (did:plc via a configurable PLC
// directory, did:web). One cache (TTL, injectable clock, LRU-bounded) shared with the firehose's
// signature checks and XRPC service auth, which take the underlying IdResolver.
import { LRUCache } from 'lru-cache'
import { DidNotFoundError, IdResolver, PoorlyFormattedDidDocumentError, PoorlyFormattedDidError, UnsupportedDidMethodError, UnsupportedDidWebPathError } from '@atproto/identity'
import type { CacheResult, DidCache, DidDocument } from '@atproto/identity'
import { parseToAtprotoDocument } from '@atproto/identity'
import { isValidDid } from '@atproto/syntax'
import type { Did } from '../../core/types.js'
import { DidResolutionError, describeError } from '../../errors.js'
import { createLogger, type Logger } from '../../logger.js'
import type { IdentityResolver, ResolvedIdentity } from '../../ports/identity-resolver.js'

export const DEFAULT_PLC_URL = 'https://plc.directory'

export interface AtprotoIdentityOptions {
  /** PLC directory for did:plc (default https://plc.directory). */
  plcUrl?: string
  /**
   * Dev/test only: resolve over plain http (a loopback PLC, did:web:localhost). Turns off the
   * SSRF-protected fetch of @atproto/identity. Never the production default.
   */
  allowInsecureHttp?: boolean
  /** Replaces the HTTP client entirely (tests). Like allowInsecureHttp, it bypasses the SSRF guard. */
  fetch?: typeof globalThis.fetch
  /** A cached document is re-fetched after this long (default 10 min). */
  cacheTtlMs?: number
  /** Documents kept at most (least recently used go first; default 10,000). */
  cacheMaxEntries?: number
  /** When the directory is unreachable, a document this old may still be served (default 24 h). */
  maxStaleMs?: number
  timeoutMs?: number
  now?: () => number
  logger?: Logger
}

interface CacheEntry {
  doc: DidDocument
  updatedAt: number
}

/** Default bound of the identity cache: a peer follows at most a few hundred repos. */
export const DEFAULT_DID_CACHE_MAX = 10_000

/**
 * DidCache for IdResolver with an injectable clock: expired entries are re-fetched, never served
 * silently. Bounded (LRU): DIDs named by strangers must not grow the heap without limit.
 */
export class TtlDidCache implements DidCache {
  private readonly entries: LRUCache<string, CacheEntry>
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    maxEntries: number = DEFAULT_DID_CACHE_MAX,
  ) {
    this.entries = new LRUCache<string, CacheEntry>({ max: maxEntries })
  }

  get size(): number {
    return this.entries.size
  }

  async cacheDid(did: string, doc: DidDocument): Promise<void> {
    this.entries.set(did, { doc, updatedAt: this.now() })
  }

  async checkCache(did: string): Promise<CacheResult | null> {
    const e = this.entries.get(did)
    if (!e) return null
    const expired = this.now() > e.updatedAt + this.ttlMs
    return { did, doc: e.doc, updatedAt: e.updatedAt, stale: expired, expired }
  }

  async refreshCache(did: string, getDoc: () => Promise<DidDocument | null>): Promise<void> {
    const doc = await getDoc()
    if (doc) await this.cacheDid(did, doc)
  }

  async clearEntry(did: string): Promise<void> {
    this.entries.delete(did)
  }

  async clear(): Promise<void> {
    this.entries.clear()
  }
}

export class AtprotoIdentityResolver implements IdentityResolver {
  readonly idResolver: IdResolver
  readonly plcUrl: string
  readonly allowInsecureHttp: boolean
  private readonly cache: TtlDidCache
  private readonly lastGood: LRUCache<string, { identity: ResolvedIdentity; at: number }>
  private readonly maxStaleMs: number
  private readonly now: () => number
  private readonly log: Logger

  constructor(opts: AtprotoIdentityOptions = {}) {
    this.plcUrl = opts.plcUrl ?? DEFAULT_PLC_URL
    this.allowInsecureHttp = opts.allowInsecureHttp ?? false
    this.now = opts.now ?? (() => Date.now())
    this.maxStaleMs = opts.maxStaleMs ?? 24 * 60 * 60_000
    const max = opts.cacheMaxEntries ?? DEFAULT_DID_CACHE_MAX
    this.cache = new TtlDidCache(opts.cacheTtlMs ?? 10 * 60_000, this.now, max)
    this.lastGood = new LRUCache({ max })
    this.log = opts.logger ?? createLogger('meshlet:identity')
    const fetchImpl = opts.fetch ?? (this.allowInsecureHttp ? globalThis.fetch : undefined)
    this.idResolver = new IdResolver({
      plcUrl: this.plcUrl,
      timeout: opts.timeoutMs ?? 5000,
      didCache: this.cache,
      ...(fetchImpl ? { fetch: fetchImpl as never } : {}),
    })
  }

  async resolve(did: Did, opts: { force?: boolean } = {}): Promise<ResolvedIdentity> {
    if (typeof did !== 'string' || !isValidDid(did)) throw new DidResolutionError(String(did), 'malformed DID')
    const method = did.split(':')[1]
    if (method !== 'plc' && method !== 'web') throw new DidResolutionError(did, `unsupported DID method "did:${method}" (only did:plc and did:web)`)

    let doc: DidDocument | null
    try {
      doc = await this.idResolver.did.resolve(did, opts.force ?? false)
    } catch (err) {
      const reason = this.describeFailure(did, err)
      // A directory hiccup must not make a peer forget its members: serve the last good answer for a while.
      const last = this.lastGood.get(did)
      if (last && isNetworkFailure(err) && this.now() - last.at <= this.maxStaleMs) {
        this.log.warn({ did, reason }, 'DID resolution failed; using the last known document')
        return last.identity
      }
      throw new DidResolutionError(did, reason, { cause: err })
    }
    if (!doc) {
      this.lastGood.delete(did)
      throw new DidResolutionError(did, 'DID not found')
    }
    const identity = toIdentity(did, doc)
    this.lastGood.set(did, { identity, at: this.now() })
    return identity
  }

  /** Documents in the cache now (for tests and the flood figures). */
  get cachedEntries(): number {
    return this.cache.size
  }

  /** Forget a DID (e.g. after an identity event), so the next resolve fetches it. */
  async invalidate(did: Did): Promise<void> {
    await this.cache.clearEntry(did)
  }

  private describeFailure(did: Did, err: unknown): string {
    if (err instanceof DidNotFoundError) return 'DID not found'
    if (err instanceof PoorlyFormattedDidError) return 'malformed DID'
    if (err instanceof UnsupportedDidMethodError) return 'unsupported DID method (only did:plc and did:web)'
    if (err instanceof UnsupportedDidWebPathError) return 'did:web with a path is not supported'
    if (err instanceof PoorlyFormattedDidDocumentError) return 'malformed DID document'
    const where = did.startsWith('did:plc:') ? `PLC directory ${this.plcUrl}` : `did:web host ${didWebHost(did)}`
    const status = (err as { status?: unknown }).status
    if (typeof status === 'number') return `${where} answered HTTP ${status}`
    const code = networkCode(err)
    if (code) return `${where} is not reachable: ${code}`
    const msg = describeError(err)
    if (/forbidden protocol "?http:/i.test(msg)) return `${where} uses plain http, which is refused unless allowInsecureHttp is set (local tests only)`
    return `${where}: ${msg}`
  }
}

/** The IdResolver behind an AtprotoIdentityResolver (the firehose and XRPC service auth need it). */
export function getIdResolver(identity: AtprotoIdentityResolver): IdResolver {
  return identity.idResolver
}

function toIdentity(did: Did, doc: DidDocument): ResolvedIdentity {
  let parsed: ReturnType<typeof parseToAtprotoDocument>
  try {
    parsed = parseToAtprotoDocument(doc)
  } catch (err) {
    throw new DidResolutionError(did, `malformed DID document: ${describeError(err)}`, { cause: err })
  }
  if (!parsed.pds) throw new DidResolutionError(did, 'no PDS endpoint in DID document')
  if (!parsed.signingKey) throw new DidResolutionError(did, 'no atproto signing key')
  return { did, pds: parsed.pds.replace(/\/+$/, ''), signingKey: parsed.signingKey, ...(parsed.handle ? { handle: parsed.handle } : {}) }
}

function didWebHost(did: string): string {
  return decodeURIComponent(did.slice('did:web:'.length))
}

/** The errno-style code (ECONNREFUSED, ENOTFOUND, ...) somewhere in an error's cause chain. */
export function networkCode(err: unknown): string | undefined {
  let cur: unknown = err
  for (let i = 0; i < 6 && cur; i++) {
    const e = cur as { code?: unknown; name?: unknown; errors?: unknown[]; cause?: unknown }
    if (typeof e.code === 'string' && /^E[A-Z]+$|^UND_ERR/.test(e.code)) return e.code
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout'
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const inner = networkCode(e.errors[0])
      if (inner) return inner
    }
    cur = e.cause
  }
  return undefined
}

function isNetworkFailure(err: unknown): boolean {
  if (networkCode(err)) return true
  const status = (err as { status?: unknown }).status
  return typeof status === 'number' && status >= 500
}
