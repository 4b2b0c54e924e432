// Flag handling of the client commands: mistakes are caught before any network call, with a
// message naming the flag (and its env var) to fix.
import { describe, expect, test } from 'vitest'
import { CLIENT_HELP, explainSetup, runClientCommand } from '../../src/client/cli-commands.js'

const creds = ['--as', 'did:plc:ownerownerownerownerowne', '--password', 'pw', '--pds', 'http://127.0.0.1:9']

describe('runClientCommand', () => {
  test('is not interested in commands it does not own', async () => {
    expect(await runClientCommand('run', [], {})).toBeUndefined()
    expect(await runClientCommand('frobnicate', [], {})).toBeUndefined()
  })

  test.each([
    ['submit', ['x.json'], /who are you\? give --as <handle\|did> or set MESHLET_USER/],
    ['ls', ['--as', 'alice.test'], /--password \(MESHLET_USER_PASSWORD\) is required/],
    ['ls', ['--as', 'alice.test', '--password', 'pw'], /give --pds \(MESHLET_USER_PDS\) when logging in by handle/],
    ['status', [...creds], /expects <name\|id\|uri>/],
    ['ls', [...creds, 'extra'], /takes no arguments/],
    ['logs', ['3labc', ...creds, '--tail', '0'], /--tail must be a whole number from 1 to 10000, got 0/],
    ['logs', ['3labc', ...creds, '--tail', 'lots'], /--tail must be a whole number/],
    ['ls', [...creds, '--meshlet', 'bob'], /--meshlet must be a DID/],
    ['ls', [...creds, '--bogus'], /^meshlet ls: unknown flag --bogus\nusage: /],
    ['ls', [...creds, '--plcc', 'http://x'], /unknown flag --plcc; did you mean --plc\?/],
    ['submit', ['w.yaml', ...creds, '--stirct'], /unknown flag --stirct; did you mean --strict\?/],
    ['pause', ['3labc', ...creds, '--no-drain'], /--no-drain is only for shutdown/],
    ['stop', [...creds], /expects <name\|id\|uri>/],
    ['shutdown', ['alice.test', ...creds], /"alice\.test" is not a meshlet DID/],
    ['capacity', ['bob', ...creds], /"bob" is not a meshlet DID/],
  ])('%s %j: exit 2 with a message', async (cmd, args, message) => {
    const res = await runClientCommand(cmd, args, {})
    expect(res?.code).toBe(2)
    expect(res?.text).toMatch(message)
  })

  test('credentials can come from the environment', async () => {
    // Everything is there, so it gets as far as logging in, which fails on the closed port.
    const res = await runClientCommand('ls', [], { MESHLET_USER: 'alice.test', MESHLET_USER_PASSWORD: 'pw', MESHLET_USER_PDS: 'http://127.0.0.1:9' })
    expect(res?.code).toBe(1)
    expect(res?.text).toMatch(/cannot log in as alice\.test/)
    expect(res?.text).toMatch(/set it with --pds or MESHLET_USER_PDS/)
    expect(res?.warnings).toEqual([])
  })

  test('the old MESHLET_OWNER* variables still work, with a deprecation note', async () => {
    const res = await runClientCommand('ls', [], { MESHLET_OWNER: 'alice.test', MESHLET_OWNER_PASSWORD: 'pw', MESHLET_OWNER_PDS: 'http://127.0.0.1:9' })
    expect(res?.code).toBe(1)
    expect(res?.text).toMatch(/cannot log in as alice\.test/)
    expect(res?.warnings).toContain("note: MESHLET_OWNER is deprecated for client commands (it reads like the peer's owner); use MESHLET_USER")
  })

  test('a DID that the PLC cannot resolve names the directory and the flag that sets it', async () => {
    const res = await runClientCommand('ls', [], { MESHLET_USER: 'did:plc:ownerownerownerownerowne', MESHLET_USER_PASSWORD: 'pw', MESHLET_PLC: 'http://127.0.0.1:9', MESHLET_ALLOW_HTTP: '1' })
    expect(res?.code).toBe(1)
    expect(res?.text).toMatch(/cannot resolve did:plc:ownerownerownerownerowne at the PLC directory http:\/\/127\.0\.0\.1:9/)
    expect(res?.text).toMatch(/hint: DIDs were resolved at http:\/\/127\.0\.0\.1:9 \(from --plc \/ MESHLET_PLC\)/)
  })

  test('--help shows the usage line of that command', async () => {
    const res = await runClientCommand('logs', ['--help'], {})
    expect(res).toEqual({ text: 'usage: meshlet logs <name|id|uri> [--tail N] [--json]', code: 0 })
  })

  test.each([
    ['stop', 'usage: meshlet stop <name|id|uri> [--meshlet <did>] [--json]'],
    ['shutdown', 'usage: meshlet shutdown <meshlet-did> [--no-drain] [--json]'],
  ])('%s --help shows its usage line', async (cmd, line) => {
    expect(await runClientCommand(cmd, ['--help'], {})).toEqual({ text: line, code: 0 })
  })

  test('the help text lists every client command', () => {
    for (const cmd of ['submit', 'ls', 'status', 'logs', 'rm', 'pause', 'resume', 'stop', 'capacity', 'shutdown']) expect(CLIENT_HELP).toMatch(new RegExp(`^  ${cmd} `, 'm'))
  })
})

describe('explainSetup', () => {
  const at = (plcDefault: boolean, allowInsecureHttp = false) => ({ plcUrl: plcDefault ? 'https://plc.directory' : 'http://localhost:2582', plcDefault, allowInsecureHttp })
  test('an unresolvable DID with the default PLC names it and the flag that changes it', () => {
    expect(explainSetup('meshlet ls: cannot resolve did:plc:x at the PLC directory https://plc.directory: fetch failed', at(true))).toBe(
      'meshlet ls: cannot resolve did:plc:x at the PLC directory https://plc.directory: fetch failed\nhint: DIDs were resolved at https://plc.directory (the default PLC directory); for a local network set --plc <url> or MESHLET_PLC',
    )
  })
  test('a DID the chosen PLC does not know gets no PLC hint (the DID is what is wrong)', () => {
    expect(explainSetup('cannot find meshlet did:plc:x: its DID document cannot be resolved (Could not resolve DID: did:plc:x)', at(false, true))).not.toMatch(/hint/)
  })
  test('plain http refused gets the --allow-http hint, unless it was given', () => {
    expect(explainSetup('x: Forbidden protocol "http:"', at(false))).toMatch(/\nhint: plain http:\/\/ is refused by default; for a local dev network add --allow-http \(or MESHLET_ALLOW_HTTP=1\)$/)
    expect(explainSetup('x: Forbidden protocol "http:"', at(false, true))).toBe('x: Forbidden protocol "http:"')
  })
})
