// Configuration: every flag is declared ONCE here with its MESHLET_* env var, default and help,
// then validated with zod so a bad value fails fast with one readable line (PROTOCOL §6).
import { windowProblem } from './core/window.js'
import { parseArgs } from 'node:util'
import { nearest } from './suggest.js'
import { z } from 'zod'
import { ConfigError } from './errors.js'
import { imageRefProblem } from './core/image-ref.js'
import { readPasswordFile } from './password-file.js'
import { parseCidr } from './adapters/host-net/cidr.js'
import { allowEntryProblem } from './web/address-allow.js'
import { isIP } from 'node:net'
import { parsePortRange } from './core/host-ports.js'
import { parseDecimal, parseKwhPrice, type EnergyPrice } from './core/energy.js'

interface OptionDecl {
  flag: string
  env: string
  type: 'string' | 'boolean'
  help: string
  default?: string
}

export const RUN_OPTIONS = {
  did: { flag: 'did', env: 'MESHLET_DID', type: 'string', help: "this meshlet's DID (its own account)" },
  owner: { flag: 'owner', env: 'MESHLET_OWNER', type: 'string', help: "the owner's DID" },
  clusterMembers: { flag: 'cluster-members', env: 'MESHLET_CLUSTER_MEMBERS', type: 'string', help: 'comma-separated owner DIDs this meshlet recognises', default: '' },
  password: { flag: 'password', env: 'MESHLET_PASSWORD', type: 'string', help: "the meshlet account's (app) password (visible in ps: prefer --password-file)" },
  passwordFile: { flag: 'password-file', env: 'MESHLET_PASSWORD_FILE', type: 'string', help: 'file holding the password (Docker secrets style); must not be readable by group or others' },
  pds: { flag: 'pds', env: 'MESHLET_PDS', type: 'string', help: "PDS URL (default: from the meshlet's DID document)" },
  plc: { flag: 'plc', env: 'MESHLET_PLC', type: 'string', help: 'PLC directory URL', default: 'https://plc.directory' },
  firehose: { flag: 'firehose', env: 'MESHLET_FIREHOSE', type: 'string', help: "relay URL (default: subscribe to the cluster members' PDSes)" },
  port: { flag: 'port', env: 'MESHLET_PORT', type: 'string', help: 'XRPC/web port', default: '2583' },
  host: { flag: 'host', env: 'MESHLET_HOST', type: 'string', help: 'listen address (0.0.0.0 in a container, so a published port reaches it)', default: '127.0.0.1' },
  endpoint: { flag: 'endpoint', env: 'MESHLET_ENDPOINT', type: 'string', help: 'public https URL of this XRPC server, published in the profile; required outside dev mode (--allow-http: default http://<host>:<port>)' },
  dataDir: { flag: 'data-dir', env: 'MESHLET_DATA_DIR', type: 'string', help: 'cursor and local state directory', default: './.data/meshlet' },
  dockerSocket: { flag: 'docker-socket', env: 'MESHLET_DOCKER_SOCKET', type: 'string', help: 'Docker engine socket', default: '/var/run/docker.sock' },
  roles: { flag: 'roles', env: 'MESHLET_ROLES', type: 'string', help: 'comma-separated roles this meshlet offers (e.g. worker,storage)', default: 'worker' },
  labels: { flag: 'labels', env: 'MESHLET_LABELS', type: 'string', help: 'comma-separated key=value labels (e.g. zone=home,arch=amd64)', default: '' },
  capabilities: { flag: 'capabilities', env: 'MESHLET_CAPABILITIES', type: 'string', help: 'comma-separated capabilities (e.g. gpu)', default: '' },
  cpuMillis: { flag: 'cpu-millis', env: 'MESHLET_CPU_MILLIS', type: 'string', help: 'CPU to offer in millicores (default: the whole machine)' },
  memoryMb: { flag: 'memory-mb', env: 'MESHLET_MEMORY_MB', type: 'string', help: 'memory to offer in MiB (default: the whole machine)' },
  reserveMemoryMb: { flag: 'reserve-memory-mb', env: 'MESHLET_RESERVE_MEMORY_MB', type: 'string', help: 'memory kept free for the host', default: '256' },
  maxLoadPermille: { flag: 'max-load-permille', env: 'MESHLET_MAX_LOAD_PERMILLE', type: 'string', help: 'decline new work above this 1-minute load per core, x1000', default: '2000' },
  leaseMs: { flag: 'lease-ms', env: 'MESHLET_LEASE_MS', type: 'string', help: 'heartbeat lease: a peer silent this long loses its replicas', default: '15000' },
  // liveness (issue 16 part 3): probes, suspicions, rare heartbeat (docs/protocol.md, Liveness by receipt)
  fallbackLeaseMs: { flag: 'fallback-lease-ms', env: 'MESHLET_FALLBACK_LEASE_MS', type: 'string', help: 'lease published while no batch claim needs --lease-ms: the profile is re-written every third of it; a dead peer that answers probes is found by suspicion long before (0: always --lease-ms, a heartbeat every lease/3)', default: '360000' },
  probeMs: { flag: 'probe-ms', env: 'MESHLET_PROBE_MS', type: 'string', help: 'probe one cluster meshlet this often (farm.meshlet.ping, signed answers); 0: neither probe nor answer probes (judged by the lease only, e.g. behind NAT)', default: '1000' },
  probeTimeoutMs: { flag: 'probe-timeout-ms', env: 'MESHLET_PROBE_TIMEOUT_MS', type: 'string', help: "a direct ping's timeout (an indirect probe through two other members gets twice this)", default: '1000' },
  suspicionConfirmMs: { flag: 'suspicion-confirm-ms', env: 'MESHLET_SUSPICION_CONFIRM_MS', type: 'string', help: 'a suspected meshlet is dead once nothing from its repo arrived this long after the suspicion', default: '3000' },
  bidWindowMs: { flag: 'bid-window-ms', env: 'MESHLET_BID_WINDOW_MS', type: 'string', help: 'default bid window when a workload names none', default: '5000' },
  minOwnerBalance: { flag: 'min-owner-balance', env: 'MESHLET_MIN_OWNER_BALANCE', type: 'string', help: 'decline owners whose ledger balance (unit-seconds) is below this, published in the profile; negative as --min-owner-balance=-360000 (default: no minimum)' },
  allowedBinds: { flag: 'allowed-binds', env: 'MESHLET_ALLOWED_BINDS', type: 'string', help: "host paths mounted into the OWNER's own workloads only, read-only unless ':rw' (comma-separated 'src:dst[:rw]'); guests never get them; none by default", default: '' },
  registryAllow: { flag: 'registry-allow', env: 'MESHLET_REGISTRY_ALLOW', type: 'string', help: "registries guests' images may come from although they are on loopback/private/link-local addresses or local names (comma-separated host or host:port); none by default", default: '' },
  registryDeny: { flag: 'registry-deny', env: 'MESHLET_REGISTRY_DENY', type: 'string', help: "registries guests' images may never come from (comma-separated host or host:port, e.g. docker.io)", default: '' },
  sharedImages: { flag: 'shared-images', env: 'MESHLET_SHARED_IMAGES', type: 'string', help: "local images guests may run as they are, without a pull (exact references; the owner declares them public); none by default", default: '' },
  guestMaxContainers: { flag: 'guest-max-containers', env: 'MESHLET_GUEST_MAX_CONTAINERS', type: 'string', help: 'replicas one guest owner may hold on this meshlet at once (published in the profile)', default: '32' },
  guestSharePercent: { flag: 'guest-share-percent', env: 'MESHLET_GUEST_SHARE_PERCENT', type: 'string', help: "percent of this meshlet's CPU and memory one guest owner may hold (published in the profile)", default: '50' },
  maxTokenLifetimeSec: { flag: 'max-token-lifetime-sec', env: 'MESHLET_MAX_TOKEN_LIFETIME_SEC', type: 'string', help: 'refuse service auth tokens valid for longer than this (exp - iat, seconds)', default: '300' },
  denyRanges: { flag: 'deny-ranges', env: 'MESHLET_DENY_RANGES', type: 'string', help: 'IPv4 ranges containers must not reach (the LAN, CGNAT, link-local/metadata), comma-separated', default: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16' },
  networkPool: { flag: 'network-pool', env: 'MESHLET_NETWORK_POOL', type: 'string', help: "IPv4 ranges the owners' bridge networks are carved from, a /24 each, comma-separated (subnets the engine or the host's routes use are skipped)", default: '172.16.0.0/12' },
  firewallChain: { flag: 'firewall-chain', env: 'MESHLET_FIREWALL_CHAIN', type: 'string', help: "prefix of meshlet's own iptables chains (<prefix>-FILTER, <prefix>-INPUT)", default: 'MESHLET' },
  containerNofile: { flag: 'container-nofile', env: 'MESHLET_CONTAINER_NOFILE', type: 'string', help: 'open-files ulimit of every container', default: '4096' },
  containerNproc: { flag: 'container-nproc', env: 'MESHLET_CONTAINER_NPROC', type: 'string', help: "process ulimit of every container (per uid, host-wide; pids-limit bounds each container)", default: '4096' },
  containerTmpMb: { flag: 'container-tmp-mb', env: 'MESHLET_CONTAINER_TMP_MB', type: 'string', help: 'size of the tmpfs on /tmp of a read-only container, MiB (counts against its memory)', default: '64' },
  containerStorageMb: { flag: 'container-storage-mb', env: 'MESHLET_CONTAINER_STORAGE_MB', type: 'string', help: 'disk a writable-root container may write when its workload names no storageMb, MiB', default: '1024' },
  // burst (issue 16): container starts in flight at once
  maxParallelStarts: { flag: 'max-parallel-starts', env: 'MESHLET_MAX_PARALLEL_STARTS', type: 'string', help: 'container starts (pull, create, start) this meshlet runs at once; more queue', default: '8' },
  storageCheckMs: { flag: 'storage-check-ms', env: 'MESHLET_STORAGE_CHECK_MS', type: 'string', help: 'how often writable layers are measured against storageMb', default: '30000' },
  allowHttp: { flag: 'allow-http', env: 'MESHLET_ALLOW_HTTP', type: 'boolean', help: 'DEV ONLY: resolve identities and PDSes over plain http (loopback test networks)' },
  logLevel: { flag: 'log-level', env: 'MESHLET_LOG_LEVEL', type: 'string', help: 'trace|debug|info|warn|error', default: 'info' },
  // appview (issue 15): /metrics
  metricsAllow: { flag: 'metrics-allow', env: 'MESHLET_METRICS_ALLOW', type: 'string', help: "who may read GET /metrics: comma-separated addresses or CIDR ranges (IPv4 or IPv6), or 'any'", default: '127.0.0.0/8,::1/128' },
  oauthHandleResolver: { flag: 'oauth-handle-resolver', env: 'MESHLET_OAUTH_HANDLE_RESOLVER', type: 'string', help: 'web sign-in: a service answering com.atproto.identity.resolveHandle (e.g. a PDS URL); default DNS and /.well-known' },
  pdsDailyWriteBudget: { flag: 'pds-daily-write-budget', env: 'MESHLET_PDS_DAILY_WRITE_BUDGET', type: 'string', help: "PDS rate-limit points a day this meshlet's writes may use, shown in /metrics (create 3, update 2, delete 1)", default: '35000' },
  // appview (issue 15): energy cost on the ledger page (also `meshlet appview` and `meshlet advise`)
  wattsPerCore: { flag: 'watts-per-core', env: 'MESHLET_WATTS_PER_CORE', type: 'string', help: 'power one busy CPU core draws, watts (e.g. 12 or 7.5): the ledger page shows the energy of the CPU time each owner consumed and contributed' },
  kwhPrice: { flag: 'kwh-price', env: 'MESHLET_KWH_PRICE', type: 'string', help: "price of a kWh, with an optional currency label (e.g. 0.32 EUR or $0.15): the energy's cost beside it (needs --watts-per-core)" },
  // Secrets (issue 13)
  secretsDir: { flag: 'secrets-dir', env: 'MESHLET_SECRETS_DIR', type: 'string', help: "host tmpfs directory for containers' /run/secrets files (the same path for the engine; in memory or refused)", default: '/dev/shm/meshlet-secrets' },
  // when (issue 14): when this meshlet takes guests' work (published in the profile)
  guestHours: { flag: 'guest-hours', env: 'MESHLET_GUEST_HOURS', type: 'string', help: "guests' work only in these local hours, HH:MM-HH:MM (e.g. 22:00-07:00, across midnight); default: any time" },
  guestTz: { flag: 'guest-tz', env: 'MESHLET_GUEST_TZ', type: 'string', help: 'IANA time zone of --guest-hours (e.g. Europe/Berlin)', default: 'UTC' },
  guestNoBattery: { flag: 'guest-no-battery', env: 'MESHLET_GUEST_NO_BATTERY', type: 'boolean', help: "no guests' work while on battery" },
  guestWhenIdle: { flag: 'guest-when-idle', env: 'MESHLET_GUEST_WHEN_IDLE', type: 'boolean', help: "no guests' work while the person is active (load besides guests above --guest-active-load for --guest-active-minutes; always so with role interface)" },
  guestActiveLoad: { flag: 'guest-active-load', env: 'MESHLET_GUEST_ACTIVE_LOAD', type: 'string', help: 'load per core x1000, besides guests, above which the person counts as active', default: '700' },
  guestActiveMinutes: { flag: 'guest-active-minutes', env: 'MESHLET_GUEST_ACTIVE_MINUTES', type: 'string', help: 'minutes the load must stay above (or below) the threshold to count as active (idle)', default: '5' },
  // Services (issue 12, apps): published ports.
  publishAddress: { flag: 'publish-address', env: 'MESHLET_PUBLISH_ADDRESS', type: 'string', help: "host address workloads' ports are published on (0.0.0.0 or a LAN/VPN address to let other members reach them)", default: '127.0.0.1' },
  publishPorts: { flag: 'publish-ports', env: 'MESHLET_PUBLISH_PORTS', type: 'string', help: 'host port range published ports are chosen from', default: '24000-24999' },
  advertiseAddress: { flag: 'advertise-address', env: 'MESHLET_ADVERTISE_ADDRESS', type: 'string', help: "host name or address endpoint URLs carry (default: the host of --endpoint)" },
  // notify (issue 16): direct hints between peers
  // scale (issue 16): the view's bound (docs/reliability.md, View)
  viewMaxRecords: { flag: 'view-max-records', env: 'MESHLET_VIEW_MAX_RECORDS', type: 'string', help: "records of the commune this meshlet keeps in memory at most (~16-22 per live workload); past it, the repo holding the most gives up its newest", default: '400000' },
  viewMaxMb: { flag: 'view-max-mb', env: 'MESHLET_VIEW_MAX_MB', type: 'string', help: 'approximate MiB of records kept at most (each counted as its JSON + 512 bytes); keep it under half the Node heap (--max-old-space-size)', default: '512' },
  notify: { flag: 'notify', env: 'MESHLET_NOTIFY', type: 'string', help: "on: tell the cluster's meshlets directly when this meshlet writes a bid or status, and fetch and check the records they hint at once (farm.meshlet.notify); off: the firehose alone", default: 'on' },
} as const satisfies Record<string, OptionDecl>

const did = z.string().regex(/^did:(plc|web):[a-zA-Z0-9._:%-]{1,2040}$/, 'must be a did:plc or did:web DID, like did:plc:abc123')
const url = z.string().url('must be a URL like https://example.com').refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
const wsOrHttp = z.string().url('must be a URL').refine((u) => /^(wss?|https?):\/\//.test(u), 'must be a ws(s) or http(s) URL')
const intIn = (min: number, max: number) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max))
const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))

