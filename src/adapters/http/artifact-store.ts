// Binaries from a URL (issue 13): download once (size-capped, time-capped), check the SHA-256 the
// workload names, keep it by hash in <data-dir>/artifacts (0555 files in a 0700 directory). Every
// failure is final for that start (wrong hash, unreachable, too large, HTTP error): it would fail
// the same on the next try, so the start is reported `failed` with the reason instead of retried.
import fs from 'node:fs/promises'
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Artifact } from '../../core/types.js'
import { localAddressKind } from '../../core/registry-policy.js'
import type { ArtifactStore } from '../../ports/artifact-store.js'
import { MeshletError, describeError } from '../../errors.js'

export const DEFAULT_MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
export const DEFAULT_ARTIFACT_TIMEOUT_MS = 60_000

export class ArtifactError extends MeshletError {
  constructor(
    readonly url: string,
    readonly reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`artifact ${url}: ${reason}`, opts)
  }
}

export class HttpArtifactStore implements ArtifactStore {
  private readonly inFlight = new Map<string, Promise<string>>()

  constructor(
    private readonly dir: string,
    private readonly opts: { maxBytes?: number; timeoutMs?: number } = {},
  ) {}

  fetch(a: Artifact, o: { guest: boolean; signal?: AbortSignal }): Promise<string> {
    const key = a.sha256
    const running = this.inFlight.get(key)
    if (running) return running
    const p = this.download(a, o).finally(() => this.inFlight.delete(key))
    this.inFlight.set(key, p)
    return p
  }

  private async download(a: Artifact, o: { guest: boolean; signal?: AbortSignal }): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(a.sha256)) throw new ArtifactError(a.url, 'sha256 must be 64 lowercase hex characters')
    const file = path.join(this.dir, a.sha256)
    // Content-addressed: a file is only ever renamed into place after its hash checked out.
    if (await fs.stat(file).then((s) => s.isFile(), () => false)) return file
    let url: URL
    try {
      url = new URL(a.url)
    } catch {
      throw new ArtifactError(a.url, 'not a URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ArtifactError(a.url, 'only http(s) URLs')
    // A guest must not make this host fetch from its LAN or itself (as for guests' registries).
    const local = localAddressKind(url.hostname.replace(/^\[|\]$/g, ''))
    if (o.guest && local) throw new ArtifactError(a.url, `host ${url.hostname} is ${local}: refused for other owners' workloads`)
    const max = this.opts.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES
    const signals = [AbortSignal.timeout(this.opts.timeoutMs ?? DEFAULT_ARTIFACT_TIMEOUT_MS), ...(o.signal ? [o.signal] : [])]
    let res: Response
    try {
      res = await fetch(url, { signal: AbortSignal.any(signals), redirect: o.guest ? 'error' : 'follow' })
    } catch (err) {
      throw new ArtifactError(a.url, `unreachable: ${describeError(err)}`, { cause: err })
    }
    if (!res.ok || !res.body) throw new ArtifactError(a.url, `HTTP ${res.status} ${res.statusText}`.trim())
    const declared = Number(res.headers.get('content-length') ?? NaN)
    if (Number.isFinite(declared) && declared > max) {
      await res.body.cancel().catch(() => {})
      throw new ArtifactError(a.url, `too large: ${declared} bytes, over the ${max} this meshlet accepts`)
    }
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 })
    const tmp = `${file}.${process.pid}.${Date.now()}.part`
    const hash = createHash('sha256')
    const handle = await fs.open(tmp, 'wx', 0o600)
    let size = 0
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length
        if (size > max) throw new ArtifactError(a.url, `too large: over the ${max} bytes this meshlet accepts`)
        hash.update(chunk)
        await handle.write(chunk)
      }
    } catch (err) {
      await handle.close().catch(() => {})
      await fs.rm(tmp, { force: true })
      if (err instanceof ArtifactError) throw err
      throw new ArtifactError(a.url, `download failed: ${describeError(err)}`, { cause: err })
    }
    await handle.close()
    const got = hash.digest('hex')
    if (got !== a.sha256) {
      await fs.rm(tmp, { force: true })
      throw new ArtifactError(a.url, `sha256 is ${got}, expected ${a.sha256}: refused`)
    }
    await fs.chmod(tmp, 0o555)
    await fs.rename(tmp, file)
    return file
  }
}
