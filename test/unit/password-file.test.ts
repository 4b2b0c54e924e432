import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { loadRunConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { REDACT_PATHS } from '../../src/logger.js'
import { pino } from 'pino'
import { bindOption } from '../../src/adapters/docker/container-spec.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-pwfile-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const base = ['--did', 'did:plc:meshlet1', '--owner', 'did:plc:alice', '--endpoint', 'https://m1.example']

function secret(name: string, text: string, mode: number): string {
  const f = path.join(dir, name)
  fs.writeFileSync(f, text)
  fs.chmodSync(f, mode)
  return f
}

describe('--password-file', () => {
  test('a 0600 file gives the password (one trailing newline dropped), by flag or MESHLET_PASSWORD_FILE', () => {
    const f = secret('ok', 'app-pass-1234\n', 0o600)
    expect(loadRunConfig([...base, '--password-file', f], {}).password).toBe('app-pass-1234')
    expect(loadRunConfig(base, { MESHLET_PASSWORD_FILE: f }).password).toBe('app-pass-1234')
    expect(loadRunConfig(base, { MESHLET_PASSWORD_FILE: secret('ro', 'x', 0o400) }).password).toBe('x')
  })
  test.each([0o644, 0o640, 0o604, 0o660])('mode %o (readable by group or others) is refused with how to fix it', (mode) => {
    const f = secret(`m${mode.toString(8)}`, 'pw\n', mode)
    expect(() => loadRunConfig([...base, '--password-file', f], {})).toThrow(ConfigError)
    expect(() => loadRunConfig([...base, '--password-file', f], {})).toThrow(`is readable by group or others (mode 0${mode.toString(8)}): run \`chmod 600 ${f}\``)
  })
  test('missing, empty, or given twice: one clear line', () => {
    expect(() => loadRunConfig([...base, '--password-file', path.join(dir, 'nope')], {})).toThrow(/cannot read it \(ENOENT\)/)
    expect(() => loadRunConfig([...base, '--password-file', secret('empty', '\n', 0o600)], {})).toThrow(/is empty/)
    expect(() => loadRunConfig([...base, '--password', 'pw', '--password-file', secret('twice', 'pw', 0o600)], {})).toThrow(/not both/)
  })
})

describe('endpoint outside dev mode', () => {
  const cred = ['--did', 'did:plc:meshlet1', '--owner', 'did:plc:alice', '--password', 'pw']
  test('required and https unless --allow-http', () => {
    expect(() => loadRunConfig(cred, {})).toThrow(/--endpoint \(MESHLET_ENDPOINT\) is required outside dev mode/)
    expect(() => loadRunConfig([...cred, '--endpoint', 'http://m.example'], {})).toThrow(/must be an https:\/\/ URL outside dev mode/)
    expect(loadRunConfig([...cred, '--endpoint', 'https://m.example'], {}).endpoint).toBe('https://m.example')
    expect(loadRunConfig([...cred, '--allow-http'], {}).endpoint).toBeUndefined()
  })
})

describe('log redaction', () => {
  test('passwords, tokens and authorization headers never reach a log line', () => {
    const lines: string[] = []
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (s: string) => lines.push(s) })
    log.info({ password: 'p1', cfg: { password: 'p2' }, accessJwt: 'j1', session: { refreshJwt: 'j2' }, req: { headers: { authorization: 'Bearer t1', cookie: 'c1' } }, headers: { authorization: 'Bearer t2' } }, 'x')
    const out = lines.join('')
    for (const s of ['p1', 'p2', 'j1', 'j2', 't1', 'c1', 't2']) expect(out).not.toContain(`"${s}`)
    expect(out).toContain('[redacted]')
  })
})

describe('binds', () => {
  test('read-only unless the owner wrote :rw', () => {
    expect(bindOption('/srv/a:/a')).toBe('/srv/a:/a:ro')
    expect(bindOption('/srv/a:/a:ro')).toBe('/srv/a:/a:ro')
    expect(bindOption('/srv/a:/a:rw')).toBe('/srv/a:/a:rw')
  })
  test('config refuses a bind mode other than ro/rw', () => {
    expect(() => loadRunConfig(['--did', 'did:plc:m', '--owner', 'did:plc:a', '--password', 'p', '--allow-http', '--allowed-binds', '/a:/b:z'], {})).toThrow(/binds are/)
    expect(loadRunConfig(['--did', 'did:plc:m', '--owner', 'did:plc:a', '--password', 'p', '--allow-http', '--allowed-binds', '/a:/b:rw,/c:/d'], {}).allowedBinds).toEqual(['/a:/b:rw', '/c:/d'])
  })
})
