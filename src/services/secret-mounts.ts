// Secrets (issue 13): what a replica of a workload needs from its owner's sealed secrets, opened
// with this meshlet's key just before the container is made: the files for /run/secrets and the
// registry credentials for the pull. Failures say which secret and why, never its value, and fail
// the same way on every attempt (not retried).
import type { CommuneView } from '../core/view.js'
import type { Did, Workload } from '../core/types.js'
import type { SecretKeys } from '../ports/secret-keys.js'
import { MeshletError } from '../errors.js'

export class SecretUnavailableError extends MeshletError {
  constructor(
    readonly secret: string,
    readonly reason: string,
  ) {
    super(reason)
  }
}

export interface RegistryAuth {
  username: string
  password: string
  serveraddress?: string
}

export interface OpenedSecrets {
  files: { name: string; value: Uint8Array }[]
  auth?: RegistryAuth
}

export function openSecrets(w: Workload, view: CommuneView, keys: SecretKeys | undefined, meshlet: Did): OpenedSecrets {
  const out: OpenedSecrets = { files: [] }
  const names = [...(w.secrets ?? [])]
  if (w.registryAuth) names.push(w.registryAuth)
  if (names.length === 0) return out
  if (!keys) throw new SecretUnavailableError(names[0]!, 'this meshlet has no sealing key, so it cannot open secrets')
  for (const name of new Set(names)) {
    const rec = view.secret(w.owner, name)
    if (!rec) throw new SecretUnavailableError(name, `no secret ${name} in ${w.owner}'s repo`)
    const opened = keys.open(rec, meshlet)
    if (!opened.ok) throw new SecretUnavailableError(name, opened.reason)
    if (w.secrets?.includes(name)) out.files.push({ name, value: opened.value })
    if (name === w.registryAuth) out.auth = registryAuthOf(name, opened.value)
  }
  return out
}

/** {username, password[, serveraddress]} from a secret's JSON value; the error names the secret only. */
export function registryAuthOf(name: string, value: Uint8Array): RegistryAuth {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(value))
  } catch {
    throw new SecretUnavailableError(name, `secret ${name} (registryAuth) is not JSON {"username": ..., "password": ...}`)
  }
  const o = v as Partial<RegistryAuth>
  if (typeof o !== 'object' || o === null || typeof o.username !== 'string' || typeof o.password !== 'string') {
    throw new SecretUnavailableError(name, `secret ${name} (registryAuth) must be JSON with string fields username and password`)
  }
  return { username: o.username, password: o.password, ...(typeof o.serveraddress === 'string' ? { serveraddress: o.serveraddress } : {}) }
}

/** A pull the registry refused for want of (valid) credentials: the same on every peer, so not retried. */
export function isRegistryAuthFailure(err: unknown): boolean {
  const text = err instanceof Error ? err.message : String(err)
  return /unauthorized|authentication required|no basic auth credentials|access denied|denied: requested access/i.test(text)
}

/** What to tell the owner when the registry refused the pull. */
export function registryAuthHint(w: Workload): string {
  return w.registryAuth
    ? `the registry refused the credentials in secret ${w.registryAuth} (registryAuth)`
    : 'the registry requires credentials: seal them with `meshlet secret set NAME` (JSON {"username","password"}) and set registryAuth: NAME on the workload'
}
