/** Durable per-source firehose cursors and small local state (survives restarts). */
export interface CursorStore {
  getCursor(source: string): Promise<number | undefined>
  setCursor(source: string, seq: number): Promise<void>
  getState<T>(key: string): Promise<T | undefined>
  setState<T>(key: string, value: T): Promise<void>
  close(): Promise<void>
}
