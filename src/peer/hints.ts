// notify (issue 16): wires the hint sender and receiver of one peer over its ports. Absent ports, or
// settings.notify false (--notify off): neither exists, notify calls are answered with accepted 0
// and this meshlet's writes reach others through the firehose alone.
import type { CommuneView } from '../core/view.js'
import type { Did } from '../core/types.js'
import type { Logger } from '../logger.js'
import type { Clock } from '../ports/clock.js'
import type { HintTarget, PeerNotifier, RecordProofs } from '../ports/record-hints.js'
import type { RecordSource } from '../ports/record-source.js'
import type { ClusterService } from '../services/cluster.js'
import { HintIntake } from '../services/hint-intake.js'
import { HintSender } from '../services/hint-sender.js'

export interface PeerHints {
  sender?: HintSender
  intake?: HintIntake
}

export function buildHints(d: {
  enabled: boolean
  self: Did
  allowHttp: boolean
  notifier?: PeerNotifier
  proofs?: RecordProofs
  source: RecordSource
  view: CommuneView
  cluster: ClusterService
  clock: Clock
  log: Logger
}): PeerHints {
  if (!d.enabled) return {}
  const sender = d.notifier
    ? new HintSender({ self: d.self, notifier: d.notifier, targets: () => hintTargets(d), log: d.log, now: () => d.clock.monotonic() })
    : undefined
  const intake = d.proofs
    ? new HintIntake({ proofs: d.proofs, source: d.source, log: d.log, forward: sender ? (ref, except) => sender.send(ref, except) : undefined })
    : undefined
  return { sender, intake }
}

/** The verified meshlets of the active cluster (its owner's too) with a usable published endpoint. */
function hintTargets(d: { self: Did; allowHttp: boolean; view: CommuneView; cluster: ClusterService }): HintTarget[] {
  const graph = d.cluster.current()
  const out: HintTarget[] = []
  for (const owner of d.cluster.activeOwners()) {
    for (const m of graph.meshletsOf(owner)) {
      if (m === d.self) continue
      const endpoint = d.view.profile(m)?.endpoint
      if (!endpoint || !(endpoint.startsWith('https://') || (d.allowHttp && endpoint.startsWith('http://')))) continue
      out.push({ did: m, endpoint })
    }
  }
  return out
}
