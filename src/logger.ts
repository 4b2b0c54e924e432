import { pino, type Logger } from 'pino'

// One root logger; subsystems get named children (`meshlet:intake`), as in the atproto PDS.
const level = process.env.MESHLET_LOG_LEVEL ?? process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info')

export const rootLogger: Logger = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime })

export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ name, ...bindings })
}

export type { Logger }
