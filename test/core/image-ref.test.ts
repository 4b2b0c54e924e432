// The one image-reference grammar (core/image-ref.ts) that the record edge and the engine edge
// share: what it accepts, how it splits a reference, and the reason it gives, at each boundary.
import { describe, expect, test } from 'vitest'
import { MAX_IMAGE_REF_LENGTH, imageRefProblem, parseImageRef } from '../../src/core/image-ref.js'

const HEX64 = 'a'.repeat(64)

describe('image references the engine would take', () => {
  test.each([
    ['busybox', { path: 'busybox' }],
    ['library/busybox:1.36', { path: 'library/busybox', tag: '1.36' }],
    // Digests: with or without a tag, any registered-looking algorithm, upper-case hex, 32 hex digits at least.
    [`busybox@sha256:${HEX64}`, { path: 'busybox', digest: `sha256:${HEX64}` }],
    [`busybox:1.36@sha256:${HEX64}`, { path: 'busybox', tag: '1.36', digest: `sha256:${HEX64}` }],
    [`app@sha512:${'F'.repeat(128)}`, { path: 'app', digest: `sha512:${'F'.repeat(128)}` }],
    [`app@sha256:${'0'.repeat(32)}`, { path: 'app', digest: `sha256:${'0'.repeat(32)}` }],
    [`app@multihash+base58:${'b'.repeat(32)}`, { path: 'app', digest: `multihash+base58:${'b'.repeat(32)}` }],
    // A port in the registry host is not a tag; a tag after it is.
    ['localhost:5000/app', { domain: 'localhost:5000', path: 'app', tag: undefined }],
    ['127.0.0.1:5000/meshlet/busybox:test', { domain: '127.0.0.1:5000', path: 'meshlet/busybox', tag: 'test' }],
    ['[::1]:5000/app:v1', { domain: '[::1]:5000', path: 'app', tag: 'v1' }],
    ['registry.example:443/team/app', { domain: 'registry.example:443', path: 'team/app' }],
    // No slash: "name:5000" is a name and a tag, as for the engine.
    ['localhost:5000', { domain: undefined, path: 'localhost', tag: '5000' }],
    // Upper case: allowed in the registry host (it makes the first part a host) and in tags.
    ['GHCR.io/owner/app', { domain: 'GHCR.io', path: 'owner/app' }],
    ['Registry/app', { domain: 'Registry', path: 'app' }],
    ['app:V1-RC', { path: 'app', tag: 'V1-RC' }],
    ['localhost/app_name:v1.0-rc', { domain: 'localhost', path: 'app_name', tag: 'v1.0-rc' }],
    ['a__b/c---d/e.f', { path: 'a__b/c---d/e.f' }],
    [`app:${'t'.repeat(128)}`, { path: 'app', tag: 't'.repeat(128) }],
  ])('%s', (ref, want) => {
    expect(parseImageRef(ref)).toEqual({ ok: true, ref: expect.objectContaining(want) })
    expect(imageRefProblem(ref)).toBeUndefined()
  })
})

describe('image references refused, with the reason', () => {
  test.each([
    // Digests
    [`app@sha256:${'a'.repeat(31)}`, `bad digest "sha256:${'a'.repeat(31)}" (algorithm:hex, at least 32 hex digits)`],
    [`app@sha256:${'g'.repeat(64)}`, 'bad digest'],
    [`app@:${HEX64}`, 'bad digest'],
    [`app@1sha:${HEX64}`, 'bad digest'],
    ['app@', 'bad digest ""'],
    // Registry host and port
    ['registry:port/app', 'bad registry host "registry:port"'],
    ['registry:/app', 'bad registry host "registry:"'],
    ['-bad.example/app', 'bad registry host "-bad.example"'],
    ['[::1/app', 'bad registry host "[::1"'],
    // Upper case in the repository path
    ['Busybox', 'repository name must be lowercase'],
    ['ghcr.io/Owner-Case/app', 'repository name must be lowercase'],
    ['Meshlet/BusyBox:test', 'repository name must be lowercase'],
    // Tags
    ['app:', 'empty tag after ":"'],
    ['localhost:5000/app:', 'empty tag after ":"'],
    ['app:-x', 'bad tag "-x"'],
    ['app:.x', 'bad tag ".x"'],
    [`app:${'t'.repeat(129)}`, 'bad tag'],
    // Paths
    ['-app', 'bad path component "-app"'],
    ['a//b', 'empty path component'],
    ['a/b.', 'bad path component "b."'],
    ['a...b', 'bad path component "a...b"'],
    ['busybox::1', 'bad path component "busybox:"'],
    [':tag', 'missing repository name'],
    ['localhost:5000/', 'missing repository name'],
    // Shape
    ['', 'empty'],
    ['busy box', 'contains whitespace'],
    ['app\u0000', 'contains control characters'],
    [42, 'expected a string, got number'],
    [null, 'expected a string, got null'],
  ])('%j', (ref, why) => {
    const r = parseImageRef(ref)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.reason.startsWith(`invalid image reference: ${why}`), r.reason).toBe(true)
    expect(imageRefProblem(ref)).toBe(r.reason)
  })
})

describe('length limits', () => {
  test(`a reference of exactly ${MAX_IMAGE_REF_LENGTH} characters is fine; one more is too long`, () => {
    // name 200 + "@sha256:" 8 + hex: the overall limit is the one reached.
    const at = (n: number) => `${'a'.repeat(200)}@sha256:${'c'.repeat(n - 208)}`
    expect(at(MAX_IMAGE_REF_LENGTH)).toHaveLength(512)
    expect(imageRefProblem(at(MAX_IMAGE_REF_LENGTH))).toBeUndefined()
    expect(imageRefProblem(at(MAX_IMAGE_REF_LENGTH + 1))).toBe(`invalid image reference: too long (513 characters, at most 512)`)
    expect(imageRefProblem('x'.repeat(10_000))).toBe('invalid image reference: too long (10000 characters, at most 512)')
  })

  test('the repository name (host included) is at most 255 characters, as for the engine', () => {
    const name = (n: number) => `r.example/${'n'.repeat(n - 10)}`
    expect(name(255)).toHaveLength(255)
    expect(imageRefProblem(`${name(255)}:t`)).toBeUndefined()
    expect(imageRefProblem(`${name(256)}:t`)).toBe('invalid image reference: repository name must not be more than 255 characters')
  })

  test('a quoted part of a long bad reference is cut, so a reason stays short', () => {
    const reason = imageRefProblem(`app@sha256:${'z'.repeat(400)}`)!
    expect(reason).toContain(`"sha256:${'z'.repeat(73)}..."`)
    expect(reason.length).toBeLessThan(200) // the digest alone is 407 characters
  })
})
