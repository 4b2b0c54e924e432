// Which loops a record change wakes (the IntakeService listeners): the peer's event routing, in
// one place. Every route only marks work; the loops decide.
import type { CommuneView } from '../core/view.js'
import type { Did } from '../core/types.js'
import { secretsOf } from '../core/secrets.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { IntakeListeners } from '../services/intake.js'
import type { ClusterService } from '../services/cluster.js'
import type { SchedulerService } from '../services/scheduler.js'
import type { RunnerService } from '../services/runner.js'
import type { StatusReporter } from '../services/status-reporter.js'
import type { Timeline } from '../services/timeline.js'

export interface IntakeRouteTargets {
  owner: Did
  view: CommuneView
  cluster: ClusterService
  scheduler: SchedulerService
  runner: RunnerService
  status: StatusReporter
  timeline: Timeline
  log: Logger
}

export function intakeRoutes(t: IntakeRouteTargets): IntakeListeners {
  const { view, cluster, scheduler, runner, status, timeline, log } = t
  return {
    linkageChanged: () => {
      void cluster.refresh().then(() => scheduler.markAll())
    },
    peersChanged: () => scheduler.markAll(),
    workloadChanged: (uri) => {
      // Only the workload record itself coming back (a valid version) undoes a deletion.
      if (view.workload(uri)) {
        runner.workloadRestored(uri)
        timeline.mark(uri, 'seen')
      }
      scheduler.mark(uri)
      runner.mark()
    },
    workloadDeleted: (uri) => {
      log.info({ workload: uri }, 'workload deleted by its owner')
      runner.workloadDeleted(uri)
      scheduler.mark(uri)
      runner.mark()
    },
    // Secrets (issue 13): a new copy may turn a decline into a bid; a new version rolls the replicas (spec hash).
    secretChanged: (owner, name) => {
      for (const w of view.workloads()) if (w.owner === owner && secretsOf(w).includes(name)) scheduler.mark(w.uri)
      runner.mark()
    },
    workloadRejected: (rej, cid) => {
      // An invalid version is not runnable: stop what ran of the old one, and tell the owner why.
      runner.workloadDeleted(rej.uri)
      runner.mark()
      if (rej.did === t.owner && cid) {
        status.rejected({ uri: rej.uri, cid }, rej.reason).catch((err) => log.warn({ err: describeError(err) }, 'could not report rejected workload'))
      }
    },
  }
}
