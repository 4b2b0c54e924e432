// The stop sequence: loops first, then what they write through, then the inputs and the server.
// Containers keep running: a peer restart must not kill work (it adopts them by label).
import type { RecordSource } from '../ports/record-source.js'
import type { CursorStore } from '../ports/cursor-store.js'
import type { Logger } from '../logger.js'
import type { LinkagePublisher } from '../services/linkage.js'
import type { RecordWriter } from '../services/record-writer.js'
import type { RunnerService } from '../services/runner.js'
import type { SchedulerService } from '../services/scheduler.js'
import type { StatusReporter } from '../services/status-reporter.js'
import type { HostUpkeep } from '../services/host-upkeep.js'

export interface StopDeps {
  scheduler: SchedulerService
  linkage: LinkagePublisher
  status: StatusReporter
  runner: RunnerService
  writer: RecordWriter
  source: RecordSource
  cursorStore: CursorStore
  /** Closes the XRPC server, if it was started. */
  closeServer: () => Promise<void>
  upkeep: HostUpkeep
  log: Logger
}

/** How long a stop waits for pending record writes. */
const STOP_WRITES_WAIT_MS = 10_000

export async function stopPeer(d: StopDeps): Promise<void> {
  d.scheduler.stop()
  d.linkage.stopHeartbeat()
  d.status.stopRenewing()
  d.upkeep.stop()
  await d.runner.stop()
  // Best effort from here: a dead PDS or a closed socket must not keep the peer from stopping.
  // Writes still retrying against a PDS that does not answer are left (they are re-derived from
  // the records at the next start); a stop that waits for them can take minutes.
  const idle = await Promise.race([d.writer.idle().then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), STOP_WRITES_WAIT_MS).unref())])
  if (!idle) d.log.warn({ waitedMs: STOP_WRITES_WAIT_MS }, 'stopping with writes still pending (their PDS does not answer)')
  await d.source.stop().catch(() => {})
  await d.closeServer().catch(() => {})
  await d.cursorStore.close().catch(() => {})
  d.log.info('meshlet stopped')
}
