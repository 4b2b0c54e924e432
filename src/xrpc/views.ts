// Control-plane views -> lexicon output objects. Explicit field lists, so nothing the services
// add later leaks onto the wire by accident.
import type { BidOutcomeView, ReplicaView, WorkloadView } from '../ports/control-plane.js'

export function workloadViewOut(w: WorkloadView) {
  return {
    uri: w.uri,
    cid: w.cid,
    owner: w.owner,
    name: w.name,
    image: w.image,
    replicas: w.replicas,
    state: w.state,
    containerId: w.containerId,
    exitCode: w.exitCode,
    message: w.message,
    updatedAt: w.updatedAt,
  }
}

export function replicaViewOut(r: ReplicaView) {
  return { meshlet: r.meshlet, state: r.state, containerId: r.containerId, message: r.message, updatedAt: r.updatedAt, endpoints: r.endpoints }
}

export function bidOutcomeOut(b: BidOutcomeView) {
  return { meshlet: b.meshlet, priority: b.priority, outcome: b.outcome, reason: b.reason }
}
