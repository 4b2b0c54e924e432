// Binaries from a URL (issue 13): the size cap, the hash check and the guest rule, against a real loopback server.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import type net from 'node:net'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpArtifactStore } from '../../src/adapters/http/artifact-store.js'
import { artifactPathOf } from '../../src/core/secrets.js'

const body = Buffer.alloc(4096, 1)
const sha = createHash('sha256').update(body).digest('hex')
let server: http.Server
let base = ''
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-artifacts-'))

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // /chunked sends no content-length: the cap must hold while streaming.
    if (req.url === '/chunked') {
      res.write(body)
      res.end(body)
      return
    }
    res.writeHead(200, { 'content-length': body.length })
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((r) => server.close(r))
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('HttpArtifactStore', () => {
  it('keeps a verified binary by its hash, read-only', async () => {
    const store = new HttpArtifactStore(path.join(dir, 'a'))
    const file = await store.fetch({ url: `${base}/tool`, sha256: sha, args: [] }, { guest: false })
    expect(path.basename(file)).toBe(sha)
    expect(fs.statSync(file).mode & 0o777).toBe(0o555)
  })

  it('refuses too large, by its declared length and while streaming', async () => {
    const store = new HttpArtifactStore(path.join(dir, 'b'), { maxBytes: 4095 })
    await expect(store.fetch({ url: `${base}/tool`, sha256: sha, args: [] }, { guest: false })).rejects.toThrow(/too large: 4096 bytes, over the 4095/)
    await expect(store.fetch({ url: `${base}/chunked`, sha256: sha, args: [] }, { guest: false })).rejects.toThrow(/too large: over the 4095 bytes/)
    expect(fs.readdirSync(path.join(dir, 'b'))).toEqual([]) // no partial file left
  })

  it("refuses a guest's URL on a local address before any request", async () => {
    const store = new HttpArtifactStore(path.join(dir, 'c'))
    await expect(store.fetch({ url: `${base}/tool`, sha256: sha, args: [] }, { guest: true })).rejects.toThrow(/is a loopback address: refused for other owners' workloads/)
  })

  it('names the mount after the URL when it is a plain file name', () => {
    expect(artifactPathOf('https://x.example/dl/busybox')).toBe('/meshlet/bin/busybox')
    expect(artifactPathOf('https://x.example/dl/')).toBe('/meshlet/bin/artifact')
    expect(artifactPathOf('https://x.example/%2e%2e')).toBe('/meshlet/bin/artifact')
  })
})
