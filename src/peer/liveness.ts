// liveness (issue 16 part 3): the peer's probe side in one place, so the composition root only
// plugs it in: the signing key, the suspicion book (services/liveness.ts), the prober
// (services/prober.ts), the PDS-touch check (services/pds-touch.ts) and the ping/probe routes.
import type express from 'express'
import type { Did, RecordEvent } from '../core/types.js'
import type { CommuneView } from '../core/view.js'
import type { ClusterGraph } from '../core/cluster.js'
import { DEFAULT_SUSPICION_RULES, needsShortLease } from '../core/suspicion.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'
import type { PingKeys, PingSigner } from '../ports/ping-keys.js'
import { LivenessService } from '../services/liveness.js'
import { Prober } from '../services/prober.js'
import { PdsTouch } from '../services/pds-touch.js'
import type { RecordWriter } from '../services/record-writer.js'
import { mountPingRoutes } from '../xrpc/ping-routes.js'
import type { LivenessSettings } from './settings.js'

export interface PeerLivenessOptions {
  settings: LivenessSettings
  self: Did
  owner: Did
  view: CommuneView
  graph: () => ClusterGraph
  writer: RecordWriter
  clock: Clock
  log: Logger
  lastReceived: (did: Did) => number | undefined
  /** A cheap read of this meshlet's PDS (RecordPublisher.reachable); without it, in touch while writes land. */
  reachable?: () => Promise<boolean>
  /** Signing and checking ping answers; without it this meshlet neither probes nor answers. */
  keys?: PingKeys
  refute: () => void
  changed: () => void
  away: () => void
}

export class PeerLiveness {
  readonly service: LivenessService
  readonly prober: Prober | undefined
  readonly touch: PdsTouch
  private signer: PingSigner | undefined

  constructor(private readonly o: PeerLivenessOptions) {
    const s = o.settings
    const rules = { ...DEFAULT_SUSPICION_RULES, confirmMs: s.confirmMs }
    this.service = new LivenessService({ self: o.self, clock: o.clock, log: o.log, rules, lastReceived: o.lastReceived, refute: o.refute, changed: o.changed })
    this.prober =
      s.probeMs > 0 && o.keys
        ? new Prober({
            self: o.self,
            owner: o.owner,
            view: o.view,
            graph: o.graph,
            writer: o.writer,
            clock: o.clock,
            log: o.log,
            periodMs: s.probeMs,
            timeoutMs: s.probeTimeoutMs,
            indirect: 2,
            gapMs: rules.gapMs,
            heardSince: (did, at) => (o.lastReceived(did) ?? -Infinity) > at,
            verify: o.keys.problem,
          })
        : undefined
    const every = Math.max(250, Math.min(1000, s.probeMs || 1000))
    this.touch = new PdsTouch({ clock: o.clock, reachable: o.reachable ?? (async () => false), everyMs: every, staleMs: 3 * every, awayAfterMs: s.confirmMs + 3 * s.probeTimeoutMs, away: o.away })
  }

  /** Creates the signing key (before the first profile is written). */
  async init(): Promise<void> {
    if (this.o.settings.probeMs > 0 && this.o.keys) this.signer ??= await this.o.keys.create(this.o.self)
  }

  /** Published in the profile: present = this meshlet answers probes. */
  pingKey(): string | undefined {
    return this.signer?.publicKey
  }

  received(event: RecordEvent, monoAt: number): void {
    this.service.received(event, monoAt)
  }

  /** Whether a batch claim needs the short lease (core/suspicion.ts needsShortLease). */
  shortLease(): boolean {
    const v = this.o.view
    return needsShortLease(this.o.self, v.workloads(), (u) => v.statusesFor(u), (u) => v.bidsFor(u))
  }

  routes(app: express.Express): void {
    mountPingRoutes(app, {
      // Vouches for itself only while its PDS answers: one that cannot write cannot refute either.
      signer: () => (this.touch.inTouch() ? this.signer : undefined),
      now: () => this.o.clock.now(),
      probeTarget: (did) => this.prober?.targets().find((t) => t.meshlet === did)?.profile.endpoint,
      relayTimeoutMs: this.o.settings.probeTimeoutMs,
    })
  }

  start(): void {
    this.touch.start()
    this.prober?.start()
  }

  stop(): void {
    this.prober?.stop()
    this.touch.stop()
    this.service.stop()
  }
}
