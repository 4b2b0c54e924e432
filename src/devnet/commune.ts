// A local commune on a real devnet: owners with their meshlet accounts, linked both ways, mutually
// listed, each meshlet a real peer (real firehose, real Docker). Used by the demo, the integration
// tests and the bench. Peers run in this process, or as child processes of the real binary (for
// kill -9 tests).
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AtpAgent } from '@atproto/api'
import { DevNetwork, freePort, type DevAccount } from './network.js'
import { startMeshlet } from '../context.js'
import type { RunConfig } from '../config.js'
import type { Meshlet } from '../meshlet.js'
import type { PeerPorts } from '../meshlet.js'
import { NSID } from '../core/types.js'
import { rootLogger, type Logger } from '../logger.js'
import { DEFAULT_DENY_RANGES } from '../adapters/host-net/cidr.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface MemberSpec {
  name: string
  pdsIndex?: number
  /** Owner DIDs (by member name) this member's meshlet lists; default: every other member. */
  members?: string[]
  roles?: string[]
  labels?: { key: string; value: string }[]
  capabilities?: string[]
  /** Start no peer for this member (its records exist, its meshlet is silent). */
  silent?: boolean
  /** Skip the owner's half of the link (for spoof tests). */
  unlinked?: boolean
  cpuMillis?: number
  memoryMb?: number
  // when (issue 14)
  /** --guest-hours (UTC unless guestTz). */
  guestHours?: string
  guestTz?: string
  /** The wall clock this peer reads windows on (tests move it to open or close a window). */
  windowClock?: () => number
}

export interface Member {
  name: string
  owner: DevAccount
  meshlet: DevAccount
  spec: MemberSpec
  dataDir: string
  peer?: Meshlet
  child?: ChildProcess
  port?: number
  logs: string[]
}

export interface CommuneOptions {
  members: MemberSpec[]
  pdsCount?: number
  leaseMs?: number
  bidWindowMs?: number
  /** Prefix of the peers' iptables chains (default MESHLET); a test may use its own and remove it after. */
  firewallChain?: string
  /** Extra ranges the peers treat as LAN (a test's stand-in LAN). */
  extraDenyRanges?: string[]
  logger?: Logger
  net?: DevNetwork
  /** Keep peers' data here (kept on close) instead of a temporary directory. */
  dataDir?: string
  /** Accounts that exist already (a commune kept between runs), by member name: logged in, not created. */
  saved?: Record<string, { owner: SavedAccount; meshlet: SavedAccount }>
}

export interface SavedAccount {
  did: string
  handle: string
  password: string
  pds: string
}

/** The test suite's loopback registry (scripts/registry.sh), allowed for guests on a devnet only. */
export const DEVNET_REGISTRY = '127.0.0.1:5000'
/** The busybox scripts/bootstrap.sh imports, shared with guests on a devnet only. */
export const DEVNET_SHARED_IMAGE = 'meshlet/busybox:test'

export class DevCommune implements AsyncDisposable {
  readonly members: Member[] = []
  /** This commune's own iptables chains (removed on close): never the host's shared MESHLET ones. */
  readonly firewallChain: string
  private tmp = ''

  private constructor(
    readonly net: DevNetwork,
    readonly opts: CommuneOptions,
  ) {
    this.firewallChain = opts.firewallChain ?? `MDEV${randomBytes(3).toString('hex').toUpperCase()}`
  }