// appview (issue 15): energy cost. Decimal strings parsed exactly (core/energy.ts), never through a float.
const decimalText = z.string().transform((s, ctx) => {
  const d = parseDecimal(s)
  if (typeof d === 'string') {
    ctx.addIssue({ code: 'custom', message: d })
    return z.NEVER
  }
  return d
})
const priceText = z.string().transform((s, ctx) => {
  const p = parseKwhPrice(s)
  if (typeof p === 'string') {
    ctx.addIssue({ code: 'custom', message: p })
    return z.NEVER
  }
  return p
})
const energyFields = { wattsPerCore: decimalText.optional(), kwhPrice: priceText.optional() }
export const energyOptionsSchema = z.object(energyFields)

/** The validated energy options as core/energy.ts takes them; undefined without --watts-per-core. A price alone is an error. */
export function energyPrice(o: z.infer<typeof energyOptionsSchema>): EnergyPrice | undefined {
  if (!o.wattsPerCore) {
    if (o.kwhPrice) throw new ConfigError('invalid configuration: --kwh-price (MESHLET_KWH_PRICE) needs --watts-per-core (MESHLET_WATTS_PER_CORE): the price is per kWh, and the kWh come from the power per core', 'kwhPrice')
    return undefined
  }
  return { wattsPerCore: o.wattsPerCore, ...(o.kwhPrice ? { kwhPrice: o.kwhPrice.price, ...(o.kwhPrice.currency ? { currency: o.kwhPrice.currency } : {}) } : {}) }
}

