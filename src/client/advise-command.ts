// `meshlet advise <member-did>`: the hardware advisor (issue 15) from public records alone: what the
// member's commune lacked (demand that waited past its bid window, by the reasons meshlets declined
// it) and how much of it one more machine of each given size would have run.
import { parseArgs } from 'node:util'
import { AtprotoIdentityResolver } from '../adapters/atproto/identity.js'
import { AtprotoPublicRecordReader } from '../adapters/atproto/public-record-reader.js'
import { describeError } from '../errors.js'
import { advise, type Advice, type Machine } from '../core/advisor.js'
import { energyRows, energyText, type EnergyPrice, type EnergyRow } from '../core/energy.js'
import { epochOf, epochStart, Ledger } from '../core/ledger.js'
import { loadEnergyOptions } from '../config.js'
import { readCluster } from '../services/explain.js'
import { demandHistory, MIN_WAIT_MS } from '../services/advisor-history.js'

type Env = Record<string, string | undefined>

export const ADVISE_HELP = `usage: meshlet advise <member-did> [--sizes 2c/8G,4c/16G,8c/32G,16c/64G] [--roles r1,r2] [--capabilities gpu] [--json] [--plc <url>] [--allow-http]
       [--watts-per-core W [--kwh-price 'P [CUR]']]

What the member's commune lacked, from public records (no account): each replica that waited more
than ${MIN_WAIT_MS / 1000} s past its bid window, the reasons meshlets declined it, and what share of that
demand (in unit-seconds) one more machine of each size would have run. Candidate machines offer
--roles (default: every role the waiting work asked for) and --capabilities (default none).
With --watts-per-core (power of one busy core; MESHLET_WATTS_PER_CORE) it also shows, per owner,
the energy of the CPU time the ledger counts they consumed on others' meshlets and contributed to
others' work, and with --kwh-price (e.g. 0.32 EUR; MESHLET_KWH_PRICE) its cost.
`

const SIZE = /^(\d{1,4})c\/(\d{1,5})G$/

export function parseSizes(s: string): { name: string; cpuMillis: number; memoryMb: number }[] | string {
  const out = []
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = SIZE.exec(part)
    if (!m) return `--sizes: "${part}" is not <cores>c/<GiB>G, like 4c/16G`
    out.push({ name: part, cpuMillis: Number(m[1]) * 1000, memoryMb: Number(m[2]) * 1024 })
  }
  return out.length ? out : '--sizes: give at least one size'
}

export async function runAdvise(args: string[], env: Env = process.env, now: () => number = Date.now): Promise<{ text: string; code: number }> {
  let values: { json?: boolean; plc?: string; 'allow-http'?: boolean; help?: boolean; sizes?: string; roles?: string; capabilities?: string; 'watts-per-core'?: string; 'kwh-price'?: string }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        plc: { type: 'string' },
        'allow-http': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        sizes: { type: 'string' },
        roles: { type: 'string' },
        capabilities: { type: 'string' },
        'watts-per-core': { type: 'string' },
        'kwh-price': { type: 'string' },
      },
    }))
  } catch (err) {
    return { text: `${describeError(err)}\n${ADVISE_HELP}`, code: 2 }
  }
  if (values.help) return { text: ADVISE_HELP, code: 0 }
  if (positionals.length !== 1 || !/^did:(plc|web):/.test(positionals[0]!)) return { text: ADVISE_HELP, code: 2 }
  const sizes = parseSizes(values.sizes ?? '2c/8G,4c/16G,8c/32G,16c/64G')
  if (typeof sizes === 'string') return { text: `${sizes}\n`, code: 2 }
  let price: EnergyPrice | undefined
  try {
    price = loadEnergyOptions(values, env)
  } catch (err) {
    return { text: `${describeError(err)}\n`, code: 2 }
  }
  const plcUrl = values.plc ?? env.MESHLET_PLC
  const allowInsecureHttp = values['allow-http'] ?? /^(1|true|yes)$/i.test(env.MESHLET_ALLOW_HTTP ?? '')
  const identity = new AtprotoIdentityResolver({ ...(plcUrl ? { plcUrl } : {}), allowInsecureHttp })
  const member = positionals[0]!
  try {
    const at = now()
    const { view, graph, unreadable } = await readCluster(member, new AtprotoPublicRecordReader(identity), { now: at })
    const owners = [member, ...graph.activeCluster(member)]
    const history = demandHistory(view, graph, owners, at)
    const csv = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean)
    const roles = values.roles !== undefined ? csv(values.roles) : [...new Set(history.flatMap((d) => d.roles))].sort()
    const capabilities = csv(values.capabilities)
    const machines: Machine[] = sizes.map((z) => ({ ...z, roles, capabilities }))
    const a = advise(history, machines)
    // Energy (issue 15): the ledger replayed at the next hour boundary, as the web view does.
    const ledger = price ? new Ledger({ workloads: view.workloads(), bids: view.allBids(), statuses: view.allStatuses(), profiles: view.profiles(), ownerOf: (m) => graph.ownerOf(m), now: epochStart(epochOf(at) + 1) }) : undefined
    const energy = price && ledger ? energyRows(owners, (o) => ledger.cpuUse(o), price) : undefined
    if (values.json) return { text: `${JSON.stringify(energy ? { ...a, energy } : a, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`, code: 0 }
    return { text: formatAdvice(a, { owners: owners.length, roles, capabilities, unreadable: unreadable.length }) + (energy ? formatEnergy(energy) : ''), code: 0 }
  } catch (err) {
    return { text: `could not read the public records (PLC ${identity.plcUrl}${allowInsecureHttp ? '' : '; a local commune needs --allow-http'}): ${describeError(err)}\n`, code: 1 }
  }
}

/** Unit-seconds from milli-unit-seconds, for people. */
const us = (milli: bigint) => String(milli / 1000n)

export function formatAdvice(a: Advice, ctx: { owners: number; roles: string[]; capabilities: string[]; unreadable: number }): string {
  const lines = [`${a.demands} replica(s) of ${ctx.owners} owner(s) waited; ${us(a.units)} unit-seconds of demand (1 unit = 1 core or 1 GiB)`]
  if (ctx.unreadable) lines.push(`(${ctx.unreadable} repo(s) could not be read: the figures may be low)`)
  if (a.demands === 0) return lines.concat('nothing waited: the commune had what it needed').join('\n') + '\n'
  lines.push('', 'declined for', ...(a.lacks.length ? a.lacks.map((l) => `  ${l.reason.padEnd(11)} ${String(l.demands).padStart(4)} replica(s)  ${us(l.units).padStart(10)} unit-s`) : ['  (no declines on record: it waited for capacity)']))
  lines.push('', `one more machine${ctx.roles.length ? ` with roles ${ctx.roles.join(',')}` : ''}${ctx.capabilities.length ? ` and ${ctx.capabilities.join(',')}` : ''} would have run`)
  for (const m of a.machines) lines.push(`  ${m.machine.padEnd(10)} ${String(m.percent).padStart(3)} %  (${m.absorbed} replica(s), ${us(m.absorbedUnits)} unit-s)`)
  return lines.join('\n') + '\n'
}

/** The energy block of `meshlet advise` (issue 15). */
export function formatEnergy(rows: EnergyRow[]): string {
  const lines = ['', 'energy of the CPU time the ledger counts (undecayed; own work on own machines is not counted)']
  for (const r of rows) lines.push(`  ${r.owner}  consumed ${energyText(r.consumed)}  contributed ${energyText(r.contributed)}`)
  return lines.join('\n') + '\n'
}
