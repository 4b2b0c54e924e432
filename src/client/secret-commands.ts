// `meshlet secret set|ls|rm|reseal` (issue 13): seal a value separately to every meshlet that may
// run the caller's work and publish only the sealed copies (commune.scheduler.secret, rkey = name).
// Who those meshlets are comes from public records (the cluster graph a peer builds), their keys
// from their profiles. The value is never printed, logged or sent anywhere but into sealed boxes.
import { NSID, type Did, type SecretRecord } from '../core/types.js'
import { MAX_SECRET_BYTES, sealingTargets, secretNameProblem } from '../core/secrets.js'
import { sealFor } from '../adapters/crypto/sealing.js'
import { MAX_RECORD_BYTES } from '../adapters/atproto/decode.js'
import { readCluster } from '../services/explain.js'
import type { PublicRecordReader } from '../ports/public-records.js'
import { EXIT } from './exit-codes.js'
import { fail, ok, pds, run, type ClientContext, type CommandResult } from './context.js'

export type SecretAction = 'set' | 'ls' | 'rm' | 'reseal'
export const SECRET_ACTIONS: readonly SecretAction[] = ['set', 'ls', 'rm', 'reseal']

export interface SecretOptions {
  json: boolean
  /** The value (set, reseal): from --from-file or stdin, read by the CLI edge. */
  value?: Uint8Array
}

interface SecretRow {
  name: string
  version: number
  copies: Did[]
  /** Meshlets that may run the caller's work but hold no copy for their current key: `reseal` adds them. */
  missing: Did[]
}

export async function cmdSecret(ctx: ClientContext, reader: PublicRecordReader, action: SecretAction, name: string | undefined, opts: SecretOptions): Promise<CommandResult> {
  return run(opts, async () => {
    if (action !== 'ls') {
      if (!name) return usage(`meshlet secret ${action} needs a NAME`, opts)
      const problem = secretNameProblem(name)
      if (problem) return usage(problem, opts)
    }
    if ((action === 'set' || action === 'reseal') && opts.value === undefined) return usage(`meshlet secret ${action} ${name}: give the value with --from-file F or on stdin`, opts)
    if (opts.value && opts.value.length > MAX_SECRET_BYTES) return usage(`the value is ${opts.value.length} bytes; a secret holds at most ${MAX_SECRET_BYTES}`, opts)
    if (action === 'rm') {
      await pds(ctx, `delete secret ${name}`, () => ctx.agent.com.atproto.repo.deleteRecord({ repo: ctx.did, collection: NSID.secret, rkey: name! }))
      return ok(opts.json ? { name, deleted: true } : `deleted secret ${name} (workloads that name it are declined from now on)`)
    }
    const { view, graph } = await readCluster(ctx.did, reader, { now: ctx.now().getTime() })
    const keyOf = (m: Did) => view.profile(m)?.sealingKey
    const { targets, missing: keyless } = sealingTargets(ctx.did, graph, keyOf)
    const rowOf = (rec: SecretRecord): SecretRow => ({
      name: rec.name,
      version: rec.version,
      copies: rec.copies.map((c) => c.meshlet),
      missing: targets.filter((t) => !rec.copies.some((c) => c.meshlet === t.meshlet && c.sealingKey === t.key)).map((t) => t.meshlet),
    })
    if (action === 'ls') {
      const rows = view.secrets().filter((s) => s.owner === ctx.did).sort((a, b) => (a.name < b.name ? -1 : 1)).map(rowOf)
      if (opts.json) return ok({ secrets: rows, keyless })
      if (rows.length === 0) return ok('no secrets')
      const lines = rows.map((r) => `${r.name}  version ${r.version}  sealed for ${r.copies.length}: ${r.copies.join(', ') || '-'}${r.missing.length ? `\n  no copy yet (meshlet secret reseal ${r.name}): ${r.missing.join(', ')}` : ''}`)
      return ok(lines.join('\n'))
    }
    const existing = view.secret(ctx.did, name!)
    if (action === 'reseal' && !existing) return fail(`no secret ${name} to reseal; use meshlet secret set`, opts)
    if (targets.length === 0) return fail(`no meshlet that may run your work publishes a sealing key (keyless: ${keyless.join(', ') || 'none'})`, opts)
    // set: a new version for everyone. reseal: the same version, copies kept, new ones for meshlets without (the value must be the same).
    const version = action === 'set' ? (existing?.version ?? 0) + 1 : existing!.version
    const kept = action === 'reseal' ? existing!.copies.filter((c) => targets.some((t) => t.meshlet === c.meshlet && t.key === c.sealingKey)) : []
    const fresh = targets.filter((t) => !kept.some((c) => c.meshlet === t.meshlet))
    const sealed = await Promise.all(fresh.map(async (t) => ({ meshlet: t.meshlet, sealingKey: t.key, ciphertext: await sealFor(t.key, { owner: ctx.did, name: name!, version, meshlet: t.meshlet, value: opts.value! }) })))
    const copies = [...kept, ...sealed].sort((a, b) => (a.meshlet < b.meshlet ? -1 : 1))
    const record = { $type: NSID.secret, version, copies, createdAt: ctx.now().toISOString() }
    const bytes = Buffer.byteLength(JSON.stringify(record))
    if (bytes > MAX_RECORD_BYTES) return fail(`sealed for ${copies.length} meshlets the record would be ${bytes} bytes, over the ${MAX_RECORD_BYTES} peers accept; use a smaller value`, opts)
    await pds(ctx, `write secret ${name}`, () => ctx.agent.com.atproto.repo.putRecord({ repo: ctx.did, collection: NSID.secret, rkey: name!, record, validate: false }))
    const row: SecretRow = { name: name!, version, copies: copies.map((c) => c.meshlet), missing: [] }
    if (opts.json) return ok({ ...row, added: sealed.map((c) => c.meshlet), keyless })
    const verb = action === 'set' ? `sealed secret ${name} version ${version} for ${copies.length} meshlet(s)` : `resealed secret ${name}: ${sealed.length} new cop${sealed.length === 1 ? 'y' : 'ies'} (${copies.length} in all)`
    return ok(`${verb}${keyless.length ? `\nno sealing key published yet (reseal once they run): ${keyless.join(', ')}` : ''}`)
  })
}

function usage(message: string, opts: SecretOptions): CommandResult {
  return { text: opts.json ? JSON.stringify({ error: 'InvalidRequest', message }, null, 2) : `error: ${message}`, exitCode: EXIT.usage }
}
