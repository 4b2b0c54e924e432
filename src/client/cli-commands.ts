// Flag parsing for the client commands of `meshlet <cmd>` (src/cli.ts calls runClientCommand).
// This is the CLI edge: the only client file that looks at the environment, and only through the
// `env` argument, so tests pass their own.
import { parseArgs } from 'node:util'
import { isValidDid } from '@atproto/syntax'
import { describeError } from '../errors.js'
import type { ClientContext, CommandResult } from './commands.js'
import { EXIT } from './exit-codes.js'

export const CLIENT_HELP = `  submit     publish a workload from a JSON or YAML file:   meshlet submit <file> [--json]
  ls         your workloads and their state:                meshlet ls [--meshlet <did>] [--json]
  status     state, replicas and bids (won/lost, why):      meshlet status <uri|id> [--meshlet <did>] [--json]
  logs       the output of a workload's containers:         meshlet logs <uri|id> [--tail N] [--json]
  rm         delete a workload (every meshlet stops it):    meshlet rm <uri|id> [--json]
  pause      freeze a workload's containers:                meshlet pause <uri|id> [--meshlet <did>] [--json]
  resume     thaw paused containers:                        meshlet resume <uri|id> [--meshlet <did>] [--json]
  stop       stop replicas here (next bidder takes over):   meshlet stop <uri|id> [--meshlet <did>] [--json]
  capacity   a meshlet's free resources:                    meshlet capacity <meshlet-did> [--json]
  shutdown   drain and stop one of your meshlets:           meshlet shutdown <meshlet-did> [--no-drain] [--json]
  (client commands log in as you: --as <handle|did> (MESHLET_OWNER), --password (MESHLET_OWNER_PASSWORD),
   --pds <url> (MESHLET_OWNER_PDS; default from your DID document), --plc (MESHLET_PLC), --allow-http (MESHLET_ALLOW_HTTP))
`

type Env = Record<string, string | undefined>

const COMMANDS = ['submit', 'ls', 'status', 'logs', 'rm', 'pause', 'resume', 'stop', 'capacity', 'shutdown'] as const
type ClientCommand = (typeof COMMANDS)[number]

