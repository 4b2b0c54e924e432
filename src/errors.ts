// One class per failure, with context fields and `cause`, so logs and users see what went wrong where.

export class MeshletError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts)
    this.name = new.target.name
  }
}

export class ConfigError extends MeshletError {
  constructor(message: string, public readonly field?: string, opts?: { cause?: unknown }) {
    super(message, opts)
  }
}

export class DidResolutionError extends MeshletError {
  constructor(public readonly did: string, reason: string, opts?: { cause?: unknown }) {
    super(`cannot resolve ${did}: ${reason}`, opts)
  }
}

export class PdsError extends MeshletError {
  constructor(public readonly pds: string, reason: string, opts?: { cause?: unknown }) {
    super(`PDS ${pds}: ${reason}`, opts)
  }
}

export class RecordValidationError extends MeshletError {
  constructor(public readonly uri: string, public readonly reason: string, opts?: { cause?: unknown }) {
    super(`invalid record ${uri}: ${reason}`, opts)
  }
}

/** A core value could not be turned into a valid wire record (a bug or bad input upstream). */
export class RecordEncodeError extends MeshletError {
  constructor(public readonly collection: string, public readonly reason: string, opts?: { cause?: unknown }) {
    super(`cannot encode ${collection} record: ${reason}`, opts)
  }
}

export class RuntimeUnavailableError extends MeshletError {
  constructor(public readonly endpoint: string, opts?: { cause?: unknown }) {
    super(`container engine at ${endpoint} is not answering`, opts)
  }
}

export class ImagePullError extends MeshletError {
  constructor(public readonly image: string, public readonly reason: string, public readonly statusCode?: number, opts?: { cause?: unknown }) {
    super(`cannot pull ${image}: ${reason}`, opts)
  }
}

/** A guest's image this meshlet will not fetch (registry policy, docs/protocol.md Images): not retried. */
export class ImageRefusedError extends MeshletError {
  constructor(public readonly image: string, public readonly reason: string, opts?: { cause?: unknown }) {
    super(`image ${image} refused: ${reason}`, opts)
  }
}

export class ContainerCreateError extends MeshletError {
  constructor(public readonly image: string, public readonly reason: string, public readonly statusCode?: number, opts?: { cause?: unknown }) {
    super(`cannot create container from ${image}: ${reason}`, opts)
  }
}

export class ContainerStartError extends MeshletError {
  constructor(public readonly containerId: string, public readonly reason: string, public readonly statusCode?: number, opts?: { cause?: unknown }) {
    super(`cannot start container ${containerId.slice(0, 12)}: ${reason}`, opts)
  }
}

export class ContainerOpError extends MeshletError {
  constructor(public readonly op: string, public readonly containerId: string, public readonly reason: string, public readonly statusCode?: number, opts?: { cause?: unknown }) {
    super(`${op} ${containerId.slice(0, 12)} failed: ${reason}`, opts)
  }
}

/** A short, human message for any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.trim()
  return String(err)
}
