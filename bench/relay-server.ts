// A stand-in relay on 127.0.0.1 for the intake bench: com.atproto.sync.subscribeRepos over
// xrpc-server's own stream server (frames from relay-frames.ts, sent one at a time with the
// socket's backpressure), and on the same port the few HTTP answers a peer asks of the network
// for the repos it tracks: their DID documents (a PLC directory's GET /<did>) and, as their PDS,
// getLatestCommit and an empty listRecords (their records are all in collections meshlet ignores).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { XrpcStreamServer, type Frame } from '@atproto/xrpc-server'
import type { RepoWriter } from './relay-frames.js'

export class StandInRelay {
  readonly url: string
  private readonly pending: Frame[] = []
  private wake?: () => void
  private readonly repos = new Map<string, RepoWriter>()
  /** Subscriptions opened so far (a peer's reconnects show up here). */
  connections = 0
  /** listRecords answered (the peer's backfills). */
  listCalls = 0

  private constructor(
    private readonly server: http.Server,
    private readonly stream: XrpcStreamServer,
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  static async start(): Promise<StandInRelay> {
    let self: StandInRelay | undefined
    const server = http.createServer((req, res) => self!.answer(req, res))
    const stream = new XrpcStreamServer({
      server,
      handler: (req: http.IncomingMessage, signal: AbortSignal) => self!.frames(req, signal),
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    self = new StandInRelay(server, stream)
    return self
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws')
  }

  /** Repos whose DID document (PLC) and head (PDS) this server answers for. */
  serve(writer: RepoWriter): void {
    this.repos.set(writer.did, writer)
  }

  /** Queues frames for the subscriber (one subscriber: this is a bench, not a fan-out relay). */
  push(frames: Iterable<Frame>): void {
    for (const f of frames) this.pending.push(f)
    this.wake?.()
  }

  get queued(): number {
    return this.pending.length
  }

  async close(): Promise<void> {
    for (const ws of this.stream.wss.clients) ws.terminate()
    this.stream.wss.close()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async *frames(req: http.IncomingMessage, signal: AbortSignal): AsyncIterable<Frame> {
    if (!req.url?.startsWith('/xrpc/com.atproto.sync.subscribeRepos')) return
    this.connections++
    // Live only: a cursor asks for history this stand-in does not keep.
    while (!signal.aborted) {
      const f = this.pending.shift()
      if (f) {
        yield f
        continue
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve
        signal.addEventListener('abort', () => resolve(), { once: true })
      })
      this.wake = undefined
    }
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', this.url)
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const repo = this.repos.get(u.searchParams.get('did') ?? u.searchParams.get('repo') ?? decodeURIComponent(u.pathname.slice(1)))
    if (!repo) return json(404, { error: 'NotFound', message: 'unknown repo' })
    if (u.pathname === '/xrpc/com.atproto.sync.getLatestCommit') return json(200, { cid: repo.head.cid.toString(), rev: repo.head.rev })
    if (u.pathname === '/xrpc/com.atproto.repo.listRecords') {
      this.listCalls++
      return json(200, { records: [] })
    }
    if (decodeURIComponent(u.pathname) === `/${repo.did}`) return json(200, repo.didDocument(this.url))
    json(404, { error: 'MethodNotImplemented' })
  }
}
