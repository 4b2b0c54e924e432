// Firehose cursors and small local state in <dataDir>/meshlet.sqlite (node:sqlite, built into
// Node 24: no native addon to break on a Node upgrade). WAL so a crash never loses a committed cursor.
import fs from 'node:fs'
import path from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { MeshletError } from '../../errors.js'
import type { CursorStore } from '../../ports/cursor-store.js'

export const CURSOR_DB_FILE = 'meshlet.sqlite'

export class CursorStoreError extends MeshletError {
  constructor(public readonly file: string, reason: string, opts?: { cause?: unknown }) {
    super(`cursor store ${file}: ${reason}`, opts)
  }
}

export class SqliteCursorStore implements CursorStore {
  private readonly getCursorStmt: StatementSync
  private readonly setCursorStmt: StatementSync
  private readonly getStateStmt: StatementSync
  private readonly setStateStmt: StatementSync
  private closed = false

  private constructor(
    private readonly db: DatabaseSync,
    readonly file: string,
  ) {
    this.getCursorStmt = db.prepare('SELECT seq FROM cursor WHERE source = ?')
    this.setCursorStmt = db.prepare('INSERT INTO cursor (source, seq) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET seq = excluded.seq')
    this.getStateStmt = db.prepare('SELECT value FROM state WHERE key = ?')
    this.setStateStmt = db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
  }

  /** Opens (creating if needed) `<dataDir>/meshlet.sqlite`. */
  static open(dataDir: string): SqliteCursorStore {
    const file = path.join(dataDir, CURSOR_DB_FILE)
    try {
      fs.mkdirSync(dataDir, { recursive: true })
      const db = new DatabaseSync(file)
      db.exec('PRAGMA journal_mode = WAL')
      db.exec('PRAGMA synchronous = NORMAL')
      db.exec('PRAGMA busy_timeout = 5000')
      db.exec('CREATE TABLE IF NOT EXISTS cursor (source TEXT PRIMARY KEY, seq INTEGER NOT NULL)')
      db.exec('CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
      return new SqliteCursorStore(db, file)
    } catch (err) {
      throw new CursorStoreError(file, `cannot open: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  async getCursor(source: string): Promise<number | undefined> {
    this.assertOpen()
    const row = this.getCursorStmt.get(source) as { seq: number | bigint } | undefined
    return row === undefined ? undefined : Number(row.seq)
  }

  async setCursor(source: string, seq: number): Promise<void> {
    this.assertOpen()
    if (!Number.isSafeInteger(seq) || seq < 0) throw new CursorStoreError(this.file, `cursor for ${source} must be a non-negative integer (got ${seq})`)
    this.setCursorStmt.run(source, seq)
  }

  async getState<T>(key: string): Promise<T | undefined> {
    this.assertOpen()
    const row = this.getStateStmt.get(key) as { value: string } | undefined
    if (row === undefined) return undefined
    try {
      return JSON.parse(row.value) as T
    } catch (err) {
      throw new CursorStoreError(this.file, `state "${key}" is not valid JSON`, { cause: err })
    }
  }

  async setState<T>(key: string, value: T): Promise<void> {
    this.assertOpen()
    const json = JSON.stringify(value)
    if (json === undefined) throw new CursorStoreError(this.file, `state "${key}" cannot be stored (not JSON-serialisable)`)
    this.setStateStmt.run(key, json)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }

  private assertOpen(): void {
    if (this.closed) throw new CursorStoreError(this.file, 'is closed')
  }
}