/** `meshlet appview` and `meshlet advise`: --watts-per-core / --kwh-price (or MESHLET_*), validated like `meshlet run`'s. */
export function loadEnergyOptions(values: { 'watts-per-core'?: string; 'kwh-price'?: string }, env: NodeJS.ProcessEnv): EnergyPrice | undefined {
  const raw = { wattsPerCore: values['watts-per-core'] ?? (env.MESHLET_WATTS_PER_CORE || undefined), kwhPrice: values['kwh-price'] ?? (env.MESHLET_KWH_PRICE || undefined) }
  const res = energyOptionsSchema.safeParse(raw)
  if (!res.success) {
    const issue = res.error.issues[0]!
    const o = RUN_OPTIONS[String(issue.path[0]) as 'wattsPerCore' | 'kwhPrice']
    throw new ConfigError(`invalid configuration: --${o.flag} (${o.env}) ${issue.message}`, String(issue.path[0]))
  }
  return energyPrice(res.data)
}

export const runConfigSchema = z.object({
  did,
  owner: did,
  clusterMembers: csv.pipe(z.array(did)),
  password: z.string({ error: 'is required (the meshlet account password or an app password; or --password-file)' }).min(1, 'is required'),
  passwordFile: z.string().optional(),
  pds: url.optional(),
  plc: url,
  firehose: wsOrHttp.optional(),
  port: intIn(0, 65535),
  host: z.string().min(1),
  endpoint: url.optional(),
  dataDir: z.string().min(1),
  dockerSocket: z.string().min(1),
  roles: csv.pipe(z.array(z.string().max(64))),
  labels: csv.pipe(
    z.array(z.string().regex(/^[^=]{1,64}=.{0,256}$/, 'labels are key=value')).transform((kv) =>
      kv.map((s) => {
        const i = s.indexOf('=')
        return { key: s.slice(0, i), value: s.slice(i + 1) }
      }),
    ),
  ),
  capabilities: csv.pipe(z.array(z.string().max(64))),
  cpuMillis: intIn(1, 1 << 30).optional(),
  memoryMb: intIn(1, 1 << 30).optional(),
  reserveMemoryMb: intIn(0, 1 << 30),
  maxLoadPermille: intIn(1, 1_000_000_000),
  leaseMs: intIn(1000, 3_600_000),
  bidWindowMs: intIn(100, 600_000),
  // liveness (issue 16 part 3); optional in the type like the ones below
  fallbackLeaseMs: intIn(0, 86_400_000).optional(),
  probeMs: intIn(0, 600_000).optional(),
  probeTimeoutMs: intIn(50, 60_000).optional(),
  suspicionConfirmMs: intIn(500, 600_000).optional(),
  minOwnerBalance: z.string().regex(/^-?\d{1,15}$/, 'must be a whole number of unit-seconds, like -360000').transform(Number).optional(),
  allowedBinds: csv.pipe(z.array(z.string().regex(/^\/[^:]*:\/[^:]*(:(ro|rw))?$/, "binds are '/host/path:/container/path[:ro|rw]'"))),
  registryAllow: csv.pipe(z.array(z.string().regex(/^[a-zA-Z0-9.[\]:-]{1,300}$/, 'registries are host or host:port, like 127.0.0.1:5000'))),
  registryDeny: csv.pipe(z.array(z.string().regex(/^[a-zA-Z0-9.[\]:-]{1,300}$/, 'registries are host or host:port, like docker.io'))),
  sharedImages: csv.pipe(z.array(z.string().refine((s) => imageRefProblem(s) === undefined, 'must be image references like meshlet/busybox:test'))),
  guestMaxContainers: intIn(0, 1_000_000),
  guestSharePercent: intIn(0, 100),
  maxTokenLifetimeSec: intIn(10, 3600).optional(),
  // Optional in the type (filled by the defaults above): code that builds a config by hand need not name them.
  denyRanges: csv.pipe(z.array(z.string().refine((r) => typeof parseCidr(r) !== 'string', 'must be IPv4 ranges like 10.0.0.0/8'))).optional(),
  networkPool: csv.pipe(z.array(z.string().refine((r) => { const c = parseCidr(r); return typeof c !== 'string' && c.bits <= 24 }, 'must be IPv4 ranges of /24 or larger, like 172.16.0.0/12'))).optional(),
  firewallChain: z.string().regex(/^[A-Z][A-Z0-9_-]{0,19}$/, 'must be 1-20 of A-Z 0-9 _ - (iptables chain names)').optional(),
  containerNofile: intIn(64, 1 << 20).optional(),
  containerNproc: intIn(64, 1 << 22).optional(),
  containerTmpMb: intIn(1, 1 << 20).optional(),
  containerStorageMb: intIn(1, 1 << 30).optional(),
  storageCheckMs: intIn(1000, 3_600_000).optional(),
  maxParallelStarts: intIn(1, 256).optional(), // burst (issue 16)
  allowHttp: z.boolean().default(false),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']),
  // appview (issue 15); optional so code that builds a config by hand need not name them
  metricsAllow: csv.pipe(z.array(z.string().refine((a) => a === 'any' || allowEntryProblem(a) === undefined, "must be addresses or CIDR ranges like 127.0.0.0/8 or ::1/128, or 'any'"))).optional(),
  pdsDailyWriteBudget: intIn(0, 1_000_000_000).optional(),
  oauthHandleResolver: z.string().url('must be an http(s) URL, like https://bsky.social').optional(),
  ...energyFields,
  // Secrets (issue 13); optional in the type like the others above.
  secretsDir: z.string().regex(/^\/[^:,]*$/, 'must be an absolute path (no ":" or ",")').optional(),
  // when (issue 14)
  guestHours: z.string().refine((h) => windowProblem({ hours: h }) === undefined, 'must be HH:MM-HH:MM on a 24-hour clock, like 22:00-07:00').optional(),
  guestTz: z.string().refine((tz) => windowProblem({ hours: '00:00-00:00', tz }) === undefined, 'must be an IANA time zone, like Europe/Berlin or UTC').optional(),
  guestNoBattery: z.boolean().optional(),
  guestWhenIdle: z.boolean().optional(),
  guestActiveLoad: intIn(0, 100_000).optional(),
  guestActiveMinutes: intIn(0, 1440).optional(),
  // Services (issue 12, apps). Optional in the type, like the ones above.
  publishAddress: z.string().refine((a) => isIP(a) !== 0, 'must be an IP address like 127.0.0.1 or 0.0.0.0').optional(),
  publishPorts: z.string().transform((r, ctx) => {
    const range = parsePortRange(r)
    if (typeof range === 'string') {
      ctx.addIssue({ code: 'custom', message: range })
      return z.NEVER
    }
    return range
  }).optional(),
  advertiseAddress: z.string().regex(/^[a-zA-Z0-9.:-]{1,253}$/, 'must be a host name or IP address').optional(),
  // notify (issue 16); optional in the type like the ones above (absent = on)
  notify: z.enum(['on', 'off'], { error: 'must be on or off' }).transform((v) => v === 'on').optional(),
  // scale (issue 16); optional in the type like the ones above (absent = core/view.ts defaults)
  viewMaxRecords: intIn(1000, 100_000_000).optional(),
  viewMaxMb: intIn(16, 1 << 20).optional(),
})