  static async create(opts: CommuneOptions): Promise<DevCommune> {
    const net = opts.net ?? (await DevNetwork.create({ pdsCount: opts.pdsCount ?? 2 }))
    const c = new DevCommune(net, opts)
    c.tmp = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'meshlet-commune-')))
    // Every account at once (each is a PDS write and a PLC operation: one after the other they were
    // most of a test commune's start). Calls begin in member order, so handles number as before.
    const accounts = opts.members.map((spec, i) => {
      const pdsIndex = spec.pdsIndex ?? i % net.pdses.length
      const saved = opts.saved?.[spec.name]
      const owner = saved ? net.login(saved.owner.did, saved.owner.handle, saved.owner.password, saved.owner.pds) : net.createAccount(spec.name, pdsIndex)
      const meshlet = saved ? net.login(saved.meshlet.did, saved.meshlet.handle, saved.meshlet.password, saved.meshlet.pds) : net.createAccount(`${spec.name}-mesh`, pdsIndex)
      return Promise.all([owner, meshlet])
    })
    const settled = await Promise.allSettled(accounts)
    const failed = settled.find((r) => r.status === 'rejected')
    if (failed) {
      if (!opts.net) await net.close().catch(() => {})
      if (!opts.dataDir) await fs.rm(c.tmp, { recursive: true, force: true }).catch(() => {})
      throw failed.reason
    }
    const fresh: Member[] = []
    for (const [i, spec] of opts.members.entries()) {
      const [owner, meshlet] = (settled[i] as PromiseFulfilledResult<[DevAccount, DevAccount]>).value
      const m: Member = { name: spec.name, owner, meshlet, spec, dataDir: path.join(c.tmp, spec.name), logs: [] }
      c.members.push(m)
      if (!opts.saved?.[spec.name]) fresh.push(m)
    }
    await Promise.all(fresh.filter((m) => !m.spec.unlinked).map((m) => c.link(m)))
    return c
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name)
    if (!m) throw new Error(`no member ${name}`)
    return m
  }

  /** The owner's half of the two-way link, as `meshlet link` writes it. */
  async link(m: Member): Promise<void> {
    await m.owner.agent.com.atproto.repo.putRecord({
      repo: m.owner.did,
      collection: NSID.meshlet,
      rkey: m.meshlet.did,
      record: { $type: NSID.meshlet, meshletDid: m.meshlet.did, createdAt: new Date().toISOString() },
    })
  }

  memberDids(m: Member): string[] {
    const names = m.spec.members ?? this.members.filter((x) => x !== m).map((x) => x.name)
    return names.map((n) => this.member(n).owner.did)
  }

  config(m: Member, extra: Partial<RunConfig> = {}): RunConfig {
    return {
      did: m.meshlet.did,
      owner: m.owner.did,
      clusterMembers: this.memberDids(m),
      password: m.meshlet.password,
      pds: m.meshlet.pds,
      plc: this.net.plcUrl,
      // Web sign-in: .test handles resolve only at the PDS that holds them.
      oauthHandleResolver: m.owner.pds,
      firehose: undefined,
      port: 0,
      host: '127.0.0.1',
      endpoint: undefined,
      dataDir: m.dataDir,
      dockerSocket: '/var/run/docker.sock',
      roles: m.spec.roles ?? ['worker'],
      labels: m.spec.labels ?? [],
      capabilities: m.spec.capabilities ?? [],
      cpuMillis: m.spec.cpuMillis,
      memoryMb: m.spec.memoryMb,
      reserveMemoryMb: 256,
      // Every peer of a devnet shares one machine: its load says nothing about any one peer.
      maxLoadPermille: 1_000_000_000,
      leaseMs: this.opts.leaseMs ?? 15_000,
      bidWindowMs: this.opts.bidWindowMs ?? 5000,
      allowedBinds: [],
      // Explicit for this loopback test network (docs/protocol.md, Images): guests may pull from
      // the suite's loopback registry and run the locally imported busybox the examples use. A
      // real meshlet allows neither unless its owner says so.
      registryAllow: [DEVNET_REGISTRY],
      registryDeny: [],
      sharedImages: [DEVNET_SHARED_IMAGE],
      guestMaxContainers: 32,
      guestSharePercent: 50,
      allowHttp: true,
      logLevel: 'info',
      firewallChain: this.firewallChain,
      denyRanges: this.opts.extraDenyRanges ? [...DEFAULT_DENY_RANGES, ...this.opts.extraDenyRanges] : undefined,
      ...(m.spec.guestHours ? { guestHours: m.spec.guestHours, guestTz: m.spec.guestTz ?? 'UTC' } : {}), // when (issue 14)
      ...extra,
    }
  }

  /** Starts every non-silent member's peer in this process. */
  async startAll(overrides: (m: Member) => Partial<PeerPorts> = () => ({})): Promise<void> {
    await Promise.all(this.members.filter((m) => !m.spec.silent).map((m) => this.startPeer(m, overrides(m))))
  }

  async startPeer(m: Member, overrides: Partial<PeerPorts> = {}, extra: Partial<RunConfig> = {}): Promise<Meshlet> {
    const log = (this.opts.logger ?? rootLogger).child({ peer: m.name })
    m.peer = await startMeshlet(this.config(m, extra), overrides, log, m.spec.windowClock ? { windowClock: m.spec.windowClock } : {})
    return m.peer
  }

  async stopPeer(m: Member): Promise<void> {
    await m.peer?.stop()
    m.peer = undefined
  }

  /**
   * Starts the member's peer as a child process of the real binary (so it can be kill -9'd).
   * `entry`: the script node runs (the bench also runs a compiled bundle of the same CLI).
   */
  async spawnPeer(m: Member, extra: Partial<RunConfig> = {}, entry = path.join(ROOT, 'bin/meshlet.mjs')): Promise<ChildProcess> {
    const cfg = this.config(m, extra)
    const port = cfg.port || (await freePort())
    m.port = port
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MESHLET_DID: cfg.did,
      MESHLET_OWNER: cfg.owner,
      MESHLET_CLUSTER_MEMBERS: cfg.clusterMembers.join(','),
      MESHLET_PASSWORD: cfg.password,
      MESHLET_PDS: cfg.pds,
      MESHLET_PLC: cfg.plc,
      MESHLET_PORT: String(port),
      MESHLET_DATA_DIR: cfg.dataDir,
      MESHLET_LEASE_MS: String(cfg.leaseMs),
      MESHLET_BID_WINDOW_MS: String(cfg.bidWindowMs),
      MESHLET_ROLES: cfg.roles.join(','),
      MESHLET_MAX_LOAD_PERMILLE: String(cfg.maxLoadPermille),
      MESHLET_ALLOW_HTTP: '1',
      MESHLET_REGISTRY_ALLOW: cfg.registryAllow.join(','),
      MESHLET_REGISTRY_DENY: cfg.registryDeny.join(','),
      MESHLET_SHARED_IMAGES: cfg.sharedImages.join(','),
      MESHLET_GUEST_MAX_CONTAINERS: String(cfg.guestMaxContainers),
      MESHLET_GUEST_SHARE_PERCENT: String(cfg.guestSharePercent),
      MESHLET_LOG_LEVEL: cfg.logLevel,
      ...(cfg.firewallChain ? { MESHLET_FIREWALL_CHAIN: cfg.firewallChain } : {}),
      ...(cfg.denyRanges ? { MESHLET_DENY_RANGES: cfg.denyRanges.join(',') } : {}),
      // Services (issue 12, apps)
      ...(cfg.publishPorts ? { MESHLET_PUBLISH_PORTS: `${cfg.publishPorts.first}-${cfg.publishPorts.last}` } : {}),
    }
    delete env.VITEST
    // bin/meshlet.mjs registers tsx in-process: ONE process, so SIGKILL kills the peer itself. (tsx's
    // cli.mjs runs the script in a grandchild that a SIGKILL of the wrapper leaves running, orphaned.)
    // The same V8 setting a deployed peer runs with (Dockerfile): a 1 MiB young generation.
    const child = spawn(process.execPath, ['--max-semi-space-size=1', entry, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    m.child = child
    // A respawned member keeps its earlier lines: only a line of THIS process says it started.
    let from = m.logs.length
    const onData = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line) m.logs.push(line)
      if (m.logs.length > 5000) {
        from = Math.max(0, from - (m.logs.length - 5000))
        m.logs.splice(0, m.logs.length - 5000)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    await waitFor(() => m.logs.slice(from).some((l) => l.includes('meshlet started')), { timeoutMs: 60_000, what: `${m.name} child peer to start`, onTimeout: () => m.logs.slice(-20).join('\n') })
    return child
  }

  /** SIGKILL the child peer (its containers keep running, as when the process dies). */
  async killPeer(m: Member): Promise<void> {
    const child = m.child
    if (!child || child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    m.child = undefined
  }

  /** Publishes a workload from the owner's plain AtpAgent (as any AT client would). */
  async publishWorkload(owner: Member | AtpAgent, record: Record<string, unknown>): Promise<{ uri: string; cid: string }> {
    const agent = 'meshlet' in owner ? owner.owner.agent : owner
    const res = await agent.com.atproto.repo.createRecord({
      repo: agent.session!.did,
      collection: NSID.workload,
      record: { $type: NSID.workload, createdAt: new Date().toISOString(), ...record },
      validate: false,
    })
    return { uri: res.data.uri, cid: res.data.cid }
  }

  async deleteRecord(agent: AtpAgent, uri: string): Promise<void> {
    const [, , did, collection, rkey] = uri.split('/')
    await agent.com.atproto.repo.deleteRecord({ repo: did!, collection: collection!, rkey: rkey! })
  }

  peers(): Meshlet[] {
    return this.members.flatMap((m) => (m.peer ? [m.peer] : []))
  }

  async close(): Promise<void> {
    // All at once: one peer's slow stop (a write retrying against a busy PDS) must not add up.
    await Promise.all(
      this.members.map(async (m) => {
        if (m.child && m.child.exitCode === null) await this.killPeer(m).catch(() => {})
        await m.peer?.stop().catch(() => {})
      }),
    )
    // Containers of this commune's meshlets (several communes may share one engine).
    const { default: Docker } = await import('dockerode')
    const docker = new Docker({ socketPath: '/var/run/docker.sock' })
    const dids = new Set(this.members.map((m) => m.meshlet.did))
    const all = await docker.listContainers({ all: true, filters: { label: ['farm.meshlet.managed=true'] } }).catch(() => [])
    await Promise.all(all.filter((c) => dids.has(c.Labels['farm.meshlet.meshlet'] ?? '')).map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})))
    // Their owner networks and firewall rules too: the engine has room for a few dozen networks only.
    const { OwnerNetworks, removeFirewallChains } = await import('../adapters/host-net/owner-networks.js')
    // One meshlet's networks at a time added a second or more per member (each removal waits on the engine).
    await Promise.all([...dids].map((did) => new OwnerNetworks({ docker, meshlet: did, chainPrefix: this.firewallChain, logger: rootLogger.child({ name: 'devnet' }) }).removeAll().catch(() => {})))
    await removeFirewallChains(this.firewallChain).catch(() => {})
    // Services (issue 12, apps): their workload volumes.
    const vols = ((await docker.listVolumes({ filters: { label: ['farm.meshlet.managed=true'] } }).catch(() => ({ Volumes: [] }))) as { Volumes?: { Name: string; Labels?: Record<string, string> | null }[] | null }).Volumes ?? []
    await Promise.all(vols.filter((v) => dids.has(v.Labels?.['farm.meshlet.meshlet'] ?? '')).map((v) => docker.getVolume(v.Name).remove().catch(() => {})))
    if (!this.opts.net) await this.net.close()
    if (!this.opts.dataDir) await fs.rm(this.tmp, { recursive: true, force: true }).catch(() => {})
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string; onTimeout?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${opts.onTimeout ? `\n${opts.onTimeout()}` : ''}`)
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50))
  }
}
