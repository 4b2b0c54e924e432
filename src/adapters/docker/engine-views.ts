// Engine answers (inspect, list rows, events) in meshlet's words. Only complete meshlet
// containers come through: anything without our labels is never ours.
import type Docker from 'dockerode'
import type { Did } from '../../core/types.js'
import type { ContainerEvent, ContainerInfo, ContainerState } from '../../ports/container-runtime.js'
import { labelsFromInfo } from './labels.js'
import { portsFromLabels } from './publish.js'

const DOCKER_ZERO_TIME = '0001-01-01T00:00:00Z'
export const WATCHED_ACTIONS: readonly ContainerEvent['action'][] = ['start', 'die', 'oom', 'stop', 'pause', 'unpause', 'destroy']
const CONTAINER_STATES: readonly ContainerState[] = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing']

function isoOrUndefined(t: string | undefined): string | undefined {
  if (!t || t.startsWith('0001-01-01') || t === DOCKER_ZERO_TIME) return undefined
  return t
}

function toState(s: string | undefined): ContainerState {
  return CONTAINER_STATES.includes(s as ContainerState) ? (s as ContainerState) : 'dead'
}

/** An inspected container, or undefined when it is not a meshlet container. */
export function infoFromInspect(info: Docker.ContainerInspectInfo): ContainerInfo | undefined {
  const labels = labelsFromInfo(info.Config?.Labels)
  if (!labels) return undefined
  const state = toState(info.State?.Status)
  const out: ContainerInfo = {
    id: info.Id,
    name: (info.Name ?? '').replace(/^\//, ''),
    image: info.Config?.Image ?? info.Image,
    state,
    labels,
  }
  // ExitCode is 0 for a container that never ran: only report it once it has finished.
  const finishedAt = isoOrUndefined(info.State?.FinishedAt)
  if ((state === 'exited' || state === 'dead') && typeof info.State?.ExitCode === 'number') out.exitCode = info.State.ExitCode
  if (info.State?.OOMKilled) out.oomKilled = true
  else if (state === 'exited' || state === 'dead') out.oomKilled = false
  const startedAt = isoOrUndefined(info.State?.StartedAt)
  if (startedAt) out.startedAt = startedAt
  if (finishedAt) out.finishedAt = finishedAt
  const ports = portsFromLabels(info.Config?.Labels)
  if (ports.length) out.ports = ports
  return out
}

/** A list row, or undefined when it is not a complete meshlet container of `meshletDid` (when given). */
export function infoFromRow(row: Docker.ContainerInfo, meshletDid?: Did): ContainerInfo | undefined {
  const labels = labelsFromInfo(row.Labels)
  // The engine filtered already; this re-check guards against a half-labelled container.
  if (!labels || (meshletDid !== undefined && labels.meshletDid !== meshletDid)) return undefined
  const state = toState(row.State)
  const info: ContainerInfo = { id: row.Id, name: (row.Names?.[0] ?? '').replace(/^\//, ''), image: row.Image, state, labels }
  const exit = /^Exited \((-?\d+)\)/.exec(row.Status ?? '')
  if (exit) info.exitCode = Number(exit[1])
  const ports = portsFromLabels(row.Labels)
  if (ports.length) info.ports = ports
  return info
}

export function toContainerEvent(raw: unknown): ContainerEvent | undefined {
  if (!raw || typeof raw !== 'object') return undefined
  const e = raw as { Type?: unknown; Action?: unknown; status?: unknown; id?: unknown; Actor?: { ID?: unknown; Attributes?: unknown } }
  if (e.Type !== undefined && e.Type !== 'container') return undefined
  const action = typeof e.Action === 'string' ? e.Action : typeof e.status === 'string' ? e.status : undefined
  if (!action || !WATCHED_ACTIONS.includes(action as ContainerEvent['action'])) return undefined
  const id = typeof e.Actor?.ID === 'string' ? e.Actor.ID : typeof e.id === 'string' ? e.id : undefined
  if (!id) return undefined
  const attrs = e.Actor?.Attributes && typeof e.Actor.Attributes === 'object' ? (e.Actor.Attributes as Record<string, string>) : undefined
  const labels = labelsFromInfo(attrs)
  if (!labels) return undefined
  const out: ContainerEvent = { id, action: action as ContainerEvent['action'], labels }
  if (action === 'die' && attrs?.exitCode !== undefined && /^-?\d+$/.test(attrs.exitCode)) out.exitCode = Number(attrs.exitCode)
  return out
}
