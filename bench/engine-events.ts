// Container `start` events from the engine, timestamped on arrival. The bench's end point for every
// contender (meshlet, Swarm, raw dockerode) is the same: the engine reporting the container started.
import type Docker from 'dockerode'
import type { Readable } from 'node:stream'
import { monotonicNow } from '../src/services/timeline.js'

export interface StartEvent {
  id: string
  attributes: Record<string, string>
  at: number
}

type Waiter = { match: (e: StartEvent) => boolean; resolve: (e: StartEvent) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }

export class EngineStartWatcher {
  private readonly seen: StartEvent[] = []
  private waiters: Waiter[] = []
  private stream: Readable | undefined
  private readonly abort = new AbortController()

  private constructor(private readonly docker: Docker) {}

  static async open(docker: Docker): Promise<EngineStartWatcher> {
    const w = new EngineStartWatcher(docker)
    w.stream = (await docker.getEvents({ filters: { type: ['container'], event: ['start'] }, abortSignal: w.abort.signal } as Docker.GetEventsOptions)) as unknown as Readable
    let buf = ''
    w.stream.on('data', (chunk: Buffer) => {
      const at = monotonicNow()
      buf += chunk.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (!line) continue
        try {
          const raw = JSON.parse(line) as { Actor?: { ID?: string; Attributes?: Record<string, string> } }
          w.push({ id: raw.Actor?.ID ?? '', attributes: raw.Actor?.Attributes ?? {}, at })
        } catch {
          // a torn line cannot happen with the engine's newline framing; ignore garbage
        }
      }
    })
    w.stream.on('error', () => {})
    return w
  }

  private push(e: StartEvent): void {
    this.seen.push(e)
    if (this.seen.length > 5000) this.seen.splice(0, 1000)
    for (const w of [...this.waiters]) {
      if (w.match(e)) {
        clearTimeout(w.timer)
        this.waiters = this.waiters.filter((x) => x !== w)
        w.resolve(e)
      }
    }
  }

  /** The first start event (already seen or still to come) that matches. */
  wait(match: (e: StartEvent) => boolean, timeoutMs: number, what: string): Promise<StartEvent> {
    const hit = this.seen.find(match)
    if (hit) return Promise.resolve(hit)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x.timer !== timer)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the engine to start ${what}`))
      }, timeoutMs)
      this.waiters.push({ match, resolve, reject, timer })
    })
  }

  byLabel(key: string, value: string, timeoutMs: number): Promise<StartEvent> {
    return this.wait((e) => e.attributes[key] === value, timeoutMs, `a container labelled ${key}=${value}`)
  }

  /** How many start events seen so far carry the label (a container started twice counts twice). */
  countByLabel(key: string, value: string): number {
    return this.seen.filter((e) => e.attributes[key] === value).length
  }

  close(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer)
      w.reject(new Error('engine event watcher closed'))
    }
    this.waiters = []
    this.abort.abort()
    this.stream?.destroy()
  }
}
