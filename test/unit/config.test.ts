import { describe, expect, test } from 'vitest'
import { loadRunConfig, runHelp, RUN_OPTIONS } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'

const base = ['--did', 'did:plc:meshlet1', '--owner', 'did:plc:alice', '--password', 'pw', '--endpoint', 'https://m1.example']

describe('run config', () => {
  test('flags, env and defaults combine; flags win over env', () => {
    const cfg = loadRunConfig([...base, '--port', '3000', '--labels', 'zone=home,arch=amd64'], {
      MESHLET_PORT: '4000',
      MESHLET_CLUSTER_MEMBERS: 'did:plc:bob, did:plc:carol',
      MESHLET_ROLES: 'worker,storage',
    })
    expect(cfg.port).toBe(3000)
    expect(cfg.clusterMembers).toEqual(['did:plc:bob', 'did:plc:carol'])
    expect(cfg.roles).toEqual(['worker', 'storage'])
    expect(cfg.labels).toEqual([
      { key: 'zone', value: 'home' },
      { key: 'arch', value: 'amd64' },
    ])
    expect(cfg.plc).toBe('https://plc.directory')
    expect(cfg.allowHttp).toBe(false) // loopback http is an explicit dev option
    expect(cfg.leaseMs).toBe(15000)
  })

  test('--min-owner-balance is optional (no minimum), a whole number that may be negative, and says what is wrong', () => {
    expect(loadRunConfig(base, {}).minOwnerBalance).toBeUndefined()
    expect(loadRunConfig([...base, '--min-owner-balance=-360000'], {}).minOwnerBalance).toBe(-360000)
    expect(loadRunConfig(base, { MESHLET_MIN_OWNER_BALANCE: '3600' }).minOwnerBalance).toBe(3600)
    expect(() => loadRunConfig([...base, '--min-owner-balance', '1.5'], {})).toThrow('--min-owner-balance (MESHLET_MIN_OWNER_BALANCE) must be a whole number of unit-seconds')
    expect(() => loadRunConfig([...base, '--fair-share-half-life-ms', '1000'], {})).toThrow(ConfigError) // the decay is a protocol constant now
  })

  test('every flag has an env var named MESHLET_*', () => {
    for (const o of Object.values(RUN_OPTIONS)) expect(o.env).toMatch(/^MESHLET_[A-Z_]+$/)
    expect(runHelp()).toContain('--cluster-members')
    expect(runHelp()).toContain('MESHLET_PASSWORD')
  })

  test.each([
    ['bad DID', ['--did', 'alice', '--owner', 'did:plc:alice', '--password', 'x'], /--did \(MESHLET_DID\) must be a did:plc or did:web DID/],
    ['missing password', ['--did', 'did:plc:m', '--owner', 'did:plc:alice'], /--password \(MESHLET_PASSWORD\) is required/],
    ['missing owner', ['--did', 'did:plc:m', '--password', 'x'], /--owner \(MESHLET_OWNER\) is required/],
    ['port out of range', [...base, '--port', '70000'], /--port \(MESHLET_PORT\)/],
    ['port not a number', [...base, '--port', 'http'], /--port \(MESHLET_PORT\) must be a whole number/],
    ['bad PLC URL', [...base, '--plc', 'not a url'], /--plc \(MESHLET_PLC\) must be a URL/],
    ['bad member DID', [...base, '--cluster-members', 'did:plc:ok,bob'], /--cluster-members \(MESHLET_CLUSTER_MEMBERS\)/],
    ['label without =', [...base, '--labels', 'zone'], /labels are key=value/],
    ['unknown flag', [...base, '--frobnicate', '1'], /^unknown flag --frobnicate \(see 'meshlet run --help'\)$/],
    ['flag typo', [...base, '--cluster-member', 'did:plc:x'], /unknown flag --cluster-member; did you mean --cluster-members\?/],
  ])('%s gives one readable line naming the flag', (_name, argv, message) => {
    let err: unknown
    try {
      loadRunConfig(argv as string[], {})
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toMatch(message)
  })
})
