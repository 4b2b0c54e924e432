import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { MemoryCursorStore } from '../../src/adapters/memory/memory-cursor-store.js'
import { CURSOR_DB_FILE, SqliteCursorStore } from '../../src/adapters/store/sqlite-cursor-store.js'
import type { CursorStore } from '../../src/ports/cursor-store.js'

const dirs: string[] = []
const stores: CursorStore[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-cursor-'))
  dirs.push(d)
  return d
}

describe('SqliteCursorStore', () => {
  test('cursors and state survive close and reopen, in <dataDir>/meshlet.sqlite (WAL)', async () => {
    const dir = path.join(tempDir(), 'nested', 'data')
    const a = SqliteCursorStore.open(dir)
    expect(a.file).toBe(path.join(dir, CURSOR_DB_FILE))
    expect(await a.getCursor('ws://pds-a')).toBeUndefined()
    await a.setCursor('ws://pds-a', 41)
    await a.setCursor('ws://pds-a', 42)
    await a.setCursor('ws://pds-b', 7)
    await a.setState('known:x', ['r1', 'r2'])
    expect(fs.existsSync(`${a.file}-wal`)).toBe(true)
    await a.close()

    const b = SqliteCursorStore.open(dir)
    stores.push(b)
    expect(await b.getCursor('ws://pds-a')).toBe(42)
    expect(await b.getCursor('ws://pds-b')).toBe(7)
    expect(await b.getState<string[]>('known:x')).toEqual(['r1', 'r2'])
    expect(await b.getState('missing')).toBeUndefined()
  })

  test('bad cursors are refused with a clear error; a closed store says so', async () => {
    const s = SqliteCursorStore.open(tempDir())
    await expect(s.setCursor('ws://x', -1)).rejects.toThrow(/must be a non-negative integer \(got -1\)/)
    await expect(s.setCursor('ws://x', 1.5)).rejects.toThrow(/non-negative integer/)
    await s.close()
    await expect(s.getCursor('ws://x')).rejects.toThrow(/is closed/)
  })

  test('a data dir that cannot be created gives a readable error', () => {
    const file = path.join(tempDir(), 'a-file')
    fs.writeFileSync(file, 'x')
    expect(() => SqliteCursorStore.open(path.join(file, 'sub'))).toThrow(/cursor store .*cannot open/)
  })
})

describe('MemoryCursorStore', () => {
  test('keeps cursors and copies state in and out', async () => {
    const s = new MemoryCursorStore()
    await s.setCursor('ws://a', 3)
    expect(await s.getCursor('ws://a')).toBe(3)
    const v = { list: [1] }
    await s.setState('k', v)
    v.list.push(2)
    expect(await s.getState('k')).toEqual({ list: [1] })
    await expect(s.setCursor('ws://a', -2)).rejects.toThrow(/non-negative integer/)
  })
})
