// Issue 12 (health): one probe of a replica's health check. The adapter reaches the container on
// its own address on its bridge network (http, tcp) or runs the command inside it (exec); it never
// depends on a published port. Never throws: a probe that cannot run is a failed probe with a reason.
import type { HealthCheck, ProbeResult } from '../core/health.js'

export interface HealthProbe {
  probe(containerId: string, check: HealthCheck): Promise<ProbeResult>
}
