// What every method handler gets: the control plane (the running peer), the one auth verifier,
// and a logger. Built once by createXrpcServer.
import type { Server } from '@atproto/xrpc-server'
import type { Logger } from '../logger.js'
import type { ServiceAuth } from './auth.js'
import type { ControlPlane } from '../ports/control-plane.js'
import { invalidRequest } from './errors.js'

export type XrpcServer = Server

export interface XrpcContext {
  control: ControlPlane
  auth: ServiceAuth
  logger: Logger
}

/** A JSON response for xrpc-server, with undefined fields dropped so output validation sees only real values. */
export function json<T extends object>(body: T): { encoding: 'application/json'; body: T } {
  return { encoding: 'application/json', body: compact(body) }
}

function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => compact(v)) as T
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = compact(v)
    return out as T
  }
  return value
}

/** The parsed JSON body of a procedure (already checked against the lexicon by xrpc-server). */
export function inputBody(input: unknown): Record<string, unknown> {
  const body = (input as { body?: unknown } | undefined)?.body
  return body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {}
}

/**
 * xrpc-server decodes query parameters leniently: a boolean that is not "true" becomes false and
 * an integer is parseInt'ed ("5x" -> 5). Someone who sent `runningOnly=perhaps` made a mistake, so
 * say so instead of answering a different question. Throws InvalidRequest.
 */
export function assertStrictQuery(req: { query?: unknown }, types: Record<string, 'boolean' | 'integer'>): void {
  const query = (req.query ?? {}) as Record<string, unknown>
  for (const [name, type] of Object.entries(types)) {
    const raw = query[name]
    if (raw === undefined) continue
    const value = Array.isArray(raw) ? raw : [raw]
    if (value.length !== 1 || typeof value[0] !== 'string') throw invalidRequest(`${name} must be given once`)
    const v = value[0]
    if (type === 'boolean' && v !== 'true' && v !== 'false') throw invalidRequest(`${name} must be true or false, got ${JSON.stringify(v.slice(0, 40))}`)
    if (type === 'integer' && !/^-?\d{1,15}$/.test(v)) throw invalidRequest(`${name} must be a whole number, got ${JSON.stringify(v.slice(0, 40))}`)
  }
}
