// The signed-in owner's forms on a workload's page (issue 15; the routes are owner-actions.ts):
// change, stop, pause and resume for their own workload; evict from one of their own meshlets for a
// guest's. Outside <main>, so the live refresh does not wipe what they type. The server checks
// ownership again on every POST: which forms a person sees is a courtesy only.
import type { AtUri, Did, Workload } from '../core/types.js'
import { html, type SafeHtml } from './html.js'
import { shortDid } from './render.js'

export interface OwnerPanelDeps {
  workload: (uri: AtUri) => Workload | undefined
  /** The owner's verified meshlets. */
  meshletsOf: (owner: Did) => Did[]
}

const hidden = (uri: string) => html`<input type="hidden" name="uri" value="${uri}">`

export function ownerPanel(deps: OwnerPanelDeps, owner: { did: string; handle: string }, uri: AtUri): SafeHtml {
  const w = deps.workload(uri)
  if (!w) return html``
  if (w.owner === owner.did) {
    return html`<section class="owner-actions" id="owner-actions"><h2>Change <span class="muted">${w.name}, in your repo, as ${owner.handle}</span></h2>
<form method="post" action="/oauth/change" class="change">${hidden(uri)}<input type="hidden" name="cid" value="${w.cid}">
<label>image <input name="image" required value="${w.image}"></label>
<label>command <input name="command" value="${(w.command ?? []).join(' ')}" placeholder="the image's own"></label>
<label>replicas <input name="replicas" type="number" min="1" max="32" required value="${w.replicas}"></label>
<label>CPU (millicores) <input name="cpuMillis" type="number" min="1" required value="${w.resources.cpuMillis}"></label>
<label>memory (MiB) <input name="memoryMb" type="number" min="4" required value="${w.resources.memoryMb}"></label>
<button type="submit">save</button></form>
<p class="replica-actions">${(['stop', 'pause', 'resume'] as const).map((verb) => html`<form method="post" action="/oauth/${verb}" class="inline ${verb}">${hidden(uri)}<button type="submit"${verb === 'stop' ? html` class="danger"` : ''}>${verb}</button></form> `)}<span class="muted">stop, pause and resume act on the replicas where they run; delete the workload to stop it everywhere</span></p></section>`
  }
  const mine = deps.meshletsOf(owner.did as Did)
  if (mine.length === 0) return html``
  return html`<section class="owner-actions" id="owner-actions"><h2>Evict <span class="muted">a guest's workload from your meshlet</span></h2>
<form method="post" action="/oauth/evict" class="evict">${hidden(uri)}
<label>from <select name="meshlet">${mine.map((m) => html`<option value="${m}">${shortDid(m)}</option>`)}</select></label>
<button type="submit" class="danger">evict</button> <span class="muted">its replica there stops, and that meshlet declines it from now on</span></form></section>`
}
