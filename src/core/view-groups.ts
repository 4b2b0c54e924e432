// The unit the view's caps take from (core/view.ts): records grouped by repo+collection, with their
// approximate bytes, and each group's highest record key. A full view asks for that key on every
// record it refuses; a scan of the group made each refusal cost the group's size, so a flood at
// the bound cost O(n) per record. A max-heap per group (stale entries dropped lazily) makes it
// O(log n).
import type { AtUri } from './types.js'

interface Group {
  /** uri -> approximate bytes */
  records: Map<AtUri, number>
  bytes: number
  /** Max-heap of uris by record key; may hold uris no longer in `records` (dropped when on top). */
  heap: AtUri[]
}

/** "at://did/collection" of a record uri (a record key never contains "/"). */
export function groupOf(uri: AtUri): string {
  return uri.slice(0, uri.lastIndexOf('/'))
}

export function rkeyOf(uri: AtUri): string {
  return uri.slice(uri.lastIndexOf('/') + 1)
}

export class RecordGroups {
  private readonly groups = new Map<string, Group>()
  /** Records held, all groups. */
  held = 0
  /** Approximate bytes held, all groups. */
  heldBytes = 0

  hold(uri: AtUri, bytes: number): void {
    const key = groupOf(uri)
    let g = this.groups.get(key)
    if (!g) this.groups.set(key, (g = { records: new Map(), bytes: 0, heap: [] }))
    if (g.records.has(uri)) return
    g.records.set(uri, bytes)
    g.bytes += bytes
    this.held++
    this.heldBytes += bytes
    push(g.heap, uri)
    // Stale entries pile up when records are replaced or deleted: rebuild before they outgrow the group.
    if (g.heap.length > 2 * g.records.size + 16) g.heap = heapOf([...g.records.keys()])
  }

  /** Forget `uri`; its bytes, or undefined when it was not held. */
  release(uri: AtUri): number | undefined {
    const key = groupOf(uri)
    const g = this.groups.get(key)
    const bytes = g?.records.get(uri)
    if (!g || bytes === undefined) return undefined
    g.records.delete(uri)
    g.bytes -= bytes
    this.held--
    this.heldBytes -= bytes
    if (g.records.size === 0) this.groups.delete(key)
    return bytes
  }

  keys(): IterableIterator<string> {
    return this.groups.keys()
  }

  count(key: string): number {
    return this.groups.get(key)?.records.size ?? 0
  }

  bytes(key: string): number {
    return this.groups.get(key)?.bytes ?? 0
  }

  /** The uri with the highest record key in the group, if it holds any. */
  top(key: string): AtUri | undefined {
    const g = this.groups.get(key)
    if (!g) return undefined
    while (g.heap.length > 0 && !g.records.has(g.heap[0]!)) pop(g.heap)
    return g.heap[0]
  }
}

const above = (a: AtUri, b: AtUri): boolean => rkeyOf(a) > rkeyOf(b)

function push(heap: AtUri[], uri: AtUri): void {
  heap.push(uri)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!above(heap[i]!, heap[parent]!)) break
    ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
    i = parent
  }
}

function pop(heap: AtUri[]): void {
  const last = heap.pop()!
  if (heap.length === 0) return
  heap[0] = last
  sink(heap, 0)
}

function sink(heap: AtUri[], from: number): void {
  let i = from
  for (;;) {
    const l = 2 * i + 1
    const r = l + 1
    let top = i
    if (l < heap.length && above(heap[l]!, heap[top]!)) top = l
    if (r < heap.length && above(heap[r]!, heap[top]!)) top = r
    if (top === i) return
    ;[heap[i], heap[top]] = [heap[top]!, heap[i]!]
    i = top
  }
}

function heapOf(uris: AtUri[]): AtUri[] {
  for (let i = (uris.length >> 1) - 1; i >= 0; i--) sink(uris, i)
  return uris
}