export type RunConfig = z.infer<typeof runConfigSchema>
type RawConfig = Partial<Record<keyof typeof RUN_OPTIONS, string | boolean>>

/** Step 1: read flags and env (flags win), no validation. */
export function readRunOptions(argv: string[], env: NodeJS.ProcessEnv): RawConfig {
  const options: Record<string, { type: 'string' | 'boolean' }> = {}
  for (const o of Object.values(RUN_OPTIONS)) options[o.flag] = { type: o.type }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: false, strict: true })
  } catch (err) {
    // A typo gets the nearest flag, not the parser's advice about positionals.
    const typo = argv.find((a) => a.startsWith('--') && !(a.slice(2).split('=')[0]! in options))?.slice(2).split('=')[0]
    const near = typo === undefined ? undefined : nearest(typo, Object.keys(options))
    const what = typo === undefined ? (err as Error).message : `unknown flag --${typo}${near ? `; did you mean --${near}?` : ''}`
    throw new ConfigError(`${what} (see 'meshlet run --help')`, undefined, { cause: err })
  }
  const raw: RawConfig = {}
  for (const [key, o] of Object.entries(RUN_OPTIONS) as [keyof typeof RUN_OPTIONS, OptionDecl][]) {
    const fromFlag = parsed.values[o.flag]
    const fromEnv = env[o.env]
    if (fromFlag !== undefined) raw[key] = fromFlag as string | boolean
    else if (fromEnv !== undefined && fromEnv !== '') raw[key] = o.type === 'boolean' ? /^(1|true|yes)$/i.test(fromEnv) : fromEnv
    else if (o.default !== undefined) raw[key] = o.default
  }
  return raw
}

