// Binaries from a URL (issue 13): a static binary (busybox) served from a loopback HTTP server of
// this test runs, checked by its SHA-256, read-only in a container of the sandbox base image, and
// exits with its own code; a wrong hash and an unreachable URL fail with that reason, once.
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'

describe('artifacts: binaries from a URL', () => {
  let c: DevCommune
  let server: http.Server
  let base = ''
  let requests = 0
  const binary = fs.readFileSync('/bin/busybox')
  const sha256 = createHash('sha256').update(binary).digest('hex')

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++
      if (req.url === '/busybox') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': binary.length })
        res.end(binary)
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
    c = await DevCommune.create({ pdsCount: 1, members: [{ name: 'ann' }], leaseMs: 8000, bidWindowMs: 500 })
    await c.startAll()
  }, 120_000)

  afterAll(async () => {
    await c?.close()
    await new Promise((r) => server?.close(r))
  })

  const job = (name: string, artifact: Record<string, unknown>) => ({ name, image: 'meshlet/busybox:test', kind: 'batch', replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, artifact })
  const statusOf = (uri: string) => c.peers()[0]!.view.statusesFor(uri)[0]
  const final = (uri: string) => {
    const s = statusOf(uri)
    return s && (s.state === 'exited' || s.state === 'failed') ? s : undefined
  }

  test('the right hash runs and exits with its code; a wrong hash and an unreachable URL fail with the reason', async () => {
    const ann = c.member('ann')
    // busybox sees its own name as argv[0] (/meshlet/bin/busybox) and runs the applet named next; the mount is read-only.
    const ok = await c.publishWorkload(ann, job('artifact-ok', { url: `${base}/busybox`, sha256, args: ['sh', '-c', 'echo x > /meshlet/bin/busybox 2>/dev/null && exit 1; exit 7'] }))
    const wrong = await c.publishWorkload(ann, job('artifact-wrong-hash', { url: `${base}/busybox`, sha256: '0'.repeat(64), args: [] }))
    // Another hash: an artifact already kept by its hash runs from the store, whatever its URL says.
    const gone = await c.publishWorkload(ann, job('artifact-unreachable', { url: 'http://127.0.0.1:9/busybox', sha256: 'a'.repeat(64), args: [] }))
    const done = await waitFor(() => final(ok.uri), { what: 'the artifact job to exit', timeoutMs: 60_000, onTimeout: () => JSON.stringify(statusOf(ok.uri)) })
    expect(done.state).toBe('exited')
    expect(done.exitCode).toBe(7)
    const bad = await waitFor(() => final(wrong.uri), { what: 'the wrong hash to fail', timeoutMs: 60_000 })
    expect(bad.state).toBe('failed')
    expect(bad.message).toContain(`sha256 is ${sha256}, expected ${'0'.repeat(64)}: refused`)
    const unreachable = await waitFor(() => final(gone.uri), { what: 'the unreachable URL to fail', timeoutMs: 60_000 })
    expect(unreachable.state).toBe('failed')
    expect(unreachable.message).toMatch(/artifact http:\/\/127\.0\.0\.1:9\/busybox: unreachable/)
    // No retry storm: the good one was fetched once (then kept by hash), the wrong one once.
    const before = requests
    await new Promise((r) => setTimeout(r, 3000))
    expect(requests).toBe(before)
    expect(requests).toBeLessThanOrEqual(2)
  }, 150_000)
})
