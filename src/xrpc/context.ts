// What every method handler gets: the control plane (the running peer), the one auth verifier,
// and a logger. Built once by createXrpcServer.
import type { Server } from '@atproto/xrpc-server'
import type { Logger } from '../logger.js'
import type { ServiceAuth } from './auth.js'
import type { ControlPlane } from './control-plane.js'

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
