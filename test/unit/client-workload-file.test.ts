// What `meshlet submit` accepts and how it explains a file it rejects (before anything is written).
import { describe, expect, test } from 'vitest'
import { parseWorkloadFile, workloadUri } from '../../src/client/commands.js'
import { UsageError, WorkloadFileError } from '../../src/client/errors.js'

const now = new Date('2026-01-02T03:04:05.000Z')
const good = { name: 'web', image: 'meshlet/busybox:test', replicas: 2, resources: { cpuMillis: 250, memoryMb: 64 } }
const json = (v: unknown) => JSON.stringify(v)

describe('parseWorkloadFile accepts', () => {
  test('a minimal JSON workload, filling $type and createdAt', () => {
    expect(parseWorkloadFile(json(good), 'web.json', now)).toEqual({
      ...good,
      $type: 'commune.scheduler.workload',
      createdAt: '2026-01-02T03:04:05.000Z',
    })
  })

  test('the same workload in YAML, with optional fields kept as written', () => {
    const yaml = [
      'name: web',
      'image: meshlet/busybox:test',
      'replicas: 2',
      'resources: { cpuMillis: 250, memoryMb: 64 }',
      'command: [/bin/sh, -c, "echo hi"]',
      'env:',
      '  - { name: GREETING, value: hello }',
      'constraints: { roles: [edge], privacy: owner-only }',
    ].join('\n')
    const rec = parseWorkloadFile(yaml, 'web.yaml', now)
    expect(rec).toMatchObject({ ...good, command: ['/bin/sh', '-c', 'echo hi'], env: [{ name: 'GREETING', value: 'hello' }] })
    expect(rec.constraints).toEqual({ roles: ['edge'], privacy: 'owner-only' })
  })

  test('an explicit createdAt is kept', () => {
    const rec = parseWorkloadFile(json({ ...good, createdAt: '2025-05-05T05:05:05.000Z' }), 'w.json', now)
    expect(rec.createdAt).toBe('2025-05-05T05:05:05.000Z')
  })
})

describe('parseWorkloadFile rejects, naming the field', () => {
  test.each<[string, string, string, string | undefined, RegExp]>([
    ['replicas 0', 'w.json', json({ ...good, replicas: 0 }), 'replicas', /replicas: integer too small \(minimum 1, got 0\)/],
    ['replicas as text', 'w.json', json({ ...good, replicas: 'two' }), 'replicas', /replicas: .*integer/],
    ['fractional cpu', 'w.json', json({ ...good, resources: { cpuMillis: 0.5, memoryMb: 64 } }), 'resources.cpuMillis', /resources\.cpuMillis: .*integer/],
    ['missing memory', 'w.json', json({ ...good, resources: { cpuMillis: 100 } }), 'resources.memoryMb', /resources\.memoryMb: required but missing/],
    ['missing image', 'w.json', json({ ...good, image: undefined }), 'image', /image: required but missing/],
    ['an env var without value', 'w.json', json({ ...good, env: [{ name: 'A' }] }), 'env[0].value', /env\[0\]\.value: required/],
    ['a member that is not a DID', 'w.yaml', 'name: w\nimage: i\nreplicas: 1\nresources: {cpuMillis: 1, memoryMb: 6}\nconstraints: {members: [bob]}', 'constraints.members[0]', /Invalid DID/],
    ['an empty name', 'w.json', json({ ...good, name: '' }), 'name', /name: string too small/],
    ['a bad createdAt', 'w.json', json({ ...good, createdAt: 'yesterday' }), 'createdAt', /createdAt: Invalid datetime/],
    ['another record type', 'w.json', json({ ...good, $type: 'app.bsky.feed.post' }), '$type', /expected commune\.scheduler\.workload/],
    ['broken JSON', 'w.json', '{"name": "x",', undefined, /not valid JSON/],
    ['broken YAML', 'w.yaml', 'name: x\nimage: [unclosed', undefined, /not valid YAML or JSON: .*line 2/],
    ['a list instead of an object', 'w.yaml', '- a\n- b', undefined, /expected one workload object/],
  ])('%s', (_name, file, text, field, message) => {
    let caught: unknown
    try {
      parseWorkloadFile(text, file, now)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(WorkloadFileError)
    const e = caught as WorkloadFileError
    expect(e.field).toBe(field)
    expect(e.message).toMatch(message)
    expect(e.message.startsWith(`${file}: `)).toBe(true)
  })
})

describe('workloadUri', () => {
  const me = { did: 'did:plc:ownerownerownerownerowne' }
  test.each([
    ['a record key means my own workload', '3lwebwebweb22', `at://${me.did}/commune.scheduler.workload/3lwebwebweb22`],
    ['a full URI is kept', 'at://did:plc:someoneelse00000000000/commune.scheduler.workload/3k', 'at://did:plc:someoneelse00000000000/commune.scheduler.workload/3k'],
    ['surrounding spaces are ignored', '  3lx  ', `at://${me.did}/commune.scheduler.workload/3lx`],
  ])('%s', (_name, input, expected) => {
    expect(workloadUri(me, input)).toBe(expected)
  })

  test.each([
    ['a URI of another collection', `at://did:plc:x/app.bsky.feed.post/3k`, /not a workload record/],
    ['a URI without a record key', `at://did:plc:x/commune.scheduler.workload`, /not a workload record/],
    ['something that is not a URI', 'https://example.com/x', /not a workload/],
  ])('rejects %s', (_name, input, message) => {
    expect(() => workloadUri(me, input)).toThrow(UsageError)
    expect(() => workloadUri(me, input)).toThrow(message)
  })
})
