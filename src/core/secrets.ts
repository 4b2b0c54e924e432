// Secrets (issue 13, PROTOCOL §9): the pure rules every implementation shares. A secret's value is
// sealed separately to each meshlet (crypto_box_seal to the meshlet's profile sealingKey) inside an
// envelope that names owner, secret, version and meshlet, so a copy cannot be replayed under another
// name, version or meshlet. The sealing itself is an adapter's (libsodium); this file holds the
// envelope, the name syntax, and which secrets a workload lacks here.
import type { Did, SecretRecord, Workload } from './types.js'

/** A secret name: a record key and a file name at once (no "/", no "." or ".."). */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** Largest value one secret may hold (bytes): the record with one copy per meshlet must stay under the edge's 64 KiB. */
export const MAX_SECRET_BYTES = 4096
export const ENVELOPE_VERSION = 1

export function secretNameProblem(name: string): string | undefined {
  if (SECRET_NAME.test(name)) return undefined
  return `secret name ${JSON.stringify(name.slice(0, 80))} is not valid: 1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit`
}

/** What the sealed box holds, as UTF-8 JSON with exactly these keys. */
export interface SecretEnvelope {
  v: number
  owner: Did
  name: string
  version: number
  meshlet: Did
  /** The value, standard base64. */
  value: string
}

/** The envelope's bytes for sealing (key order fixed, so every implementation writes the same JSON). */
export function encodeEnvelope(e: { owner: Did; name: string; version: number; meshlet: Did; value: Uint8Array }): Uint8Array {
  const json = JSON.stringify({ v: ENVELOPE_VERSION, owner: e.owner, name: e.name, version: e.version, meshlet: e.meshlet, value: Buffer.from(e.value).toString('base64') })
  return new TextEncoder().encode(json)
}

/**
 * The value of an opened envelope, when it is for exactly this (owner, name, version, meshlet);
 * otherwise why not. The reason never contains the value.
 */
export function checkEnvelope(plain: Uint8Array, expect: { owner: Did; name: string; version: number; meshlet: Did }): { ok: true; value: Uint8Array } | { ok: false; reason: string } {
  let e: Partial<SecretEnvelope>
  try {
    e = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain)) as Partial<SecretEnvelope>
  } catch {
    return { ok: false, reason: 'the opened copy is not an envelope (not UTF-8 JSON)' }
  }
  if (typeof e !== 'object' || e === null) return { ok: false, reason: 'the opened copy is not an envelope' }
  if (e.v !== ENVELOPE_VERSION) return { ok: false, reason: `envelope version ${String(e.v).slice(0, 20)} is not ${ENVELOPE_VERSION}` }
  for (const key of ['owner', 'name', 'version', 'meshlet'] as const) {
    if (e[key] !== expect[key]) return { ok: false, reason: `the copy was sealed for another ${key} (replayed from another record?)` }
  }
  if (typeof e.value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(e.value)) return { ok: false, reason: 'the envelope holds no base64 value' }
  return { ok: true, value: new Uint8Array(Buffer.from(e.value, 'base64')) }
}

/** Every secret a workload needs: its `secrets` and its `registryAuth`, each once. */
export function secretsOf(w: Workload): string[] {
  const names = [...(w.secrets ?? [])]
  if (w.registryAuth && !names.includes(w.registryAuth)) names.push(w.registryAuth)
  return names
}

/**
 * Why this meshlet cannot run `w` for want of a sealed copy (the decline reason), or undefined.
 * `sealingKey`: this meshlet's own public key; a copy sealed to an older key cannot be opened.
 */
export function missingSecret(w: Workload, meshlet: Did, sealingKey: string | undefined, secretOf: (owner: Did, name: string) => SecretRecord | undefined): string | undefined {
  for (const name of secretsOf(w)) {
    const rec = secretOf(w.owner, name)
    if (!rec) return `no secret ${name} in ${w.owner}'s repo`
    const copy = rec.copies.find((c) => c.meshlet === meshlet)
    if (!copy) return `no sealed copy of secret ${name}`
    if (sealingKey !== undefined && copy.sealingKey !== sealingKey) return `no sealed copy of secret ${name} for this meshlet's current sealing key (reseal it)`
  }
  return undefined
}

/** The versions of the secrets `w` mounts, for its spec hash: a new value means new containers. Empty when it names none. */
export function secretVersions(w: Workload, secretOf: (owner: Did, name: string) => SecretRecord | undefined): { name: string; version: number }[] {
  return secretsOf(w).map((name) => ({ name, version: secretOf(w.owner, name)?.version ?? 0 }))
}

/**
 * Who a secret of `owner` is sealed to: every meshlet that may run the owner's work (PROTOCOL §2):
 * the owner's own verified meshlets, and the verified meshlets of mutually verified members whose
 * membership lists the owner. `missing`: such meshlets that publish no sealing key yet.
 */
export function sealingTargets(
  owner: Did,
  graph: { activeCluster(o: Did): Did[]; meshletsOf(o: Did): Did[]; membersOf(m: Did): Did[] },
  keyOf: (meshlet: Did) => string | undefined,
): { targets: { meshlet: Did; key: string }[]; missing: Did[] } {
  const targets: { meshlet: Did; key: string }[] = []
  const missing: Did[] = []
  for (const o of [owner, ...graph.activeCluster(owner)]) {
    for (const m of graph.meshletsOf(o)) {
      if (o !== owner && !graph.membersOf(m).includes(owner)) continue
      const key = keyOf(m)
      if (key) targets.push({ meshlet: m, key })
      else missing.push(m)
    }
  }
  return { targets, missing }
}

/**
 * Binaries from a URL: where a workload's artifact appears in its container, read-only:
 * /meshlet/bin/<the URL's last path segment> (so a multi-call binary such as busybox sees its own
 * name as argv[0]), or /meshlet/bin/artifact when that segment is not a plain file name.
 */
export function artifactPathOf(url: string): string {
  let last = ''
  try {
    last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '')
  } catch {
    last = ''
  }
  return `/meshlet/bin/${/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(last) ? last : 'artifact'}`
}
