// Flag parsing for the client commands of `meshlet <cmd>` (src/cli.ts calls runClientCommand).
// This is the CLI edge: the only client file that looks at the environment, and only through the
// `env` argument, so tests pass their own.
import { parseArgs } from 'node:util'
import { isValidDid } from '@atproto/syntax'
import { describeError } from '../errors.js'
import { nearest } from '../suggest.js'
import type { ClientContext, CommandResult } from './commands.js'
import { EXIT } from './exit-codes.js'
import { secretNameProblem } from '../core/secrets.js'


export const CLIENT_HELP = `  submit     publish a workload from a JSON or YAML file:   meshlet submit <file> [--wait] [--strict] [--json]
  ls         your workloads and their state:                meshlet ls [--meshlet <did>] [--json]
  status     state, replicas and bids (won/lost, why):      meshlet status <name|id|uri> [--meshlet <did>] [--json]
  logs       the output of a workload's containers:         meshlet logs <name|id|uri> [--tail N] [--json]
  rm         delete a workload (every meshlet stops it):    meshlet rm <name|id|uri> [--purge] [--json]
  pause      freeze a workload's containers:                meshlet pause <name|id|uri> [--meshlet <did>] [--json]
  resume     thaw paused containers:                        meshlet resume <name|id|uri> [--meshlet <did>] [--json]
  stop       stop replicas here (next bidder takes over):   meshlet stop <name|id|uri> [--meshlet <did>] [--json]
  capacity   a meshlet's free resources:                    meshlet capacity <meshlet-did> [--json]
  shutdown   drain and stop one of your meshlets:           meshlet shutdown <meshlet-did> [--no-drain] [--json]
  evict      stop a guest's workload on your meshlet(s):    meshlet evict <uri> [--meshlet <did>] [--undo] [--json]
  secret     sealed secrets (set a new value, list, delete, seal for new meshlets):  meshlet secret set|reseal NAME [--from-file F | stdin], secret ls, secret rm NAME [--json]
  endpoints  where a workload's published ports answer:     meshlet endpoints <name|id|uri> [--meshlet <did>] [--json]
  (client commands log in as you: --as <handle|did> (MESHLET_USER), --password (MESHLET_USER_PASSWORD),
   --pds <url> (MESHLET_USER_PDS; default from your DID document), --plc <url> (MESHLET_PLC; default
   https://plc.directory), --allow-http (MESHLET_ALLOW_HTTP; local dev networks). \`meshlet dev\` prints them all.)
`

type Env = Record<string, string | undefined>

const COMMANDS = ['submit', 'ls', 'status', 'logs', 'rm', 'pause', 'resume', 'stop', 'capacity', 'shutdown', 'evict', 'secret', 'endpoints'] as const
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
  strict: { type: 'boolean' },
  wait: { type: 'boolean' },
  tail: { type: 'string' },
  'no-drain': { type: 'boolean' },
  undo: { type: 'boolean' },
  // Secrets (issue 13)
  'from-file': { type: 'string' },
  purge: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

const ARGS: Record<ClientCommand, string | undefined> = {
  submit: '<file>',
  ls: undefined,
  status: '<name|id|uri>',
  logs: '<name|id|uri>',
  rm: '<name|id|uri>',
  pause: '<name|id|uri>',
  resume: '<name|id|uri>',
  stop: '<name|id|uri>',
  capacity: '<meshlet-did>',
  shutdown: '<meshlet-did>',
  evict: '<uri>',
  secret: 'set|ls|rm|reseal [NAME]',
  endpoints: '<name|id|uri>',
}

function usage(cmd: ClientCommand): string {
  const line = CLIENT_HELP.split('\n').find((l) => l.trimStart().startsWith(`${cmd} `))
  return `usage: ${line?.split(':').slice(1).join(':').trim() ?? `meshlet ${cmd}`}`
}

/**
 * Runs a client command. Returns undefined when `cmd` is not one, so the CLI can say so.
 * Exit codes: 0 done, 1 failed, 2 bad usage or input.
 */
