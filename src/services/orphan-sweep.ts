// Once after startup: this meshlet's status records whose workload vanished while it was down (the
// delete happened before the backfill could see it). Confirmed with the owner's PDS before anything
// stops: a workload that is merely unknown (PDS unreachable) keeps its container.
import type { CommuneView } from '../core/view.js'
import type { Did } from '../core/types.js'
import type { PublicRecordReader } from '../ports/public-records.js'
import type { Logger } from '../logger.js'
import { describeError } from '../errors.js'
import type { RunnerService } from './runner.js'
import type { SchedulerService } from './scheduler.js'

export interface OrphanSweepDeps {
  meshlet: Did
  view: CommuneView
  publicRecords: PublicRecordReader
  runner: RunnerService
  scheduler: SchedulerService
  log: Logger
}

export class OrphanSweep {
  constructor(private readonly d: OrphanSweepDeps) {}

  async run(): Promise<void> {
    const { view, runner, scheduler, log } = this.d
    const uris = new Set<string>()
    for (const s of view.statusesBy(this.d.meshlet)) uris.add(s.workload.uri)
    for (const uri of uris) {
      if (view.workload(uri) || view.rejection(uri)) continue
      try {
        if (!(await this.d.publicRecords.recordExists(uri))) {
          log.info({ workload: uri }, 'workload was deleted while this meshlet was away; cleaning up')
          runner.workloadDeleted(uri)
          scheduler.mark(uri)
        }
      } catch (err) {
        log.warn({ err: describeError(err), workload: uri }, 'cannot confirm whether workload still exists; leaving its container alone')
      }
    }
    runner.mark()
  }
}
