// What the XRPC layer needs from the running peer (the inbound port): services/control.ts implements it, handlers only
// authenticate, authorise, validate params and translate errors. Shapes mirror lexicons/farm/meshlet/*.
import type { AtUri, Did } from '../core/types.js'

export interface CapacityView {
  meshlet: Did
  cpuMillis: number
  memoryMb: number
  cpuMillisFree: number
  memoryMbFree: number
  cpuMillisCommitted: number
  memoryMbCommitted: number
  loadPermille: number
  onBattery: boolean
  batteryPermille?: number
  thermal: string
  running: number
  accepting: boolean
}

export interface WorkloadView {
  uri: AtUri
  cid?: string
  owner: Did
  name: string
  image: string
  replicas?: number
  /** This meshlet's state for the workload: a status state, or queued/bidding/elsewhere/rejected. */
  state: string
  containerId?: string
  exitCode?: number
  message?: string
  updatedAt?: string
}

export interface BidOutcomeView {
  meshlet: Did
  priority?: number
  outcome: 'won' | 'lost' | 'invalid' | 'declined'
  reason: string
}

export interface ReplicaView {
  meshlet: Did
  state: string
  containerId?: string
  message?: string
  updatedAt?: string
  /** Services (issue 12, apps): where its published ports answer. */
  endpoints?: { name: string; url: string }[]
}

export interface WorkloadStatusView {
  uri: AtUri
  cid?: string
  state: string
  valid: boolean
  problem?: string
  phase?: string
  local?: WorkloadView
  replicas: ReplicaView[]
  bids: BidOutcomeView[]
  self?: BidOutcomeView
  /** Services (issue 12, apps): meshlets whose profile says they hold its volumes. */
  volumeHolders?: Did[]
  /** when (issue 14): a scheduled workload's latest runs, oldest first. */
  runs?: RunView[]
}

/** when (issue 14): one run of a scheduled workload. */
export interface RunView {
  instant: string
  uri: AtUri
  /** The holder's state, else skipped, queued, bidding, lost or none. */
  state: string
  meshlet?: Did
  exitCode?: number
  message?: string
}

export interface LogsView {
  uri: AtUri
  containerId?: string
  lines: { stream: 'stdout' | 'stderr'; text: string }[]
  /** Older output was left out to stay under the byte cap. */
  truncated?: boolean
}

export class WorkloadNotFoundError extends Error {
  /** `message` says more when the workload is known but has nothing here to act on. */
  constructor(
    public readonly uri: string,
    message = `no workload ${uri} is known to this meshlet`,
  ) {
    super(message)
    this.name = 'WorkloadNotFoundError'
  }
}

export interface ControlPlane {
  readonly meshletDid: Did
  readonly ownerDid: Did
  /**
   * May `did` read from this meshlet? True for owner DIDs in this meshlet's active cluster (and its
   * own owner), and for verified meshlet DIDs of those owners.
   */
  isClusterMember(did: Did): boolean
  /** The workload's owner (from its URI), or undefined when unknown here. */
  workloadOwner(uri: AtUri): Did | undefined
  capacity(): Promise<CapacityView>
  listWorkloads(filter: { owner?: Did; runningOnly?: boolean; limit: number }): WorkloadView[]
  /** Throws WorkloadNotFoundError. */
  workloadStatus(uri: AtUri): WorkloadStatusView
  /** Each throws WorkloadNotFoundError; resolves with this meshlet's resulting state. */
  deleteWorkload(uri: AtUri): Promise<{ state: string }>
  pauseWorkload(uri: AtUri): Promise<{ state: string }>
  resumeWorkload(uri: AtUri): Promise<{ state: string }>
  stopWorkload(uri: AtUri): Promise<{ state: string }>
  logs(uri: AtUri, tail: number): Promise<LogsView>
  /**
   * The meshlet's owner evicts a workload from this machine: its replica here stops and it is
   * declined from now on (kept across restarts); `undo` lifts that. State: stopped (a replica was
   * released), declined (none ran here), allowed (undo).
   */
  evictWorkload(uri: AtUri, opts: { undo: boolean }): Promise<{ evicted: boolean; state: 'stopped' | 'declined' | 'allowed' }>
  /** Starts a drain (stop bidding, release replicas so others take them) then stops the peer. */
  shutdown(opts: { drain: boolean }): Promise<{ accepted: boolean; handedOver: number }>
  /** Services (issue 12, apps): remove this meshlet's volumes of a deleted workload; refused while its record exists here. */
  purgeVolumes?(uri: AtUri): Promise<{ removed: string[] } | { refused: string }>
  // notify (issue 16)
  /** Hints from `caller` that these records were written; returns how many are being fetched. */
  notify?(caller: Did, records: { uri: string; cid: string }[]): number
}
