// Image references, part by part (core/image-ref.ts): the parts of a valid reference and the one
// reason each refused one gets, at each boundary (written against mutants; image-ref.test.ts has the grammar).
import { describe, expect, test } from 'vitest'
import { imageRefProblem, MAX_IMAGE_REF_LENGTH, parseImageRef } from '../../src/core/image-ref.js'

const HEX32 = '0123456789abcdef'.repeat(2)

function ok(input: string) {
  const r = parseImageRef(input)
  if (!r.ok) throw new Error(`expected ${JSON.stringify(input)} to parse, got: ${r.reason}`)
  return r.ref
}

describe('parseImageRef: the parts of a valid reference', () => {
  test.each<[string, { domain?: string; path: string; tag?: string; digest?: string }]>([
    ['busybox', { path: 'busybox' }],
    ['library/busybox', { path: 'library/busybox' }],
    ['busybox:1.36', { path: 'busybox', tag: '1.36' }],
    ['docker.io/library/busybox:1.36', { domain: 'docker.io', path: 'library/busybox', tag: '1.36' }],
    ['localhost/app', { domain: 'localhost', path: 'app' }],
    ['localhost:5000/app:v1', { domain: 'localhost:5000', path: 'app', tag: 'v1' }],
    ['127.0.0.1:5000/meshlet/busybox:v1', { domain: '127.0.0.1:5000', path: 'meshlet/busybox', tag: 'v1' }],
    ['MyRegistry/app', { domain: 'MyRegistry', path: 'app' }],
    ['[::1]:5000/app', { domain: '[::1]:5000', path: 'app' }],
    ['[fd00]/app', { domain: '[fd00]', path: 'app' }],
    ['my-reg.example.io/team/app', { domain: 'my-reg.example.io', path: 'team/app' }],
    [`app@sha256:${HEX32}`, { path: 'app', digest: `sha256:${HEX32}` }],
    [`app:v1@sha256:${HEX32.toUpperCase()}`, { path: 'app', tag: 'v1', digest: `sha256:${HEX32.toUpperCase()}` }],
    [`app@sha256+b64.x_y-z:${HEX32}`, { path: 'app', digest: `sha256+b64.x_y-z:${HEX32}` }],
    ['team/a.b_c__d-e---f1', { path: 'team/a.b_c__d-e---f1' }],
    ['app:_x', { path: 'app', tag: '_x' }],
    ['app:V1.2-rc_3', { path: 'app', tag: 'V1.2-rc_3' }],
  ])('%s', (input, want) => {
    expect(ok(input)).toEqual({ domain: undefined, tag: undefined, digest: undefined, ...want })
    expect(imageRefProblem(input)).toBeUndefined()
  })

  test('a first component without a dot, port, upper case or bracket is a path, not a registry', () => {
    expect(ok('team/app')).toEqual({ domain: undefined, path: 'team/app', tag: undefined, digest: undefined })
  })
})

