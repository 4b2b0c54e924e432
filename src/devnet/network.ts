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

  static async create(opts: { pdsCount?: number } = {}): Promise<DevNetwork> {
    const port = await freePort()
    const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port })
    await plcServer.start()
    const net = new DevNetwork(`http://localhost:${port}`, plcServer)
    for (let i = 0; i < (opts.pdsCount ?? 1); i++) await net.addPds()
    return net
  }

  async addPds(): Promise<DevPds> {
    const port = await freePort()
    const rotation = await Secp256k1Keypair.create({ exportable: true })
    const dataDirectory = await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-pds-'))
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
    await server.start()
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

  async close(): Promise<void> {
    for (const p of this.pdses) {
      await p.server.destroy().catch(() => {})
      await fs.rm(p.dataDirectory, { recursive: true, force: true }).catch(() => {})
    }
    await this.plcServer.destroy().catch(() => {})
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
