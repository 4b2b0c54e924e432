import type { CursorStore } from '../../ports/cursor-store.js'

/** In-memory CursorStore for unit tests and simulations. State is copied in and out, like a real store. */
export class MemoryCursorStore implements CursorStore {
  readonly cursors = new Map<string, number>()
  private readonly state = new Map<string, string>()

  async getCursor(source: string): Promise<number | undefined> {
    return this.cursors.get(source)
  }

  async setCursor(source: string, seq: number): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`cursor for ${source} must be a non-negative integer (got ${seq})`)
    this.cursors.set(source, seq)
  }

  async getState<T>(key: string): Promise<T | undefined> {
    const v = this.state.get(key)
    return v === undefined ? undefined : (JSON.parse(v) as T)
  }

  async setState<T>(key: string, value: T): Promise<void> {
    const json = JSON.stringify(value)
    if (json === undefined) throw new Error(`state "${key}" is not JSON-serialisable`)
    this.state.set(key, json)
  }

  async close(): Promise<void> {}
}
