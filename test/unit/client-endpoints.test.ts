// `meshlet endpoints`, `ls` and `status` (issue 12): which endpoints a person is shown.
import { describe, expect, test } from 'vitest'
import { liveEndpoints } from '../../src/client/apps-commands.js'
import { endpointsText } from '../../src/client/workload-commands.js'
import type { WorkloadStatusOutput } from '../../src/client/meshlet-client.js'

const http = (host: string) => [{ name: "http", url: `http://${host}:24001` as `${string}:${string}` }]

function status(replicas: WorkloadStatusOutput['replicas'], won: string[], lost: string[] = []): WorkloadStatusOutput {
  return {
    uri: 'at://did:plc:a/commune.scheduler.workload/3jzfcijpj2z2a',
    state: 'running',
    replicas,
    bids: [...won.map((m) => ({ meshlet: m, outcome: 'won', reason: 'won' })), ...lost.map((m) => ({ meshlet: m, outcome: 'lost', reason: 'lost' }))],
  } as WorkloadStatusOutput
}

describe('liveEndpoints', () => {
  test("running replicas the placement counts; a dead holder's stale record and non-running ones are left out", () => {
    const s = status(
      [
        { meshlet: 'did:plc:new', state: 'running', endpoints: http('new.example') },
        { meshlet: 'did:plc:dead', state: 'running', endpoints: http('dead.example') },
        { meshlet: 'did:plc:starting', state: 'starting', endpoints: http('starting.example') },
      ],
      ['did:plc:new'],
      ['did:plc:dead'],
    )
    expect(liveEndpoints(s)).toEqual([{ meshlet: 'did:plc:new', name: 'http', url: 'http://new.example:24001' }])
  })

  test('one row per port; none when no replica publishes', () => {
    const two = status([{ meshlet: 'did:plc:m', state: 'running', endpoints: [...http('m'), { name: 'dns', url: 'udp://m:24002' as const }] }], ['did:plc:m'])
    expect(liveEndpoints(two).map((r) => r.name)).toEqual(['http', 'dns'])
    expect(liveEndpoints(status([{ meshlet: 'did:plc:m', state: 'running' }], ['did:plc:m']))).toEqual([])
  })
})

describe('endpointsText', () => {
  test('name=url pairs in one cell, nothing when none', () => {
    expect(endpointsText([...http('m'), { name: 'dns', url: 'udp://m:24002' as const }])).toBe('http=http://m:24001 dns=udp://m:24002')
    expect(endpointsText([])).toBeUndefined()
    expect(endpointsText(undefined)).toBeUndefined()
  })
})
