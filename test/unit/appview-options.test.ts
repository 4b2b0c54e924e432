// `meshlet appview` flags (issue 15): members are required DIDs; the rest has defaults or env.
import { expect, test } from 'vitest'
import { appviewOptionsFrom } from '../../src/appview.js'
import { ConfigError } from '../../src/errors.js'

test('members from the flag or the environment, defaults for the rest', () => {
  expect(appviewOptionsFrom(['--members', 'did:plc:a, did:plc:b'], {})).toEqual({ members: ['did:plc:a', 'did:plc:b'], plc: 'https://plc.directory', firehose: undefined, port: 2600, host: '127.0.0.1', allowHttp: false })
  expect(appviewOptionsFrom(['--port', '0', '--allow-http'], { MESHLET_APPVIEW_MEMBERS: 'did:web:x.example', MESHLET_PLC: 'http://127.0.0.1:2582' })).toMatchObject({ members: ['did:web:x.example'], port: 0, allowHttp: true, plc: 'http://127.0.0.1:2582' })
})

test('bad input says which flag and why', () => {
  expect(() => appviewOptionsFrom([], {})).toThrow(ConfigError)
  expect(() => appviewOptionsFrom([], {})).toThrow(/--members .* is required/)
  expect(() => appviewOptionsFrom(['--members', 'alice'], {})).toThrow(/"alice" is not a did:plc or did:web DID/)
  expect(() => appviewOptionsFrom(['--members', 'did:plc:a', '--port', '70000'], {})).toThrow(/--port must be 0-65535/)
})
