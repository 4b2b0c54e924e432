// The web view's live feed (issue 15): every record event as judged at intake, kept for the last few
// and pushed to whoever listens (server-sent events). Bounded both ways: a short history, and a cap
// on listeners so an open tab per visitor cannot grow without end.
import { NSID, type RecordEvent } from '../core/types.js'

export interface FeedItem {
  /** Position in this feed (increasing), the SSE id. */
  seq: number
  /** Epoch ms when it arrived here. */
  at: number
  op: 'put' | 'delete' | 'rejected'
  collection: string
  did: string
  uri: string
  /** A rejection's reason. */
  reason?: string
}

export class RecordFeed {
  private readonly items: FeedItem[] = []
  private readonly listeners = new Set<(item: FeedItem) => void>()
  private seq = 0

  constructor(
    private readonly now: () => number,
    private readonly keep = 50,
    readonly maxListeners = 64,
  ) {}

  publish(e: RecordEvent): void {
    const item: FeedItem = { seq: ++this.seq, at: this.now(), op: e.op, collection: e.collection, did: e.did, uri: e.uri, ...(e.op === 'rejected' ? { reason: e.reason } : {}) }
    // Heartbeats (profile puts, every few seconds per meshlet) would push everything else out of the
    // shown history: listeners hear them (heartbeat ages refresh), the history keeps the rest.
    if (!(e.op === 'put' && e.collection === NSID.profile)) {
      this.items.push(item)
      if (this.items.length > this.keep) this.items.shift()
    }
    for (const l of this.listeners) l(item)
  }

  /** The newest items, newest first. */
  recent(n = this.keep): FeedItem[] {
    return this.items.slice(-n).reverse()
  }

  /** Undefined when the listener cap is reached. */
  subscribe(fn: (item: FeedItem) => void): (() => void) | undefined {
    if (this.listeners.size >= this.maxListeners) return undefined
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }
}