export async function runClientCommand(cmd: string, args: string[], env: Env = process.env, readStdin: () => Promise<Uint8Array> = readAllStdin): Promise<{ text: string; code: number; warnings?: string[] } | undefined> {
  if (!(COMMANDS as readonly string[]).includes(cmd)) return undefined
  const command = cmd as ClientCommand
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }))
  } catch (err) {
    return { text: `meshlet ${command}: ${unknownFlag(args) ?? describeError(err)}\n${usage(command)}`, code: EXIT.usage }
  }
  if (values.help) return { text: usage(command), code: EXIT.ok }
  if (values['no-drain'] && command !== 'shutdown') return { text: `meshlet ${command}: --no-drain is only for shutdown\n${usage(command)}`, code: EXIT.usage }
  if (values.purge && command !== 'rm') return { text: `meshlet ${command}: --purge is only for rm\n${usage(command)}`, code: EXIT.usage }
  if (values.undo && command !== 'evict') return { text: `meshlet ${command}: --undo is only for evict\n${usage(command)}`, code: EXIT.usage }
  if (values['from-file'] !== undefined && command !== 'secret') return { text: `meshlet ${command}: --from-file is only for secret\n${usage(command)}`, code: EXIT.usage }
  const want = ARGS[command] ? 1 : 0
  // Secrets (issue 13): `secret <action> [NAME]` takes one or two.
  if (command === 'secret' ? !isSecretArgs(positionals) : positionals.length !== want) {
    const what = want ? `expects ${ARGS[command]}` : 'takes no arguments'
    return { text: `meshlet ${command} ${what}\n${usage(command)}`, code: EXIT.usage }
  }
  const badName = command === 'secret' && positionals[1] !== undefined ? secretNameProblem(positionals[1]) : undefined
  if (badName) return { text: `meshlet secret: ${badName}\n${usage(command)}`, code: EXIT.usage }
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

  const who = userEnv(env)
  const warnings = who.deprecated
  const identifier = values.as ?? values.owner ?? who.user
  const password = values.password ?? values['owner-password'] ?? who.password
  const plcDefault = !values.plc && !env.MESHLET_PLC
  const plcUrl = values.plc || env.MESHLET_PLC || DEFAULT_PLC
  const allowInsecureHttp = values['allow-http'] ?? /^(1|true|yes)$/i.test(env.MESHLET_ALLOW_HTTP ?? '')
  const meshlet = values.meshlet
  const done = (text: string, code: number) => ({ text: code === EXIT.ok ? text : explainSetup(text, { plcUrl, plcDefault, allowInsecureHttp }), code, warnings })
  if (!identifier) return done(`meshlet ${command}: who are you? give --as <handle|did> or set MESHLET_USER (\`meshlet dev\` prints it for a local commune)`, EXIT.usage)
  if (!password) return done(`meshlet ${command}: --password (MESHLET_USER_PASSWORD) is required: your app password`, EXIT.usage)
  if (meshlet !== undefined && !isValidDid(meshlet)) {
    return { text: `meshlet ${command}: --meshlet must be a DID, got ${JSON.stringify(meshlet)}`, code: EXIT.usage }
  }

  // The commands load @atproto/api and @atproto/identity (~1 s): only once the input is known good,
  // so --help and usage errors answer at once (BENCHMARKS.md, CLI start).
  const { cmdCapacity, cmdEndpoints, cmdRmPurge, cmdEvict, cmdLogs, cmdLs, cmdReplicaAction, cmdRm, cmdShutdown, cmdStatus, cmdSubmit, createClientContext, createIdResolver } = await import('./commands.js')
  let ctx: ClientContext
  try {
    let service = values.pds ?? who.pds
    if (!service) {
      if (!isValidDid(identifier)) {
        return done(`meshlet ${command}: give --pds (MESHLET_USER_PDS) when logging in by handle, or log in with your DID`, EXIT.usage)
      }
      try {
        service = (await createIdResolver({ plcUrl, allowInsecureHttp }).did.resolveAtprotoData(identifier)).pds
      } catch (err) {
        return done(`meshlet ${command}: cannot resolve ${identifier} at the PLC directory ${plcUrl}: ${describeError(err)}`, EXIT.failed)
      }
    }
    ctx = await createClientContext({ service, identifier, password, plcUrl, allowInsecureHttp, meshlet })
  } catch (err) {
    return done(`meshlet ${command}: ${describeError(err)}`, EXIT.failed)
  }

  const json = values.json ?? false
  const arg = positionals[0]!
  let res: CommandResult
  switch (command) {
    case 'submit':
      res = await cmdSubmit(ctx, arg, { json, strict: values.strict ?? false, waitMs: values.wait ? 120_000 : undefined })
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
      res = values.purge ? await cmdRmPurge(ctx, arg, { json, meshlet }) : await cmdRm(ctx, arg, { json })
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
    case 'evict':
      res = await cmdEvict(ctx, arg, { json, meshlet, undo: values.undo ?? false })
      break
    case 'secret':
      res = await secretCommand(ctx, positionals, { json, fromFile: values['from-file'], plcUrl, allowInsecureHttp, readStdin })
      break
    case 'endpoints':
      res = await cmdEndpoints(ctx, arg, { json, meshlet })
      break
  }
  warnings.push(...(res.warnings ?? []))
  return done(res.text, res.exitCode)
}

const DEFAULT_PLC = 'https://plc.directory'

