// `meshlet dev`: a local commune that stays up until Ctrl-C. A PLC directory, PDS servers and N
// real peers (real Docker) on fixed loopback ports, with every member's credentials printed as a
// block of shell variables. Its state (accounts, PLC operations, PDS data, peers' data) is kept in
// a data dir, so a second run brings back the same DIDs and the workloads submitted before.
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { consoleLogger } from '../demo/console-logger.js'
import { nearest } from '../suggest.js'
import { DevCommune, type SavedAccount } from './commune.js'
import { DevNetwork } from './network.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']

const OPTIONS = {
  peers: { type: 'string', default: '3' },
  'data-dir': { type: 'string' },
  'plc-port': { type: 'string', default: '2582' },
  'pds-port': { type: 'string', default: '2583' },
  'peer-port': { type: 'string', default: '2590' },
  fresh: { type: 'boolean' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h' },
} as const

export const DEV_HELP = `usage: meshlet dev [options]          a local commune that stays up until Ctrl-C
       meshlet dev env <member>        print a member's variables (for eval) from the data dir

  --peers N           members, each an owner with one meshlet peer (default 3: alice, bob, carol)
  --data-dir DIR      state kept between runs (default .meshlet-dev in the repository; MESHLET_DEV_DIR)
  --fresh             forget the state in the data dir and start over
  --plc-port P        PLC directory port (default 2582)
  --pds-port P        first PDS port; the second PDS gets P+1 (default 2583)
  --peer-port P       first peer's XRPC port; peer i gets P+i (default 2590)
  --log-level L       peers' log level (default info)
`

interface SavedState {
  members: Record<string, { owner: SavedAccount; meshlet: SavedAccount }>
}

export class DevUsageError extends Error {}

/** Runs `meshlet dev ...`; resolves when the commune was stopped (or the env was printed). */
export async function runDev(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    const typo = args.find((a) => a.startsWith('--') && !(a.slice(2).split('=')[0]! in OPTIONS))?.slice(2).split('=')[0]
    const near = typo === undefined ? undefined : nearest(typo, Object.keys(OPTIONS))
    throw new DevUsageError(`meshlet dev: ${typo ? `unknown flag --${typo}${near ? `; did you mean --${near}?` : ''}` : (err as Error).message}\n\n${DEV_HELP}`)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(DEV_HELP)
    return 0
  }
  const dataDir = path.resolve(values['data-dir'] ?? env.MESHLET_DEV_DIR ?? path.join(ROOT, '.meshlet-dev'))
  const port = (flag: keyof typeof OPTIONS) => {
    const v = Number(values[flag])
    if (!Number.isInteger(v) || v < 1 || v > 65_000) throw new DevUsageError(`meshlet dev: --${flag} must be a port number, got ${String(values[flag])}`)
    return v
  }
  if (positionals[0] === 'env') {
    const name = positionals[1]
    const file = path.join(dataDir, 'env', `${name}.sh`)
    const text = name ? await fs.readFile(file, 'utf8').catch(() => undefined) : undefined
    if (text === undefined) {
      const known = (await fs.readdir(path.join(dataDir, 'env')).catch(() => [])).map((f) => f.replace(/\.sh$/, ''))
      throw new DevUsageError(
        known.length
          ? `meshlet dev env: no member ${JSON.stringify(name ?? '')} in ${dataDir}; members: ${known.join(', ')}`
          : `meshlet dev env: no commune in ${dataDir} yet; start one first with \`meshlet dev\` (or bash scripts/devnet.sh)`,
      )
    }
    process.stdout.write(text)
    return 0
  }
  if (positionals.length > 0) throw new DevUsageError(`meshlet dev: unexpected ${JSON.stringify(positionals[0])}\n\n${DEV_HELP}`)
  const peers = Number(values.peers)
  if (!Number.isInteger(peers) || peers < 1 || peers > NAMES.length) throw new DevUsageError(`meshlet dev: --peers must be 1 to ${NAMES.length}, got ${values.peers}`)
  const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const
  const logLevel = LEVELS.find((l) => l === values['log-level'])
  if (!logLevel) throw new DevUsageError(`meshlet dev: --log-level must be one of ${LEVELS.join(', ')}, got ${values['log-level']}`)
  const [plcPort, pdsPort, peerPort] = [port('plc-port'), port('pds-port'), port('peer-port')]

  if (values.fresh) await fs.rm(dataDir, { recursive: true, force: true })
  await fs.mkdir(dataDir, { recursive: true })
  const stateFile = path.join(dataDir, 'state.json')
  const saved = JSON.parse(await fs.readFile(stateFile, 'utf8').catch(() => '{"members":{}}')) as SavedState
  const log = consoleLogger(logLevel)
  const say = (s: string) => process.stdout.write(s + '\n')
  const t0 = Date.now()
  say(`meshlet dev: starting a commune of ${peers} in ${dataDir}${Object.keys(saved.members).length ? ' (kept from the last run)' : ''}`)

  const net = await DevNetwork.create({ pdsCount: peers > 1 ? 2 : 1, plcPort, pdsPort, stateDir: path.join(dataDir, 'network') })
  let commune: DevCommune | undefined
  try {
    commune = await DevCommune.create({
      members: NAMES.slice(0, peers).map((name) => ({ name })),
      net,
      logger: log,
      dataDir: path.join(dataDir, 'peers'),
      saved: saved.members,
      bidWindowMs: 2000,
    })
    for (const m of commune.members) saved.members[m.name] = { owner: account(m.owner), meshlet: account(m.meshlet) }
    await fs.writeFile(stateFile, JSON.stringify(saved, null, 2), { mode: 0o600 })
    await net.savePlc()
    await Promise.all(commune.members.map((m, i) => commune!.startPeer(m, {}, { port: peerPort + i, logLevel })))
  } catch (err) {
    await (commune?.close() ?? net.close()).catch(() => {})
    throw err
  }

  // The shim that runs the CLI with the right Node (scripts/bin/meshlet): `meshlet` works after eval.
  const shimDir = path.join(ROOT, 'scripts', 'bin')
  const onPath = await fs.access(path.join(shimDir, 'meshlet')).then(() => true, () => false)
  await fs.mkdir(path.join(dataDir, 'env'), { recursive: true })
  const blocks: string[] = []
  for (const m of commune.members) {
    const lines = [
      `# ${m.name}: owner ${m.owner.handle}; its meshlet ${m.meshlet.did} serves ${m.peer!.url}`,
      `export MESHLET_USER=${m.owner.did}`,
      `export MESHLET_USER_PASSWORD=${m.owner.password}`,
      `export MESHLET_USER_PDS=${m.owner.pds}`,
      `export MESHLET_PLC=${net.plcUrl}`,
      'export MESHLET_ALLOW_HTTP=1',
      ...(onPath ? [`export PATH="${shimDir}:$PATH"`] : []),
    ]
    await fs.writeFile(path.join(dataDir, 'env', `${m.name}.sh`), lines.join('\n') + '\n', { mode: 0o600 })
    blocks.push(lines.join('\n'))
  }
  say('')
  say(`PLC   ${net.plcUrl}`)
  say(`PDS   ${net.pdses.map((p) => p.url).join('  ')}`)
  for (const m of commune.members) say(`peer  ${m.name.padEnd(6)} ${m.peer!.url}  ${m.meshlet.did}`)
  say('')
  say('# paste one block into another shell to act as that member, or: eval "$(meshlet dev env alice)"')
  say(blocks.join('\n\n'))
  say('')
  say(`meshlet dev: ready in ${((Date.now() - t0) / 1000).toFixed(1)}s; Ctrl-C stops the commune (state stays in ${dataDir}; --fresh forgets it)`)

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  say('meshlet dev: stopping (the containers go; workloads come back on the next run)')
  await commune.close()
  return 0
}

function account(a: SavedAccount): SavedAccount {
  return { did: a.did, handle: a.handle, password: a.password, pds: a.pds }
}
