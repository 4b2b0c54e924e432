// dockerode errors are plain Errors with `statusCode`, `json` (the daemon body, usually {message})
// and a `message` like "(HTTP code 404) no such container - No such image: x " whose middle part
// (docker-modem's `reason`) is often wrong. So we match on statusCode and the daemon's own text.

const CONNECTION_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTSOCK', 'ENOTFOUND', 'EAI_AGAIN'])

interface EngineErrorShape {
  statusCode?: unknown
  json?: unknown
  code?: unknown
  message?: unknown
  name?: unknown
}

export function statusCodeOf(err: unknown): number | undefined {
  const code = (err as EngineErrorShape | null)?.statusCode
  return typeof code === 'number' ? code : undefined
}

/** The daemon's message, trimmed; falls back to the error text without dockerode's prefix. */
export function engineMessage(err: unknown): string {
  const e = (err ?? {}) as EngineErrorShape
  const json = e.json
  if (json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof (json as { message?: unknown }).message === 'string') {
    const m = ((json as { message: string }).message).trim()
    if (m) return m
  }
  if (Buffer.isBuffer(json) && json.length > 0) {
    const text = json.toString('utf8').trim()
    try {
      const parsed = JSON.parse(text) as { message?: unknown }
      if (typeof parsed.message === 'string' && parsed.message.trim()) return parsed.message.trim()
    } catch {
      if (text) return text
    }
  }
  if (typeof json === 'string' && json.trim()) return json.trim()
  const msg = typeof e.message === 'string' ? e.message : String(err)
  // "(HTTP code 500) server error - <daemon text> "
  const m = /^\(HTTP code \d+\)\s*[^-]*-\s*(.*)$/s.exec(msg.trim())
  const text = (m?.[1] ?? msg).trim()
  return text || `HTTP ${statusCodeOf(err) ?? '?'} from the engine`
}

/** True when the engine itself did not answer (socket missing, refused, reset, no permission). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as EngineErrorShape | null)?.code
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true
  const cause = (err as { cause?: unknown } | null)?.cause
  return cause !== undefined && cause !== err && isConnectionError(cause)
}

export function isAbortError(err: unknown): boolean {
  const e = err as EngineErrorShape | null
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR'
}

/** A human reason for a failed pull, from the engine's status code and message. */
export function pullReason(ref: string, statusCode: number | undefined, message: string): string {
  const m = message.toLowerCase()
  if (m.includes('invalid reference format')) {
    const detail = message.replace(/^.*invalid reference format:?\s*/i, '').trim()
    return `invalid image reference: ${detail || message}`
  }
  if (statusCode === 401 || statusCode === 403 || /unauthorized|authentication required|denied: |incorrect username or password/.test(m)) {
    if (m.includes('repository does not exist')) return `image not found: ${ref} (${message})`
    return `access denied by the registry: ${message}`
  }
  if (statusCode === 404 || /manifest unknown|not found: manifest|manifest for .* not found|repository does not exist|name unknown/.test(m)) {
    return `image not found: ${ref}`
  }
  if (/dial tcp|connection refused|no such host|i\/o timeout|tls handshake|network is unreachable|no route to host|connection reset|server gave http response to https|context deadline exceeded|timeout/.test(m)) {
    return `registry unreachable: ${message}`
  }
  return message
}
