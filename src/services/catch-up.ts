// Catching up with the commune: re-read every tracked repo, following the linkage graph until it
// stops growing. After a restart or a lapsed lease, before this meshlet yields what others
// replaced: deciding that on a partial view would miss the replacement.
import type { RecordSource } from '../ports/record-source.js'
import type { ClusterService } from './cluster.js'

/** Rounds of "refresh the graph, re-read its repos"; the graph is a few hops deep (owner -> members -> meshlets). */
const MAX_ROUNDS = 4

export class CatchUp {
  constructor(private readonly d: { source: RecordSource; cluster: ClusterService }) {}

  /** True when every repo was read. A source without resync just drains what it has. */
  async run(): Promise<boolean> {
    const { source, cluster } = this.d
    if (!source.resync) {
      await source.processAll()
      return true
    }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      await cluster.refresh()
      const before = cluster.trackedRepos().join(',')
      const ok = await source.resync()
      await source.processAll()
      await cluster.refresh()
      if (!ok) return false
      if (cluster.trackedRepos().join(',') === before) return true
    }
    return true
  }
}
