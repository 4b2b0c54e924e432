// The byte-capped log tail (getLogs, issue 17): Docker's multiplexed frames cut anywhere between
// chunks still give the same lines, and the newest output is kept within the cap.
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import { describe, expect, test } from 'vitest'
import { demuxLogs, LogTail } from '../../src/adapters/docker/logs.js'
import { EvictionFileError, FileEvictionStore } from '../../src/adapters/store/eviction-file-store.js'

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8')
  const head = Buffer.alloc(8)
  head[0] = stream
  head.writeUInt32BE(payload.length, 4)
  return Buffer.concat([head, payload])
}

describe('LogTail', () => {
  const buf = Buffer.concat([frame(1, 'héllo\nwor'), frame(2, 'oops\n'), frame(1, 'ld\nlast'), frame(2, 'é\n')])
  const whole = [
    { stream: 'stdout', text: 'héllo' },
    { stream: 'stderr', text: 'oops' },
    { stream: 'stdout', text: 'world' },
    { stream: 'stderr', text: 'é' },
    { stream: 'stdout', text: 'last' },
  ]

  test('frames and characters cut at every byte boundary give the same lines', () => {
    expect(demuxLogs(buf)).toEqual(whole)
    for (let cut = 1; cut < buf.length; cut++) {
      const t = new LogTail()
      t.feed(buf.subarray(0, cut))
      t.feed(buf.subarray(cut))
      expect(t.end(), `cut at ${cut}`).toEqual(whole)
    }
  })

  test('keeps the newest lines within the byte cap and says it cut', () => {
    const t = new LogTail(1000)
    for (let i = 0; i < 1000; i++) t.feed(frame(1, `line ${String(i).padStart(4, '0')} ${'x'.repeat(40)}\n`))
    const lines = t.end()
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0)
    expect(bytes).toBeLessThanOrEqual(1000)
    expect(bytes).toBeGreaterThan(1000 - 51)
    expect(lines.at(-1)!.text).toBe(`line 0999 ${'x'.repeat(40)}`)
    expect(lines.truncated).toBe(true)
    const small = new LogTail(1000)
    small.feed(frame(1, 'a\nb\n'))
    expect(small.end().truncated).toBeUndefined()
  })

  test('one endless line keeps only its newest part', () => {
    const t = new LogTail(100)
    for (let i = 0; i < 50; i++) t.feed(Buffer.from('0123456789'.repeat(10)))
    const lines = t.end()
    expect(lines).toHaveLength(1)
    expect(Buffer.byteLength(lines[0]!.text) + 1).toBeLessThanOrEqual(100)
    expect(lines[0]!.text.endsWith('0123456789')).toBe(true)
    expect(lines.truncated).toBe(true)
  })

  test('a TTY container (no frames) is plain stdout', () => {
    const t = new LogTail()
    t.feed(Buffer.from('plain\r\nout'))
    expect(t.end()).toEqual([
      { stream: 'stdout', text: 'plain' },
      { stream: 'stdout', text: 'out' },
    ])
  })
})

describe('FileEvictionStore', () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-evict-'))
  const uri = 'at://did:plc:bob/commune.scheduler.workload/3lguest'

  test('an eviction survives a reopen; undo too', async () => {
    const d = dir()
    const a = FileEvictionStore.open(d)
    expect(a.has(uri)).toBe(false)
    await a.add(uri)
    expect(FileEvictionStore.open(d).has(uri)).toBe(true)
    expect(FileEvictionStore.open(d).list()).toEqual([uri])
    await a.remove(uri)
    expect(FileEvictionStore.open(d).has(uri)).toBe(false)
    fs.rmSync(d, { recursive: true })
  })

  test('a corrupt file is a clear error naming it, not an empty list', () => {
    const d = dir()
    fs.writeFileSync(path.join(d, 'evictions.json'), '{"evicted": "all"}')
    expect(() => FileEvictionStore.open(d)).toThrow(EvictionFileError)
    expect(() => FileEvictionStore.open(d)).toThrow(/evictions\.json: expected \{"evicted": \["at:\/\/\.\.\."\]\}/)
    fs.rmSync(d, { recursive: true })
  })
})