describe('parseImageRef: the reason a reference is refused', () => {
  test.each<[string, unknown, string]>([
    ['a number', 42, 'expected a string, got number'],
    ['null', null, 'expected a string, got null'],
    ['undefined', undefined, 'expected a string, got undefined'],
    ['empty', '', 'empty'],
    ['a space', 'busy box', 'contains whitespace'],
    ['a tab', 'busybox\t', 'contains whitespace'],
    ['a control character', 'busy\u0001box', 'contains control characters'],
    ['DEL', 'busy\u007fbox', 'contains control characters'],
    ['a short digest', `app@sha256:${HEX32.slice(1)}`, `bad digest "sha256:${HEX32.slice(1)}" (algorithm:hex, at least 32 hex digits)`],
    ['a digest algorithm starting with a digit', `app@1sha:${HEX32}`, `bad digest "1sha:${HEX32}" (algorithm:hex, at least 32 hex digits)`],
    ['a digest that is not hex', `app@sha256:${'g'.repeat(32)}`, `bad digest "sha256:${'g'.repeat(32)}" (algorithm:hex, at least 32 hex digits)`],
    ['a digest and no name', `@sha256:${HEX32}`, 'missing repository name'],
    ['an empty tag', 'app:', 'empty tag after ":"'],
    ['a tag starting with a dot', 'app:.x', 'bad tag ".x" (letters, digits, _ . -, at most 128, not starting with . or -)'],
    ['a tag starting with a dash', 'app:-x', 'bad tag "-x" (letters, digits, _ . -, at most 128, not starting with . or -)'],
    ['a tag with a plus', 'app:v1+x', 'bad tag "v1+x" (letters, digits, _ . -, at most 128, not starting with . or -)'],
    ['a tag and no name', ':v1', 'missing repository name'],
    ['a registry and no path', 'reg.io/', 'missing repository name'],
    ['a registry host starting with a dash', '-reg.io/app', 'bad registry host "-reg.io"'],
    ['a registry host label ending with a dash', 'reg-.io/app', 'bad registry host "reg-.io"'],
    ['an underscore in the registry host', 'reg_x.io/app', 'bad registry host "reg_x.io"'],
    ['a port that is not a number', 'reg.io:http/app', 'bad registry host "reg.io:http"'],
    ['an empty host label', 'reg..io/app', 'bad registry host "reg..io"'],
    ['a bracketed host that is not IPv6', '[zz]:5000/app', 'bad registry host "[zz]:5000"'],
    ['an IPv6 host with a bad port', '[::1]:x/app', 'bad registry host "[::1]:x"'],
    ['upper case in the path', 'reg.io/App', 'repository name must be lowercase'],
    ['upper case in a name without registry', 'team/App', 'repository name must be lowercase'],
    ['an empty path component', 'team//app', 'empty path component'],
    ['a leading slash', '/app', 'empty path component'],
    ['a trailing slash', 'team/app/', 'empty path component'],
    ['a leading separator', 'team/-app', 'bad path component "-app" (lowercase letters, digits and single separators . _ __ -)'],
    ['a trailing separator', 'app.', 'bad path component "app." (lowercase letters, digits and single separators . _ __ -)'],
    ['a doubled dot', 'a..b', 'bad path component "a..b" (lowercase letters, digits and single separators . _ __ -)'],
    ['three underscores', 'a___b', 'bad path component "a___b" (lowercase letters, digits and single separators . _ __ -)'],
    ['a character outside the grammar', 'a$b', 'bad path component "a$b" (lowercase letters, digits and single separators . _ __ -)'],
  ])('%s', (_what, input, why) => {
    expect(parseImageRef(input)).toEqual({ ok: false, reason: `invalid image reference: ${why}` })
    expect(imageRefProblem(input)).toBe(`invalid image reference: ${why}`)
  })
})

describe('parseImageRef: length limits are inclusive', () => {
  test(`the whole reference: ${MAX_IMAGE_REF_LENGTH} characters pass, one more does not`, () => {
    expect(MAX_IMAGE_REF_LENGTH).toBe(512)
    const prefix = 'app@sha256:'
    const at = prefix + 'a'.repeat(512 - prefix.length)
    expect(at).toHaveLength(512)
    expect(ok(at).digest).toBe(at.slice(4))
    expect(imageRefProblem(`${at}a`)).toBe('invalid image reference: too long (513 characters, at most 512)')
  })

  test('the repository name: 255 characters pass, 256 do not', () => {
    expect(ok('a'.repeat(255)).path).toHaveLength(255)
    expect(ok(`${'a'.repeat(255)}:v1`).tag).toBe('v1')
    expect(imageRefProblem('a'.repeat(256))).toBe('invalid image reference: repository name must not be more than 255 characters')
  })

  test('the tag: 128 characters pass, 129 do not', () => {
    expect(ok(`app:${'t'.repeat(128)}`).tag).toHaveLength(128)
    expect(imageRefProblem(`app:${'t'.repeat(129)}`)).toBe(`invalid image reference: bad tag "${'t'.repeat(80)}..." (letters, digits, _ . -, at most 128, not starting with . or -)`)
  })

  test('the digest: 32 hex digits pass, 31 do not, more is fine', () => {
    expect(ok(`app@sha256:${'f'.repeat(32)}`).digest).toBe(`sha256:${'f'.repeat(32)}`)
    expect(ok(`app@sha256:${'f'.repeat(64)}`).digest).toBe(`sha256:${'f'.repeat(64)}`)
    expect(imageRefProblem(`app@sha256:${'f'.repeat(31)}`)).toBe(`invalid image reference: bad digest "sha256:${'f'.repeat(31)}" (algorithm:hex, at least 32 hex digits)`)
  })
})
