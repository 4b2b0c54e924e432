// Failures of the AT adapters that src/errors.ts does not name yet. They extend the shared
// classes, so `instanceof PdsError` still catches every PDS problem.
import { MeshletError, PdsError } from '../../errors.js'

/** The PDS did not answer at the network level (refused, DNS, timeout). */
export class PdsUnreachableError extends PdsError {
  constructor(pds: string, public readonly code: string, opts?: { cause?: unknown }) {
    super(pds, `not reachable: ${code}`, opts)
    this.message = `PDS ${pds} is not reachable: ${code}`
  }
}

/** createSession refused the credentials. */
export class PdsLoginError extends PdsError {
  constructor(pds: string, public readonly identifier: string, opts?: { cause?: unknown }) {
    super(pds, `login failed for ${identifier}`, opts)
    this.message = `login failed for ${identifier}: wrong password or app password`
  }
}

/** The PDS answered with an XRPC error. */
export class PdsRequestError extends PdsError {
  constructor(
    pds: string,
    public readonly method: string,
    public readonly status: number,
    public readonly error: string | undefined,
    detail: string,
    opts?: { cause?: unknown },
  ) {
    super(pds, `${method} failed (${status}${error ? ` ${error}` : ''}): ${detail}`, opts)
  }
}
