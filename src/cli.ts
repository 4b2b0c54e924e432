// `meshlet <command>`: run a peer, link a meshlet to its owner, and the client commands.
import { parseArgs } from 'node:util'
import { ConfigError, describeError } from './errors.js'

// Everything past argument parsing loads on demand: the client commands load @atproto/api (~66 MB
// of RSS) that a running peer never needs, and the peer's config (zod) and logger (pino) cost a
// client command ~150 ms of start time it does not need either (BENCHMARKS.md, CLI start).
const clientCommands = () => import('./client/cli-commands.js')

const help = (clientHelp: string) => `meshlet: decentralized, consent-based container orchestration on the AT Protocol

usage: meshlet <command> [options]

commands:
  run        run a meshlet peer (see 'meshlet run --help')
  link       write the owner's commune.scheduler.meshlet record for a meshlet (owner's credentials)
  explain    a workload's placement from public records alone (no account): meshlet explain <uri> [--json]
  rollout    a rolling update's progress from public records: meshlet rollout status <uri> [--json]
  dev        a local commune (PLC, PDS, peers, Docker) until Ctrl-C, with ready-to-paste variables
  appview    a read-only web view of a commune, no account:  meshlet appview --members did:a,did:b [--port 2600]
  advise     what the commune lacked, what one more machine would run: meshlet advise <member-did> [--sizes 4c/16G,...]
${clientHelp}
Every option can also come from its MESHLET_* environment variable.
`

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(help((await clientCommands()).CLIENT_HELP))
    return 0
  }
  if (cmd === 'run') {
    const { loadRunConfig, runHelp } = await import('./config.js')
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(runHelp())
      return 0
    }
    const cfg = loadRunConfig(rest)
    const { rootLogger } = await import('./logger.js')
    rootLogger.level = cfg.logLevel
    // The peer's adapters (Docker, sqlite, firehose) load only for `run`: client commands start faster.
    const { startMeshlet } = await import('./context.js')
    const peer = await startMeshlet(cfg)
    const stop = (sig: string) => {
      peer.log.info({ signal: sig }, 'stopping (containers keep running)')
      void peer.stop()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
    await peer.waitUntilStopped()
    return 0
  }
  if (cmd === 'dev') {
    // Only here: the devnet pulls in the PDS and PLC servers (dev dependencies).
    const { runDev, DevUsageError } = await import('./devnet/dev.js')
    try {
      return await runDev(rest)
    } catch (err) {
      if (err instanceof DevUsageError) {
        process.stderr.write(err.message.endsWith('\n') ? err.message : err.message + '\n')
        return 2
      }
      throw err
    }
  }
  if (cmd === 'link') {
    const { values } = parseArgs({
      args: rest,
      options: {
        owner: { type: 'string' },
        'owner-password': { type: 'string' },
        meshlet: { type: 'string' },
        pds: { type: 'string' },
        plc: { type: 'string' },
        'allow-http': { type: 'boolean' },
        unlink: { type: 'boolean' },
      },
    })
    const { linkMeshlet } = await import('./link.js')
    const out = await linkMeshlet({
      owner: values.owner ?? process.env.MESHLET_OWNER,
      ownerPassword: values['owner-password'] ?? process.env.MESHLET_OWNER_PASSWORD,
      meshlet: values.meshlet ?? process.env.MESHLET_DID,
      pds: values.pds ?? process.env.MESHLET_OWNER_PDS,
      plc: values.plc ?? process.env.MESHLET_PLC ?? 'https://plc.directory',
      allowHttp: values['allow-http'] ?? /^(1|true|yes)$/i.test(process.env.MESHLET_ALLOW_HTTP ?? ''),
      unlink: values.unlink ?? false,
    })
    process.stdout.write(out + '\n')
    return 0
  }
  if (cmd === 'explain') {
    // Public records only: no account, so it stays out of the client commands' login path.
    const { runExplain } = await import('./client/explain-command.js')
    const res = await runExplain(rest)
    ;(res.code === 0 ? process.stdout : process.stderr).write(res.text)
    return res.code
  }
  // appview (issue 15): the hardware advisor, from public records.
  if (cmd === 'advise') {
    const { runAdvise } = await import('./client/advise-command.js')
    const res = await runAdvise(rest)
    ;(res.code === 0 ? process.stdout : process.stderr).write(res.text)
    return res.code
  }
  // appview (issue 15): the web view alone, read-only, from public repos.
  if (cmd === 'appview') {
    const { startAppview, appviewOptionsFrom, APPVIEW_HELP } = await import('./appview.js')
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(APPVIEW_HELP)
      return 0
    }
    const av = await startAppview(appviewOptionsFrom(rest))
    process.stdout.write(`appview at ${av.url}/\n`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await av.close()
    return 0
  }
  if (cmd === 'rollout') {
    // issue 12 (rollout): public records only, like explain
    const { runRollout } = await import('./client/rollout-command.js')
    const res = await runRollout(rest)
    ;(res.code === 0 ? process.stdout : process.stderr).write(res.text)
    return res.code
  }
  const { runClientCommand, CLIENT_HELP } = await clientCommands()
  const res = await runClientCommand(cmd, rest)
  if (res === undefined) {
    process.stderr.write(`meshlet: unknown command '${cmd}'\n\n${help(CLIENT_HELP)}`)
    return 2
  }
  for (const w of res.warnings ?? []) process.stderr.write(w + '\n')
  if (res.text) (res.code === 0 ? process.stdout : process.stderr).write(res.text.endsWith('\n') ? res.text : res.text + '\n')
  return res.code
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // One readable line (or block for config) and a non-zero exit: never a stack trace for user errors.
    const msg = err instanceof ConfigError ? err.message : `error: ${describeError(err)}`
    process.stderr.write(`meshlet: ${msg}\n`)
    if (process.env.MESHLET_DEBUG) console.error(err)
    process.exit(err instanceof ConfigError ? 2 : 1)
  },
)
