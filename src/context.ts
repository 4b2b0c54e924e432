// The composition root: the one place that builds real adapters from config and hands them to the
// peer. Every check that can fail fast does, before anything starts, with one line that says what to fix.
import { sodiumPingKeys } from './adapters/crypto/ping-key.js' // liveness (issue 16 part 3)
import type { GuestPolicy } from './core/types.js'
import { energyPrice, type RunConfig } from './config.js'
import { Meshlet, type PeerPorts, type PeerSettings } from './meshlet.js'
import { AtprotoIdentityResolver, getIdResolver } from './adapters/atproto/identity.js'
import { AtprotoPublisher } from './adapters/atproto/publisher.js'
import { AtprotoRecordSource } from './adapters/atproto/record-source.js'
import { AtprotoPublicRecordReader } from './adapters/atproto/public-record-reader.js'
import { decodeRecord } from './adapters/atproto/decode.js'
import { SqliteCursorStore } from './adapters/store/sqlite-cursor-store.js'
import { FileEvictionStore } from './adapters/store/eviction-file-store.js'
import path from 'node:path'
import { getHeapStatistics } from 'node:v8'
import { DEFAULT_MAX_BYTES } from './core/view.js'
import Docker from 'dockerode'
import { DEFAULT_HARDENING, DockerRuntime } from './adapters/docker/docker-runtime.js'
import { DockerHealthProbe } from './adapters/docker/health-probe.js'
import { OwnerNetworks } from './adapters/host-net/owner-networks.js'
import { DEFAULT_PUBLISH } from './adapters/docker/publish.js'
import { SystemHostProbe } from './adapters/host/system-host-probe.js'
import { ConfigError, describeError } from './errors.js'
import { SodiumSecretKeys } from './adapters/crypto/sealing.js'
import { HttpArtifactStore } from './adapters/http/artifact-store.js'
import { createLogger, type Logger } from './logger.js'
import { PromMetrics } from './adapters/metrics/prom-metrics.js'
import { NotifyClient } from './adapters/atproto/notify-client.js'
import { AtprotoRecordProofs } from './adapters/atproto/record-proof.js'

export function settingsFromConfig(cfg: RunConfig): PeerSettings {
  return {
    did: cfg.did,
    owner: cfg.owner,
    clusterMembers: cfg.clusterMembers,
    port: cfg.port,
    host: cfg.host,
    endpoint: cfg.endpoint,
    roles: cfg.roles,
    labels: cfg.labels,
    capabilities: cfg.capabilities,
    leaseMs: cfg.leaseMs,
    // liveness (issue 16 part 3)
    liveness: { fallbackLeaseMs: cfg.fallbackLeaseMs ?? 360_000, probeMs: cfg.probeMs ?? 1000, probeTimeoutMs: cfg.probeTimeoutMs ?? 1000, confirmMs: cfg.suspicionConfirmMs ?? 3000 },
    bidWindowMs: cfg.bidWindowMs,
    minOwnerBalance: cfg.minOwnerBalance,
    reserveMemoryMb: cfg.reserveMemoryMb,
    maxLoadPermille: cfg.maxLoadPermille,
    allowedBinds: cfg.allowedBinds,
    maxTokenLifetimeSec: cfg.maxTokenLifetimeSec,
    allowHttp: cfg.allowHttp,
    registryPolicy: { allow: cfg.registryAllow, deny: cfg.registryDeny, sharedImages: cfg.sharedImages },
    guestQuota: { maxContainers: cfg.guestMaxContainers, sharePercent: cfg.guestSharePercent },
    containerStorageMb: cfg.containerStorageMb,
    storageCheckMs: cfg.storageCheckMs,
    maxParallelStarts: cfg.maxParallelStarts, // burst (issue 16)
    // appview (issue 15)
    metricsAllow: cfg.metricsAllow,
    oauth: { plcUrl: cfg.plc, handleResolver: cfg.oauthHandleResolver },
    energy: energyPrice(cfg), // appview (issue 15): energy cost on the ledger page
    guestPolicy: guestPolicyFromConfig(cfg), // when (issue 14)
    advertiseAddress: cfg.advertiseAddress,
    notify: cfg.notify ?? true, // notify (issue 16)
    // scale (issue 16)
    viewMaxRecords: cfg.viewMaxRecords,
    viewMaxBytes: cfg.viewMaxMb === undefined ? undefined : cfg.viewMaxMb * 1024 * 1024,
  }
}