const OPTIONS = {
  as: { type: 'string' },
  owner: { type: 'string' },
  password: { type: 'string' },
  'owner-password': { type: 'string' },
  pds: { type: 'string' },
  plc: { type: 'string' },
  'allow-http': { type: 'boolean' },
  meshlet: { type: 'string' },
  json: { type: 'boolean' },
  tail: { type: 'string' },
  'no-drain': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

const ARGS: Record<ClientCommand, string | undefined> = {
  submit: '<file>',
  ls: undefined,
  status: '<uri|id>',
  logs: '<uri|id>',
  rm: '<uri|id>',
  pause: '<uri|id>',
  resume: '<uri|id>',
  stop: '<uri|id>',
  capacity: '<meshlet-did>',
  shutdown: '<meshlet-did>',
}

function usage(cmd: ClientCommand): string {
  const line = CLIENT_HELP.split('\n').find((l) => l.trimStart().startsWith(`${cmd} `))
  return `usage: ${line?.split(':').slice(1).join(':').trim() ?? `meshlet ${cmd}`}`
}

/**
 * Runs a client command. Returns undefined when `cmd` is not one, so the CLI can say so.
 * Exit codes: 0 done, 1 failed, 2 bad usage or input.
 */
export async function runClientCommand(cmd: string, args: string[], env: Env = process.env): Promise<{ text: string; code: number } | undefined> {
  if (!(COMMANDS as readonly string[]).includes(cmd)) return undefined
  const command = cmd as ClientCommand
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }))
  } catch (err) {
    return { text: `meshlet ${command}: ${describeError(err)}\n${usage(command)}`, code: EXIT.usage }
  }
  if (values.help) return { text: usage(command), code: EXIT.ok }
  if (values['no-drain'] && command !== 'shutdown') return { text: `meshlet ${command}: --no-drain is only for shutdown\n${usage(command)}`, code: EXIT.usage }
  const want = ARGS[command] ? 1 : 0
  if (positionals.length !== want) {
    const what = want ? `expects ${ARGS[command]}` : 'takes no arguments'
    return { text: `meshlet ${command} ${what}\n${usage(command)}`, code: EXIT.usage }
  }
  if ((command === 'capacity' || command === 'shutdown') && !isValidDid(positionals[0]!)) {
    return { text: `meshlet ${command}: ${JSON.stringify(positionals[0])} is not a meshlet DID (did:plc:... or did:web:...)\n${usage(command)}`, code: EXIT.usage }
  }
  let tail: number | undefined
  if (values.tail !== undefined) {
    tail = Number(values.tail)
    if (!Number.isInteger(tail) || tail < 1 || tail > 10_000) {
      return { text: `meshlet ${command}: --tail must be a whole number from 1 to 10000, got ${values.tail}`, code: EXIT.usage }
    }
  }

  const identifier = values.as ?? values.owner ?? env.MESHLET_OWNER
  const password = values.password ?? values['owner-password'] ?? env.MESHLET_OWNER_PASSWORD
  const plcUrl = values.plc ?? env.MESHLET_PLC ?? 'https://plc.directory'
  const allowInsecureHttp = values['allow-http'] ?? /^(1|true|yes)$/i.test(env.MESHLET_ALLOW_HTTP ?? '')
  const meshlet = values.meshlet
  if (!identifier) return { text: `meshlet ${command}: who are you? give --as <handle|did> or set MESHLET_OWNER`, code: EXIT.usage }
  if (!password) return { text: `meshlet ${command}: --password (MESHLET_OWNER_PASSWORD) is required: your app password`, code: EXIT.usage }
  if (meshlet !== undefined && !isValidDid(meshlet)) {
    return { text: `meshlet ${command}: --meshlet must be a DID, got ${JSON.stringify(meshlet)}`, code: EXIT.usage }
  }

  // The commands load @atproto/api and @atproto/identity (~1 s): only once the input is known good,
  // so --help and usage errors answer at once (BENCHMARKS.md, CLI start).
  const { cmdCapacity, cmdLogs, cmdLs, cmdReplicaAction, cmdRm, cmdShutdown, cmdStatus, cmdSubmit, createClientContext, createIdResolver } = await import('./commands.js')
  let ctx: ClientContext
  try {
    let service = values.pds ?? env.MESHLET_OWNER_PDS
    if (!service) {
      if (!isValidDid(identifier)) {
        return { text: `meshlet ${command}: give --pds (MESHLET_OWNER_PDS) when logging in by handle, or log in with your DID`, code: EXIT.usage }
      }
      service = (await createIdResolver({ plcUrl, allowInsecureHttp }).did.resolveAtprotoData(identifier)).pds
    }
    ctx = await createClientContext({ service, identifier, password, plcUrl, allowInsecureHttp, meshlet })
  } catch (err) {
    return { text: `meshlet ${command}: ${describeError(err)}`, code: EXIT.failed }
  }

  const json = values.json ?? false
  const arg = positionals[0]!
  let res: CommandResult
  switch (command) {
    case 'submit':
      res = await cmdSubmit(ctx, arg, { json })
      break
    case 'ls':
      res = await cmdLs(ctx, { json, meshlet })
      break
    case 'status':
      res = await cmdStatus(ctx, arg, { json, meshlet })
      break
    case 'logs':
      res = await cmdLogs(ctx, arg, { json, meshlet, tail })
      break
    case 'rm':
      res = await cmdRm(ctx, arg, { json })
      break
    case 'pause':
    case 'resume':
    case 'stop':
      res = await cmdReplicaAction(ctx, command, arg, { json, meshlet })
      break
    case 'capacity':
      res = await cmdCapacity(ctx, arg, { json })
      break
    case 'shutdown':
      res = await cmdShutdown(ctx, arg, { json, drain: !values['no-drain'] })
      break
  }
  return { text: res.text, code: res.exitCode }
}
