import { createRequire } from 'node:module'
import { pino, type DestinationStream, type Logger } from 'pino'

// One root logger; subsystems get named children (`meshlet:intake`), as in the atproto PDS.
const level = process.env.MESHLET_LOG_LEVEL ?? process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info')

// People read a terminal, machines read a pipe: human lines on a TTY, JSON otherwise.
// MESHLET_LOG_FORMAT=json|pretty overrides the guess.
const format = process.env.MESHLET_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json')

// pino-pretty is CommonJS: required synchronously, and only when it is used.
function prettyStream(): DestinationStream | undefined {
  if (format !== 'pretty') return undefined
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
    return pretty({ colorize: process.stdout.isTTY ?? false, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', messageKey: 'msg', sync: true })
  } catch {
    return undefined // not installed (a slim image): JSON is still correct output
  }
}

const stream = prettyStream()

/**
 * Secrets never reach a log line, whatever object an error or request drags in: passwords, tokens
 * (access/refresh JWTs, service-auth), authorization headers, cookies. Paths are pino's
 * (fast-redact): one level of wildcard, so the common nestings are listed.
 */
export const REDACT_PATHS = [
  'password', '*.password', 'passwordFile',
  'accessJwt', 'refreshJwt', '*.accessJwt', '*.refreshJwt', 'token', '*.token', 'jwt', '*.jwt',
  'authorization', 'Authorization', '*.authorization', '*.Authorization',
  'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.Authorization', '*.headers.cookie',
  'req.headers.authorization', 'req.headers.cookie', 'request.headers.authorization',
  'config.password', 'cfg.password', 'auth.password', '*.auth.password',
  // Secrets (issue 13): opened values and the sealing key never reach a log line, even by mistake.
  'secretFiles', '*.secretFiles', 'privateKey', '*.privateKey', 'authconfig', '*.authconfig',
]

export const rootLogger: Logger = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream)

export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ name, ...bindings })
}

export type { Logger }
