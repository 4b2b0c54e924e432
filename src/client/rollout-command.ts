// `meshlet rollout status <workload-uri> [--json]` (issue 12): public records only, like explain.
import { parseArgs } from 'node:util'
import { AtprotoIdentityResolver } from '../adapters/atproto/identity.js'
import { AtprotoPublicRecordReader } from '../adapters/atproto/public-record-reader.js'
import { describeError } from '../errors.js'
import { ExplainInputError } from '../services/explain.js'
import { formatRollout, rolloutReport } from '../services/rollout-report.js'

type Env = Record<string, string | undefined>

export const ROLLOUT_HELP = `usage: meshlet rollout status <workload-uri> [--json] [--plc <url>] [--allow-http]

How a workload's rolling update stands, from public records alone (no account, no peer): the
owner's version, its healthy replicas, old replicas still running, and whether the new version
failed (halted, or reverted with autoRevert). Exit 0 when the rollout is complete or rolling, 1 when
halted, reverted or the workload is missing.
`

export async function runRollout(args: string[], env: Env = process.env, now: () => number = Date.now): Promise<{ text: string; code: number }> {
  let values: { json?: boolean; plc?: string; 'allow-http'?: boolean; help?: boolean }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, plc: { type: 'string' }, 'allow-http': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }))
  } catch (err) {
    return { text: `${describeError(err)}\n${ROLLOUT_HELP}`, code: 2 }
  }
  if (values.help) return { text: ROLLOUT_HELP, code: 0 }
  if (positionals[0] !== 'status' || positionals.length !== 2) return { text: ROLLOUT_HELP, code: 2 }
  const plcUrl = values.plc ?? env.MESHLET_PLC
  const allowInsecureHttp = values['allow-http'] ?? ['1', 'true', 'yes'].includes((env.MESHLET_ALLOW_HTTP ?? '').toLowerCase())
  const identity = new AtprotoIdentityResolver({ ...(plcUrl ? { plcUrl } : {}), allowInsecureHttp })
  try {
    const x = await rolloutReport(positionals[1]!, new AtprotoPublicRecordReader(identity), { now: now() })
    const code = x.phase === 'rolling' || x.phase === 'complete' || x.phase === 'none' ? 0 : 1
    return { text: values.json ? `${JSON.stringify(x, null, 2)}\n` : formatRollout(x), code }
  } catch (err) {
    if (err instanceof ExplainInputError) return { text: `${err.message}\n`, code: 2 }
    return { text: `could not read the public records (PLC ${identity.plcUrl}${allowInsecureHttp ? '' : '; a local commune needs --allow-http'}): ${describeError(err)}\n`, code: 1 }
  }
}
