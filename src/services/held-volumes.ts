// The workload volumes this meshlet holds, as its profile publishes them (issue 12, docs/protocol.md
// "Volumes"): read from the runtime at each heartbeat; when the engine does not answer, the last
// list read stays published, so one engine hiccup does not make every peer rank differently.
import type { Did, HeldVolume } from '../core/types.js'
import { heldVolumesList } from '../core/volumes.js'
import type { ContainerRuntime } from '../ports/container-runtime.js'

export class HeldVolumes {
  private last: HeldVolume[] | undefined

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly meshlet: Did,
  ) {}

  /** The list to publish now (undefined when the runtime keeps no volumes or none are held). */
  async current(): Promise<HeldVolume[] | undefined> {
    if (!this.runtime.heldVolumes) return undefined
    try {
      this.last = heldVolumesList(await this.runtime.heldVolumes(this.meshlet))
    } catch {
      // keep the last list
    }
    return this.last?.length ? this.last : undefined
  }
}