/**
 * Peers call the published endpoint with service-auth tokens: outside a loopback dev network
 * (--allow-http) it must be given, and https. Checked once the rest is valid (one problem at a time).
 */
function endpointProblem(c: { allowHttp: boolean; endpoint?: string }): string | undefined {
  if (c.allowHttp) return undefined
  if (c.endpoint === undefined) return 'is required outside dev mode: the https URL peers reach this meshlet at (e.g. a TLS reverse proxy in front of --port), or --allow-http for a loopback dev network'
  if (!c.endpoint.startsWith('https://')) return `must be an https:// URL outside dev mode (got ${c.endpoint}); put a TLS reverse proxy in front of --port, or use --allow-http on a loopback dev network`
  return undefined
}

/** Step 2: validate into a typed config, or throw ConfigError with one line per problem naming flag and env var. */
export function toRunConfig(raw: RawConfig): RunConfig {
  const res = runConfigSchema.safeParse(raw)
  if (res.success) {
    const problem = endpointProblem(res.data)
    if (problem) throw new ConfigError(`invalid configuration: --endpoint (MESHLET_ENDPOINT) ${problem}`, 'endpoint')
    energyPrice(res.data) // appview (issue 15): a price without a power per core is refused here
    return res.data
  }
  const lines = res.error.issues.map((issue) => {
    const key = String(issue.path[0]) as keyof typeof RUN_OPTIONS
    const o = RUN_OPTIONS[key]
    const name = o ? `--${o.flag} (${o.env})` : key
    const msg = issue.code === 'invalid_type' && raw[key] === undefined ? 'is required' : issue.message
    return `${name} ${msg}`
  })
  // One problem, one line (what a person fixes first); several, one line each.
  const text = lines.length === 1 ? `invalid configuration: ${lines[0]}` : `invalid configuration:\n  ${lines.join('\n  ')}`
  throw new ConfigError(text, String(res.error.issues[0]?.path[0]))
}

export function loadRunConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): RunConfig {
  const raw = readRunOptions(argv, env)
  if (typeof raw.passwordFile === 'string' && raw.passwordFile !== '') {
    if (raw.password !== undefined) throw new ConfigError('give the password once: --password (MESHLET_PASSWORD) or --password-file (MESHLET_PASSWORD_FILE), not both', 'password')
    raw.password = readPasswordFile(raw.passwordFile)
  }
  return toRunConfig(raw)
}

export function runHelp(): string {
  const rows = Object.values(RUN_OPTIONS).map((o: OptionDecl) => {
    const def = o.default !== undefined && o.default !== '' ? ` (default ${o.default})` : ''
    return `  --${o.flag.padEnd(26)} ${o.env.padEnd(34)} ${o.help}${def}`
  })
  return `usage: meshlet run [options]\n\n${rows.join('\n')}\n`
}
