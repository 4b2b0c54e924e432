// when (issue 14): a scheduled workload's latest runs as `meshlet status` shows them: for each of
// the last instants, who ran it and how it ended, or why it did not run (skipped, queued, lost).
import { CLAIM_STATES, type AtUri, type Workload } from '../core/types.js'
import { instantsBetween, runUri } from '../core/schedule.js'
import type { CommuneView } from '../core/view.js'
import type { RunView } from '../ports/control-plane.js'

export const RUN_HISTORY = 8

const ENDED = ['exited', 'failed']

export function runHistory(view: CommuneView, decisions: ReadonlyMap<AtUri, { phase: string; self?: { reason: string }; outcomes: { outcome: string; reason: string }[] }>, w: Workload, now: number, max = RUN_HISTORY): RunView[] {
  if (!w.schedule) return []
  const created = Date.parse(w.createdAt)
  return instantsBetween(w.schedule, created, now, max).map((t) => {
    const uri = runUri(w.uri, t)
    const statuses = view.statusesFor(uri).filter((s) => s.workload.cid === w.cid)
    const held = statuses.find((s) => ENDED.includes(s.state)) ?? statuses.find((s) => CLAIM_STATES.includes(s.state))
    const base = { instant: new Date(t).toISOString(), uri }
    if (held) return { ...base, state: held.state, meshlet: held.meshlet, ...(held.exitCode !== undefined ? { exitCode: held.exitCode } : {}), ...(held.message ? { message: held.message } : {}) }
    const d = decisions.get(uri)
    const why = d?.self?.reason ?? d?.outcomes.find((o) => o.outcome === 'declined' || o.outcome === 'lost')?.reason
    const state = why?.includes('skipped:') ? 'skipped' : why?.startsWith('lost:') ? 'lost' : d?.phase === 'queued' ? 'queued' : d?.phase === 'bidding' ? 'bidding' : 'none'
    return { ...base, state, ...(why ? { message: why } : {}) }
  })
}
