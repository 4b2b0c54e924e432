/** ws(s)://host[:port] for an http(s) or ws(s) URL, or undefined: the key of a firehose source. */
export function toWsUrl(url: string): string | undefined {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return undefined
  }
  if (u.protocol === 'http:' || u.protocol === 'ws:') return `ws://${u.host}`
  if (u.protocol === 'https:' || u.protocol === 'wss:') return `wss://${u.host}`
  return undefined
}

/** Why a PDS endpoint from a DID document cannot be followed, or undefined when it can. */
export function pdsUrlProblem(pds: string, allowInsecureHttp: boolean): string | undefined {
  const ws = toWsUrl(pds)
  if (!ws || !/^https?:/.test(pds)) return `PDS endpoint "${pds}" is not an http(s) URL`
  if (ws.startsWith('ws:') && !allowInsecureHttp) return `PDS ${pds} uses plain http (only allowed for local tests)`
  return undefined
}