/** when (issue 14): the guest policy flags as the profile publishes them. */
function guestPolicyFromConfig(cfg: RunConfig): GuestPolicy {
  const p: GuestPolicy = {}
  if (cfg.guestHours) p.window = { hours: cfg.guestHours, tz: cfg.guestTz ?? 'UTC' }
  if (cfg.guestNoBattery) p.noBattery = true
  if (cfg.guestWhenIdle) p.whenIdle = true
  if (cfg.guestActiveLoad !== undefined) p.activeLoadPermille = cfg.guestActiveLoad
  if (cfg.guestActiveMinutes !== undefined) p.activeMinutes = cfg.guestActiveMinutes
  return p
}

/** Builds the real ports; `overrides` lets tests swap any of them. */
export async function buildPorts(cfg: RunConfig, overrides: Partial<PeerPorts> = {}, logger?: Logger): Promise<PeerPorts> {
  const log = logger ?? createLogger('meshlet', { meshlet: cfg.did })
  const identity = new AtprotoIdentityResolver({ plcUrl: cfg.plc, allowInsecureHttp: cfg.allowHttp })
  let pds = cfg.pds
  if (!pds) {
    try {
      pds = (await identity.resolve(cfg.did)).pds
    } catch (err) {
      throw new ConfigError(`--did (MESHLET_DID): ${describeError(err)}`, 'did', { cause: err })
    }
  }
  try {
    await identity.resolve(cfg.owner)
  } catch (err) {
    throw new ConfigError(`--owner (MESHLET_OWNER): ${describeError(err)}`, 'owner', { cause: err })
  }
  const publisher =
    overrides.publisher ??
    (await AtprotoPublisher.login({ service: pds, identifier: cfg.did, password: cfg.password, logger: log.child({ name: 'meshlet:publisher' }) }).catch((err) => {
      throw new ConfigError(`--password / --pds: ${describeError(err)}`, 'password', { cause: err })
    }))
  const runtime = overrides.runtime ?? dockerRuntime(cfg, log)
  try {
    await runtime.ping()
  } catch (err) {
    throw new ConfigError(`--docker-socket (MESHLET_DOCKER_SOCKET): ${describeError(err)}`, 'dockerSocket', { cause: err })
  }
  const cursorStore = overrides.cursorStore ?? SqliteCursorStore.open(cfg.dataDir)
  let evictions = overrides.evictions
  try {
    evictions ??= FileEvictionStore.open(cfg.dataDir)
  } catch (err) {
    throw new ConfigError(`--data-dir (MESHLET_DATA_DIR): ${describeError(err)}`, 'dataDir', { cause: err })
  }
  return {
    runtime,
    publisher,
    cursorStore,
    evictions,
    identity: overrides.identity ?? identity,
    decode: overrides.decode ?? ((r) => decodeRecord(r, { defaultBidWindowMs: cfg.bidWindowMs })),
    publicRecords: overrides.publicRecords ?? new AtprotoPublicRecordReader(overrides.identity ?? identity, { decode: { defaultBidWindowMs: cfg.bidWindowMs } }),
    idResolver: overrides.idResolver ?? getIdResolver(identity),
    hostProbe: overrides.hostProbe ?? new SystemHostProbe({ cpuMillisLimit: cfg.cpuMillis, memoryMbLimit: cfg.memoryMb }),
    source:
      overrides.source ??
      new AtprotoRecordSource({
        identity,
        cursorStore,
        relayUrl: cfg.firehose,
        allowInsecureHttp: cfg.allowHttp,
        decodeOptions: { defaultBidWindowMs: cfg.bidWindowMs },
        logger: log.child({ name: 'meshlet:source' }),
      }),
    clock: overrides.clock,
    logger: log,
    metrics: overrides.metrics ?? new PromMetrics({ dailyWriteBudget: cfg.pdsDailyWriteBudget ?? 35_000 }),
    // Secrets (issue 13): created on first start in the data dir (mode 0600), reused after.
    secretKeys: overrides.secretKeys ?? (await SodiumSecretKeys.load(cfg.dataDir).catch((err: unknown) => {
      throw new ConfigError(`--data-dir (MESHLET_DATA_DIR): sealing key: ${describeError(err)}`, 'dataDir', { cause: err })
    })),
    pingKeys: overrides.pingKeys ?? sodiumPingKeys, // liveness (issue 16 part 3)
    artifacts: overrides.artifacts ?? new HttpArtifactStore(path.join(cfg.dataDir, 'artifacts')),
    // issue 12 (health)
    healthProbe: overrides.healthProbe ?? new DockerHealthProbe({ socketPath: cfg.dockerSocket }),
    // notify (issue 16): hints out with tokens from this meshlet's PDS, hints in checked against proofs
    notifier: overrides.notifier ?? (publisher instanceof AtprotoPublisher ? new NotifyClient({ mint: (aud, lxm, exp) => publisher.serviceAuth(aud, lxm, exp) }) : undefined),
    proofs: overrides.proofs ?? new AtprotoRecordProofs({ identity: overrides.identity ?? identity, allowInsecureHttp: cfg.allowHttp }),
  }
}

