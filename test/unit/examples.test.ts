// The workload files in examples/ are what people copy: each must pass the CLI's checks (lexicon
// and the services rules) and decode on a peer exactly as its comments promise.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { parseWorkloadFile, unknownKeyWarnings } from '../../src/client/submit.js'
import { decodeRecord } from '../../src/adapters/atproto/decode.js'
import { NSID, type Workload } from '../../src/core/types.js'

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples')

function load(file: string): Workload {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8')
  const record = parseWorkloadFile(text, file, new Date('2026-01-01T00:00:00Z'))
  expect(unknownKeyWarnings(record)).toEqual([])
  const ev = decodeRecord({ did: 'did:plc:alice', collection: NSID.workload, rkey: '3jzfcijpj2z2a', cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm', value: record })
  if (ev?.op !== 'put' || ev.record.collection !== NSID.workload) throw new Error(`${file} does not decode: ${JSON.stringify(ev)}`)
  return ev.record.value
}

describe('examples/', () => {
  test('every example is covered here', () => {
    expect(fs.readdirSync(DIR).sort()).toEqual(['hello.yaml', 'http-api.yaml', 'nightly-batch.yaml', 'notes-with-volume.yaml', 'static-site.yaml'])
  })

  test('hello: one replica, no ports', () => {
    const w = load('hello.yaml')
    expect(w.replicas).toBe(1)
    expect(w.ports).toBeUndefined()
  })

  test('static site: busybox httpd on a published tcp port', () => {
    const w = load('static-site.yaml')
    expect(w.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'tcp' }])
    expect(w.command?.join(' ')).toContain('httpd -f -p 8080')
    expect(w.kind).toBe('service')
  })

  test('http api: two replicas, each with its own endpoint', () => {
    const w = load('http-api.yaml')
    expect(w.replicas).toBe(2)
    expect(w.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'tcp' }])
  })

  test('nightly batch: runs to completion, no network', () => {
    const w = load('nightly-batch.yaml')
    expect(w.kind).toBe('batch')
    expect(w.network).toBe('none')
    expect(w.restart).toEqual({ policy: 'on-failure', maxRetries: 2 })
    expect(w.ports).toBeUndefined()
  })

  test('service with a volume: the volume, its mount and a bound on storage', () => {
    const w = load('notes-with-volume.yaml')
    expect(w.volumes).toEqual([{ name: 'data', target: '/data' }])
    expect(w.ports?.[0]?.containerPort).toBe(8080)
    expect(w.resources.storageMb).toBe(256)
  })

  test('the CLI refuses what a peer would refuse (a port name twice)', () => {
    const bad = 'name: x\nimage: meshlet/busybox:test\nreplicas: 1\nresources: { cpuMillis: 100, memoryMb: 32 }\nports: [ { name: http, containerPort: 80 }, { name: http, containerPort: 81 } ]\n'
    expect(() => parseWorkloadFile(bad, 'x.yaml', new Date())).toThrow(/ports\[1\]\.name "http" is used twice/)
    const badVol = 'name: x\nimage: meshlet/busybox:test\nreplicas: 1\nresources: { cpuMillis: 100, memoryMb: 32 }\nvolumes: [ { name: data, target: "../etc" } ]\n'
    expect(() => parseWorkloadFile(badVol, 'x.yaml', new Date())).toThrow(/volumes\[0\]\.target/)
  })
})
