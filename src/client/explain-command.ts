// `meshlet explain <workload-uri> [--json]`: needs no account, no password and no peer. It reads
// public records only, and prints what every peer of the commune computes for that workload.
import { parseArgs } from 'node:util'
import { AtprotoIdentityResolver } from '../adapters/atproto/identity.js'
import { AtprotoPublicRecordReader } from '../adapters/atproto/public-record-reader.js'
import { describeError } from '../errors.js'
import { explainWorkload, ExplainInputError, type Explanation } from '../services/explain.js'

type Env = Record<string, string | undefined>

export const EXPLAIN_HELP = `usage: meshlet explain <workload-uri> [--json] [--plc <url>] [--allow-http]

Recomputes a workload's placement from public records alone (no account, no peer access): the
holders, every bid with its validity and priority, and the reasons every peer of the commune
shows. --plc (MESHLET_PLC) names the PLC directory; --allow-http (MESHLET_ALLOW_HTTP) allows
plain-http PDSes and directories (a local commune).
`

export async function runExplain(args: string[], env: Env = process.env, now: () => number = Date.now): Promise<{ text: string; code: number }> {
  let values: { json?: boolean; plc?: string; 'allow-http'?: boolean; help?: boolean }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, plc: { type: 'string' }, 'allow-http': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }))
  } catch (err) {
    return { text: `${describeError(err)}\n${EXPLAIN_HELP}`, code: 2 }
  }
  if (values.help) return { text: EXPLAIN_HELP, code: 0 }
  if (positionals.length !== 1) return { text: EXPLAIN_HELP, code: 2 }
  const plcUrl = values.plc ?? env.MESHLET_PLC
  const allowInsecureHttp = values['allow-http'] ?? isTrue(env.MESHLET_ALLOW_HTTP)
  const identity = new AtprotoIdentityResolver({ ...(plcUrl ? { plcUrl } : {}), allowInsecureHttp })
  try {
    const x = await explainWorkload(positionals[0]!, new AtprotoPublicRecordReader(identity), { now: now() })
    return { text: values.json ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x), code: x.workload ? 0 : 1 }
  } catch (err) {
    if (err instanceof ExplainInputError) return { text: `${err.message}\n`, code: 2 }
    return { text: `could not read the public records (PLC ${identity.plcUrl}${allowInsecureHttp ? '' : '; a local commune needs --allow-http'}): ${describeError(err)}\n`, code: 1 }
  }
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.toLowerCase())
}

/** The human form: holders, then every outcome with its reason, then what could not be read. */
export function formatExplanation(x: Explanation): string {
  const lines: string[] = []
  if (!x.workload) {
    lines.push(`${x.uri}: not scheduled: ${x.rejection}`)
  } else {
    const w = x.workload
    lines.push(`${w.name} (${x.uri})`, `  version ${w.cid}, ${w.kind}, replicas ${w.replicas}, image ${w.image}`)
    lines.push(`holders (${x.holders.length}/${w.replicas})${x.queued ? `: ${x.openSlots} slot(s) waiting for capacity` : ''}`)
    for (const h of x.holders) lines.push(`  replica ${h.replica ?? '?'}  ${h.meshlet}  ${h.state}${h.owner ? `  (owner ${h.owner})` : ''}`)
    if (x.holders.length === 0) lines.push('  (none)')
    lines.push('bids and claims')
    for (const o of x.outcomes) lines.push(`  ${o.outcome.padEnd(8)} ${o.meshlet}${o.priority !== undefined ? `  priority ${o.priority}` : ''}: ${o.reason}`)
    if (x.outcomes.length === 0) lines.push('  (none yet)')
    if (x.bids.length > 0) {
      lines.push('bid records, checked')
      for (const b of x.bids) {
        if (b.decline !== undefined) {
          lines.push(`  ${b.meshlet}: declined: ${b.decline}`)
          continue
        }
        const r = b.recomputed ? ` (recomputed ${b.recomputed.priority} = fairShare ${b.recomputed.fairShare} + fit ${b.recomputed.fit}, epoch ${b.recomputed.epoch})` : ''
        lines.push(`  ${b.meshlet}: priority ${b.priority} ${b.verified ? 'verified' : `INVALID: ${b.problem}`}${b.verified ? r : ''}`)
      }
    }
    if (x.balances.length > 0) {
      lines.push(`ledger balances at epoch ${x.balances[0]!.epoch} (unit-seconds: contributed - consumed)`)
      for (const b of x.balances) lines.push(`  ${b.owner}: ${b.balance} = ${b.contributed} - ${b.consumed}`)
    }
    if (x.excluded.length > 0) {
      lines.push('not eligible')
      for (const e of x.excluded) lines.push(`  ${e.meshlet}: ${e.reason}`)
    }
  }
  lines.push(`read ${x.repos.length} repo(s); liveness: ${x.liveness}`)
  for (const u of x.unreadable) lines.push(`  could not read ${u.did}: ${u.reason}`)
  return `${lines.join('\n')}\n`
}
