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
