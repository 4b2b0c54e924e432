// The one image-reference grammar: the record edge (adapters/atproto/decode.ts rejects a workload
// whose image fails it) and the engine edge (docker-runtime, replica-starter) both ask this file, so
// a reference every peer accepted is one the engine is asked about, and vice versa. Checked before
// any engine call: Docker accepts some bad values silently (`Image: ""` creates a container) and a
// 10 KB string should never reach the socket.
// Grammar follows distribution/reference (the parser the Docker engine uses).

/** The workload lexicon's maxLength for `image`. */
export const MAX_IMAGE_REF_LENGTH = 512
/** A part of the input quoted in a reason is cut to this: reasons end up in public status records. */
const MAX_QUOTED = 80
/** distribution/reference NameTotalLengthMax. */
const MAX_NAME_LENGTH = 255

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/
const IPV6_DOMAIN = /^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/

export interface ParsedImageRef {
  domain?: string
  /** Repository path without the domain, e.g. `meshlet/busybox`. */
  path: string
  tag?: string
  digest?: string
}

export type ImageRefCheck = { ok: true; ref: ParsedImageRef } | { ok: false; reason: string }

/** Parse an OCI image reference; on failure `reason` says what is wrong, in words a person understands. */
export function parseImageRef(input: unknown): ImageRefCheck {
  const bad = (why: string): ImageRefCheck => ({ ok: false, reason: `invalid image reference: ${why}` })
  if (typeof input !== 'string') return bad(`expected a string, got ${input === null ? 'null' : typeof input}`)
  if (input.length === 0) return bad('empty')
  if (input.length > MAX_IMAGE_REF_LENGTH) return bad(`too long (${input.length} characters, at most ${MAX_IMAGE_REF_LENGTH})`)
  if (/\s/.test(input)) return bad('contains whitespace')
  if (/[\u0000-\u001f\u007f]/.test(input)) return bad('contains control characters')

  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) return bad(`bad digest ${quote(digest)} (algorithm:hex, at least 32 hex digits)`)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (tag === '') return bad('empty tag after ":"')
    if (!TAG.test(tag)) return bad(`bad tag ${quote(tag)} (letters, digits, _ . -, at most 128, not starting with . or -)`)
  }
  // An empty name (":v1", "@sha256:...") is refused below as a missing repository name.
  if (rest.length > MAX_NAME_LENGTH) return bad(`repository name must not be more than ${MAX_NAME_LENGTH} characters`)

  // Same rule as the engine: the first component is a registry host when it has a dot or a
  // port, is "localhost", or has upper-case letters (repository paths never may).
  let domain: string | undefined
  let path = rest
  const slash = rest.indexOf('/')
  // Stryker disable next-line EqualityOperator: a leading "/" gives an empty first component, which is never a registry host
  if (slash > 0) {
    const first = rest.slice(0, slash)
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase() || first.startsWith('[')) {
      domain = first
      path = rest.slice(slash + 1)
      if (!DOMAIN.test(domain) && !IPV6_DOMAIN.test(domain)) return bad(`bad registry host ${quote(domain)}`)
    }
  }
  if (path.length === 0) return bad('missing repository name')
  if (path !== path.toLowerCase()) return bad('repository name must be lowercase')
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      return bad(component === '' ? 'empty path component' : `bad path component ${quote(component)} (lowercase letters, digits and single separators . _ __ -)`)
    }
  }
  return { ok: true, ref: { domain, path, tag, digest } }
}

function quote(part: string): string {
  return JSON.stringify(part.length > MAX_QUOTED ? `${part.slice(0, MAX_QUOTED)}...` : part)
}

/** The reason a reference is invalid, or undefined when it is fine. */
export function imageRefProblem(input: unknown): string | undefined {
  const r = parseImageRef(input)
  return r.ok ? undefined : r.reason
}
