// Client-side failures, each naming what it was doing and against whom.
import { MeshletError } from '../errors.js'

/** A meshlet answered an XRPC call with an error, or could not be reached (status 0). */
export class MeshletCallError extends MeshletError {
  constructor(
    public readonly status: number,
    public readonly error: string,
    message: string,
    public readonly meshlet: string,
    public readonly nsid: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts)
  }
}

/** The meshlet's endpoint could not be found from its DID document and profile record. */
export class MeshletDiscoveryError extends MeshletError {
  constructor(
    public readonly meshlet: string,
    public readonly reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`cannot find meshlet ${meshlet}: ${reason}`, opts)
  }
}

/** A workload file the user gave is unreadable or fails the lexicon. Nothing was written. */
export class WorkloadFileError extends MeshletError {
  constructor(
    public readonly file: string,
    public readonly reason: string,
    public readonly field?: string,
    opts?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, opts)
  }
}

/** The user gave something that is not what a command expects (e.g. not an at:// URI). */
export class UsageError extends MeshletError {}