/** The Docker runtime with the host boundary (docs/protocol.md, Execution defaults): owner networks behind meshlet's firewall chains, hardening, image GC. */
function dockerRuntime(cfg: RunConfig, log: Logger): DockerRuntime {
  const networks = new OwnerNetworks({
    docker: new Docker({ socketPath: cfg.dockerSocket }),
    meshlet: cfg.did,
    denyRanges: cfg.denyRanges,
    subnetPool: cfg.networkPool,
    chainPrefix: cfg.firewallChain,
    logger: log.child({ name: 'meshlet:host-net' }),
  })
  return new DockerRuntime({
    socketPath: cfg.dockerSocket,
    networks,
    hardening: {
      nofile: cfg.containerNofile ?? DEFAULT_HARDENING.nofile,
      nproc: cfg.containerNproc ?? DEFAULT_HARDENING.nproc,
      tmpMb: cfg.containerTmpMb ?? DEFAULT_HARDENING.tmpMb,
    },
    pulledImagesFile: path.join(cfg.dataDir, 'pulled-images.json'),
    secretsDir: cfg.secretsDir,
    logger: log.child({ name: 'meshlet:docker' }),
    // Services (issue 12, apps): where published ports go.
    publish: { address: cfg.publishAddress ?? DEFAULT_PUBLISH.address, range: cfg.publishPorts ?? DEFAULT_PUBLISH.range },
  })
}

export async function startMeshlet(cfg: RunConfig, overrides: Partial<PeerPorts> = {}, logger?: Logger, settings: Partial<PeerSettings> = {}): Promise<Meshlet> {
  const ports = await buildPorts(cfg, overrides, logger)
  const merged = { ...settingsFromConfig(cfg), ...settings }
  const tight = viewHeapProblem(merged.viewMaxBytes ?? DEFAULT_MAX_BYTES, getHeapStatistics().heap_size_limit)
  if (tight) (ports.logger ?? createLogger('meshlet', { meshlet: cfg.did })).warn(tight)
  return new Meshlet(merged, ports).start()
}

/**
 * The view's heap is about its approximate bytes (measured, docs/reliability.md): a bound past half
 * the Node heap would meet an out-of-memory crash before it drops anything. Said, not refused: a
 * small commune never comes near either.
 */
export function viewHeapProblem(viewMaxBytes: number, heapLimitBytes: number): string | undefined {
  if (viewMaxBytes * 2 <= heapLimitBytes) return undefined
  const mib = (b: number) => Math.floor(b / 2 ** 20)
  return `--view-max-mb ${mib(viewMaxBytes)} is more than half of this process's heap (${mib(heapLimitBytes)} MiB): a large commune would exhaust memory before the view drops records; give node --max-old-space-size=${Math.ceil((viewMaxBytes * 2) / 2 ** 20)} or more (NODE_OPTIONS), or lower --view-max-mb`
}