/**
 * Who the client logs in as. MESHLET_USER* name the person at the keyboard; the older MESHLET_OWNER*
 * still work (with a note) but read like the peer's `run --owner`, which is someone else's job.
 */
export function userEnv(env: Env): { user?: string; password?: string; pds?: string; deprecated: string[] } {
  const deprecated: string[] = []
  const pick = (name: string, old: string) => {
    if (env[name] !== undefined) return env[name]
    if (env[old] !== undefined) deprecated.push(`note: ${old} is deprecated for client commands (it reads like the peer's owner); use ${name}`)
    return env[old]
  }
  return { user: pick('MESHLET_USER', 'MESHLET_OWNER'), password: pick('MESHLET_USER_PASSWORD', 'MESHLET_OWNER_PASSWORD'), pds: pick('MESHLET_USER_PDS', 'MESHLET_OWNER_PDS'), deprecated }
}

/** Adds what to do to the setup failures people meet first: the wrong PLC, plain http refused. */
export function explainSetup(text: string, s: { plcUrl: string; plcDefault: boolean; allowInsecureHttp: boolean }): string {
  const hints: string[] = []
  const unreachable = /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|timed? ?out/i.test(text)
  if (s.plcDefault && (unreachable || /could not resolve|cannot be resolved|cannot resolve/i.test(text))) {
    hints.push(`hint: DIDs were resolved at ${s.plcUrl} (the default PLC directory); for a local network set --plc <url> or MESHLET_PLC`)
  } else if (unreachable && /resolve/i.test(text)) {
    hints.push(`hint: DIDs were resolved at ${s.plcUrl} (from --plc / MESHLET_PLC); is that directory running?`)
  }
  if (!s.allowInsecureHttp && /forbidden protocol "http:"|plain http|allow insecure http/i.test(text)) {
    hints.push('hint: plain http:// is refused by default; for a local dev network add --allow-http (or MESHLET_ALLOW_HTTP=1)')
  }
  return hints.length ? `${text}\n${hints.join('\n')}` : text
}

/** "unknown flag --plcc; did you mean --plc?" instead of the parser's generic message. */
function unknownFlag(args: string[]): string | undefined {
  const known = Object.keys(OPTIONS)
  for (const a of args) {
    if (a === '--') break
    if (!a.startsWith('--')) continue
    const name = a.slice(2).split('=')[0]!
    if (known.includes(name)) continue
    const near = nearest(name, known)
    return `unknown flag --${name}${near ? `; did you mean --${near}?` : ''}`
  }
  return undefined
}

// Secrets (issue 13): `meshlet secret ...` (src/client/secret-commands.ts).
function isSecretArgs(p: string[]): boolean {
  const action = p[0]
  if (action === 'ls') return p.length === 1
  return (action === 'set' || action === 'rm' || action === 'reseal') && p.length === 2
}

async function secretCommand(
  ctx: ClientContext,
  positionals: string[],
  o: { json: boolean; fromFile?: string; plcUrl: string; allowInsecureHttp: boolean; readStdin: () => Promise<Uint8Array> },
): Promise<CommandResult> {
  const [action, name] = positionals as ['set' | 'ls' | 'rm' | 'reseal', string | undefined]
  let value: Uint8Array | undefined
  if (action === 'set' || action === 'reseal') {
    try {
      value = o.fromFile !== undefined ? new Uint8Array(await (await import('node:fs/promises')).readFile(o.fromFile)) : await o.readStdin()
    } catch (err) {
      return { text: `meshlet secret ${action}: cannot read ${o.fromFile ?? 'stdin'}: ${describeError(err)}`, exitCode: EXIT.usage }
    }
    if (value.length === 0) return { text: `meshlet secret ${action}: the value is empty (give it with --from-file F or on stdin)`, exitCode: EXIT.usage }
  }
  const [{ cmdSecret }, { AtprotoIdentityResolver }, { AtprotoPublicRecordReader }] = await Promise.all([
    import('./secret-commands.js'),
    import('../adapters/atproto/identity.js'),
    import('../adapters/atproto/public-record-reader.js'),
  ])
  const reader = new AtprotoPublicRecordReader(new AtprotoIdentityResolver({ plcUrl: o.plcUrl, allowInsecureHttp: o.allowInsecureHttp }))
  return cmdSecret(ctx, reader, action, name, { json: o.json, ...(value ? { value } : {}) })
}

/** The whole of stdin (a terminal gets no prompt: pipe the value in, or use --from-file). */
async function readAllStdin(): Promise<Uint8Array> {
  if (process.stdin.isTTY) throw new Error('stdin is a terminal; pipe the value in (printf %s "$VALUE" | meshlet secret set NAME) or use --from-file')
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}
