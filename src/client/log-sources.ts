// Which replicas `meshlet logs` asks for output: those that have, or had, a container (what
// `docker logs` / `nomad alloc logs` show). A claim that never got a container (still pulling or
// starting, lost its claim race, or failed its pull) has no output, so it gets a note, not a section.

/** The part of a replica's status (getWorkloadStatus replicaView) the rule reads. */
export interface ReplicaSource {
  meshlet: string
  state: string
  containerId?: string
}

/**
 * States a peer only writes once its container exists: `running` (and `paused`, shown for a
 * paused running one) after the start, `exited` from the container's exit. `failed` and
 * `stopped` are also written for a pull/create that never made one, and `pending`, `pulling`,
 * `starting` come before it, so for those only a container id says there is (was) one.
 */
const CONTAINER_STATES: ReadonlySet<string> = new Set(['running', 'paused', 'exited'])

/** Whether the replica has or had a container whose output can be asked for. */
export function hadContainer(r: ReplicaSource): boolean {
  return Boolean(r.containerId) || CONTAINER_STATES.has(r.state)
}

/** Claims that are (or were) on their way to a container: the note says "yet", not "never". */
const ON_ITS_WAY: ReadonlySet<string> = new Set(['pending', 'pulling', 'starting'])

/**
 * Splits the replicas into those to ask for logs, one per meshlet (the logs call names the meshlet,
 * not the replica), and one-line notes (for stderr) on the meshlets whose claims have no container.
 */
export function logSources<R extends ReplicaSource>(replicas: readonly R[]): { holders: R[]; notes: string[] } {
  const holders: R[] = []
  for (const r of replicas) if (hadContainer(r) && !holders.some((h) => h.meshlet === r.meshlet)) holders.push(r)
  const notes: string[] = []
  const noted = new Set<string>()
  for (const r of replicas) {
    if (holders.some((h) => h.meshlet === r.meshlet) || noted.has(r.meshlet)) continue
    noted.add(r.meshlet)
    notes.push(`replica on ${r.meshlet} ${ON_ITS_WAY.has(r.state) ? 'has no container yet' : 'never started a container'} (state: ${r.state})`)
  }
  return { holders, notes }
}
