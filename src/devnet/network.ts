// A real local AT network on loopback: one PLC directory and N PDS servers, in-process.
// For tests, the demo and the bench only: the production binary never imports this.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { AddressInfo } from 'node:net'
import { AtpAgent } from '@atproto/api'
import { Secp256k1Keypair } from '@atproto/crypto'
import { PDS } from '@atproto/pds'
import * as plc from '@did-plc/server'

export interface DevAccount {
  did: string
  handle: string
  password: string
  pds: string
  agent: AtpAgent
}

export interface DevPds {
  url: string
  server: PDS
  dataDirectory: string
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

export class DevNetwork implements AsyncDisposable {
  readonly pdses: DevPds[] = []
  private accounts = 0

  private constructor(
    readonly plcUrl: string,
    private readonly plcServer: plc.PlcServer,
  ) {}

  /** Set when the network keeps its state (`meshlet dev`): PDS data and PLC operations live there. */
  private stateDir?: string
  private plcDb?: ReturnType<typeof plc.Database.mock>

  /**
   * `plcPort`/`pdsPort` fix the ports (PDS i gets pdsPort + i): DID documents name the PDS URL, so
   * a network kept between runs must come back on the same ports. `stateDir` keeps its state.
   */
  static async create(opts: { pdsCount?: number; plcPort?: number; pdsPort?: number; stateDir?: string } = {}): Promise<DevNetwork> {
    const port = opts.plcPort ?? (await freePort())
    const db = plc.Database.mock()
    // The PLC directory is in memory: its operations are saved as JSON and replayed on start.
    if (opts.stateDir) await restorePlc(db, path.join(opts.stateDir, 'plc-ops.json'))
    const plcServer = plc.PlcServer.create({ db, port })
    await listenOrExplain(() => plcServer.start(), port, 'PLC directory', '--plc-port')
    const net = new DevNetwork(`http://localhost:${port}`, plcServer)
    net.stateDir = opts.stateDir
    net.plcDb = db
    for (let i = 0; i < (opts.pdsCount ?? 1); i++) await net.addPds(opts.pdsPort === undefined ? undefined : opts.pdsPort + i)
    return net
  }

  /** Writes the PLC operations to the state dir (a no-op without one). */
  async savePlc(): Promise<void> {
    if (!this.stateDir || !this.plcDb) return
    const contents = (this.plcDb as unknown as { contents: Record<string, { operation: unknown; nullified: boolean }[]> }).contents
    const ops = Object.fromEntries(Object.entries(contents).map(([did, list]) => [did, list.filter((o) => !o.nullified).map((o) => o.operation)]))
    const file = path.join(this.stateDir, 'plc-ops.json')
    await fs.writeFile(`${file}.tmp`, JSON.stringify(ops))
    await fs.rename(`${file}.tmp`, file)
  }

  async addPds(fixedPort?: number): Promise<DevPds> {
    const port = fixedPort ?? (await freePort())
    let rotation: Secp256k1Keypair
    let dataDirectory: string
    if (this.stateDir) {
      // Same directory, same rotation key: the PDS finds its accounts and can still sign for them.
      dataDirectory = path.join(this.stateDir, `pds-${this.pdses.length}`)
      await fs.mkdir(dataDirectory, { recursive: true })
      const keyFile = path.join(dataDirectory, 'rotation-key.hex')
      const hex = await fs.readFile(keyFile, 'utf8').catch(() => undefined)
      rotation = hex ? await Secp256k1Keypair.import(hex.trim(), { exportable: true }) : await Secp256k1Keypair.create({ exportable: true })
      if (!hex) await fs.writeFile(keyFile, Buffer.from(await rotation.export()).toString('hex'), { mode: 0o600 })
    } else {
      rotation = await Secp256k1Keypair.create({ exportable: true })
      dataDirectory = await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-pds-'))
    }
    const server = await PDS.fromEnv({
      devMode: true,
      port,
      hostname: 'localhost',
      dataDirectory,
      blobstoreDiskLocation: path.join(dataDirectory, 'blobs'),
      recoveryDidKey: (await Secp256k1Keypair.create()).did(),
      adminPassword: 'admin-pass',
      jwtSecret: 'jwt-secret',
      serviceHandleDomains: ['.test'],
      didPlcUrl: this.plcUrl,
      bskyAppViewUrl: 'https://appview.invalid',
      bskyAppViewDid: 'did:example:invalid',
      modServiceUrl: 'https://moderator.invalid',
      modServiceDid: 'did:example:invalid',
      plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotation.export()).toString('hex'),
      inviteRequired: false,
      disableSsrfProtection: true,
      // Tests and benches write far faster than a person: no rate limits on loopback.
      rateLimitsEnabled: false,
    } as Parameters<typeof PDS.fromEnv>[0])
    await listenOrExplain(() => server.start(), port, 'PDS', '--pds-port')
    const pds = { url: `http://localhost:${port}`, server, dataDirectory }
    this.pdses.push(pds)
    return pds
  }

  /** Creates an account on PDS `pdsIndex` and returns a logged-in agent. Handles get a unique suffix. */
  async createAccount(name: string, pdsIndex = 0, password = 'meshlet-pass'): Promise<DevAccount> {
    const pds = this.pdses[pdsIndex]
    if (!pds) throw new Error(`no PDS #${pdsIndex}`)
    const handle = `${name}-${++this.accounts}.test`.toLowerCase()
    const agent = new AtpAgent({ service: pds.url })
    await agent.createAccount({ handle, email: `${handle}@example.com`, password })
    return { did: agent.session!.did, handle, password, pds: pds.url, agent }
  }

  /** Logs in to an account that exists (a network kept between runs). */
  async login(did: string, handle: string, password: string, pdsUrl: string): Promise<DevAccount> {
    const agent = new AtpAgent({ service: pdsUrl })
    await agent.login({ identifier: did, password })
    return { did, handle, password, pds: pdsUrl, agent }
  }

  async close(): Promise<void> {
    await this.savePlc().catch(() => {})
    await Promise.all(
      this.pdses.map(async (p) => {
        await p.server.destroy().catch(() => {})
        if (!this.stateDir) await fs.rm(p.dataDirectory, { recursive: true, force: true }).catch(() => {})
      }),
    )
    await this.plcServer.destroy().catch(() => {})
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

async function restorePlc(db: ReturnType<typeof plc.Database.mock>, file: string): Promise<void> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined)
  if (!text) return
  const ops = JSON.parse(text) as Record<string, unknown[]>
  for (const [did, list] of Object.entries(ops)) {
    for (const op of list) await (db as unknown as { validateAndAddOp: (d: string, o: unknown) => Promise<void> }).validateAndAddOp(did, op)
  }
}

/** A taken port is the likely failure of a fixed one: say which flag moves it. */
async function listenOrExplain(start: () => Promise<unknown>, port: number, what: string, flag: string): Promise<void> {
  try {
    await start()
  } catch (err) {
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      throw new Error(`port ${port} for the ${what} is taken (another \`meshlet dev\` running?); stop it or pick another port with ${flag}`, { cause: err })
    }
    throw err
  }
}
