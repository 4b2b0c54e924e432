// The XRPC errors meshlet answers with. Names are part of the public contract (PROTOCOL §5):
// clients branch on `error`, people read `message`. Built here so every handler says them the same way.
import {
  AuthRequiredError,
  ForbiddenError,
  InternalServerError,
  InvalidRequestError,
  ResponseType,
  XRPCError,
} from '@atproto/xrpc-server'
import { randomUUID } from 'node:crypto'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import { WorkloadNotFoundError } from '../ports/control-plane.js'

export const XRPC_ERROR = {
  authRequired: 'AuthRequired',
  forbidden: 'Forbidden',
  workloadNotFound: 'WorkloadNotFound',
  invalidRequest: 'InvalidRequest',
  payloadTooLarge: 'PayloadTooLarge',
  rateLimitExceeded: 'RateLimitExceeded',
  internal: 'InternalServerError',
} as const

export function authRequired(message: string, cause?: unknown): XRPCError {
  return new AuthRequiredError(message, XRPC_ERROR.authRequired, { cause })
}

export function forbidden(message: string): XRPCError {
  return new ForbiddenError(message, XRPC_ERROR.forbidden)
}

export function invalidRequest(message: string, cause?: unknown): XRPCError {
  return new InvalidRequestError(message, XRPC_ERROR.invalidRequest, { cause })
}

/** 404 with a stable name: "not here" is not a malformed request. */
export function workloadNotFound(uri: string, message = `no workload ${uri} is known to this meshlet`): XRPCError {
  return new XRPCError(ResponseType.XRPCNotSupported, message, XRPC_ERROR.workloadNotFound)
}

/**
 * The server's errorParser: turns whatever a handler, the body parser or the lexicon validator threw
 * into an XRPC error with one of our stable names. Never throws.
 */
export function toXrpcError(err: unknown, logger?: Logger): XRPCError {
  if (err instanceof WorkloadNotFoundError) return workloadNotFound(err.uri, err.message)
  if (err instanceof XRPCError) {
    const status = err.statusCode
    // xrpc-server's validators and body parser throw 400s named after their own classes
    // (SyntaxError, BadRequestError, none): one stable name for "your request is wrong".
    if (status === 400 && err.customErrorName !== XRPC_ERROR.invalidRequest) {
      const prefix = err.customErrorName === 'SyntaxError' ? 'request body is not valid JSON: ' : ''
      return invalidRequest(prefix + cleanMessage(err.errorMessage ?? err.message), err)
    }
    if (status === 401 && err.customErrorName !== XRPC_ERROR.authRequired) {
      return authRequired(cleanMessage(err.errorMessage ?? err.message), err)
    }
    if (status === 413) return payloadTooLarge(err)
    // 501 (no such method) is public; any other 5xx may carry engine or socket details.
    if (status >= 500 && status !== 501) return internal(err, logger)
    return err
  }
  const httpStatus = httpErrorStatus(err)
  if (httpStatus === 413) return payloadTooLarge(err)
  if (httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500) {
    return invalidRequest(cleanMessage(describeError(err)), err)
  }
  return internal(err, logger)
}

/**
 * A 5xx says nothing about the engine, the socket or the code (that helps an attacker, not the
 * caller): the details go to the log under a reference the caller can quote to the operator.
 */
function internal(err: unknown, logger?: Logger): XRPCError {
  const ref = randomUUID().slice(0, 8)
  logger?.error({ err, ref, detail: describeError(err) }, 'xrpc handler failed')
  return new ReferencedInternalError(`internal error on this meshlet (reference ${ref}; its operator finds the details in the log)`, { cause: err })
}

/** xrpc-server answers every 500 with the bare words "Internal Server Error": this one keeps its reference. */
class ReferencedInternalError extends InternalServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, XRPC_ERROR.internal, options)
  }
  override get payload(): { error: string; message: string } {
    return { error: XRPC_ERROR.internal, message: this.errorMessage ?? 'Internal Server Error' }
  }
}

function payloadTooLarge(cause: unknown): XRPCError {
  return new XRPCError(ResponseType.PayloadTooLarge, 'request body is too large', XRPC_ERROR.payloadTooLarge, { cause })
}

function cleanMessage(message: string): string {
  return message.replace(/^(Error|InvalidRequestError|ValidationError|LexValidationError): /, '').trim()
}

function httpErrorStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode
  return typeof status === 'number' ? status : undefined
}
