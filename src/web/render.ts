// The web view's HTML (issue 15): server-rendered from CommuneSnapshot / WorkloadDetail, readable
// without JS and on a phone; app.js swaps <main> for a fresh render when records arrive. Every value
// from a record goes through html`` (html.ts), which escapes it.
import type { CommuneSnapshot, MeshletRow, WorkloadDetail, WorkloadRow, BalanceRow } from '../services/commune-snapshot.js'
import type { FeedItem } from '../services/record-feed.js'
import { html, href, type SafeHtml } from './html.js'
import { energyText } from '../core/energy.js'

/** A DID short enough for a phone: the method and the first characters of its id. */
export function shortDid(did: string): string {
  const m = /^did:([a-z]+):(.+)$/.exec(did)
  if (!m) return did
  return m[2]!.length > 10 ? `${m[1]}:${m[2]!.slice(0, 8)}…` : `${m[1]}:${m[2]}`
}

const did = (d: string) => html`<code class="did" title="${d}">${shortDid(d)}</code>`

/** Who looks at the page: whether this server offers owner sign-in, and who signed in (owner-oauth.ts). */
export interface Viewer {
  signIn: boolean
  owner?: { did: string; handle: string }
}

function account(v: Viewer | undefined): SafeHtml {
  if (v?.owner) return html`<span class="account">signed in as <b class="signed-in" data-did="${v.owner.did}">${v.owner.handle}</b> <form method="post" action="/oauth/logout" class="inline"><button type="submit">sign out</button></form></span>`
  if (v?.signIn) return html`<form method="get" action="/oauth/login" class="inline signin"><input name="handle" placeholder="your handle" aria-label="your handle" autocomplete="username" required> <button type="submit">sign in</button></form>`
  return html``
}

/** The signed-in owner's publish form: outside <main>, so live refreshes do not wipe what they type. */
function publishForm(v: Viewer | undefined): SafeHtml {
  if (!v?.owner) return html``
  return html`<section class="owner-actions"><h2>Publish a workload <span class="muted">to your repo, as ${v.owner.handle}</span></h2>
<form method="post" action="/oauth/publish" class="publish">
<label>name <input name="name" required maxlength="64" pattern="[a-z0-9][a-z0-9-]*"></label>
<label>image <input name="image" required placeholder="docker.io/library/nginx:1.27"></label>
<label>command <input name="command" placeholder="sleep 3600"></label>
<label>replicas <input name="replicas" type="number" min="1" max="32" value="1"></label>
<label>CPU (millicores) <input name="cpuMillis" type="number" min="1" value="100"></label>
<label>memory (MiB) <input name="memoryMb" type="number" min="4" value="64"></label>
<button type="submit">publish</button></form></section>`
}

export function page(title: string, main: SafeHtml, opts: { servedBy: CommuneSnapshot['servedBy']; view: 'commune' | 'workload'; uri?: string; viewer?: Viewer; ownerPanel?: SafeHtml }): string {
  const who = opts.servedBy.kind === 'peer' ? html`served by meshlet ${did(opts.servedBy.meshlet ?? '')}` : html`standalone appview (read-only)`
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="/assets/app.css"></head>
<body data-view="${opts.view}" data-uri="${opts.uri ?? ''}">
<header><a href="/" class="brand">meshlet</a> <span class="who">${who}</span> <span id="live" class="live" data-state="connecting">connecting…</span> ${account(opts.viewer)}</header>
${opts.view === 'commune' ? publishForm(opts.viewer) : (opts.ownerPanel ?? '')}<main id="main">${main}</main>
<footer>Records are public AT records; this page shows them as this ${opts.servedBy.kind} sees them. JSON: <a href="/api/commune">/api/commune</a></footer>
<script src="/assets/app.js" defer></script>
</body></html>
`.value
}

function bar(used: number, total: number | undefined, unit: string): SafeHtml {
  if (!total) return html`<span class="muted">${used} ${unit} committed</span>`
  const pct = Math.min(100, Math.round((used * 100) / total))
  return html`<span class="bar" title="${used} of ${total} ${unit}"><span style="width:${pct}%"></span></span> <span class="num">${used}/${total} ${unit}</span>`
}

function age(sec: number | undefined): string {
  if (sec === undefined) return 'never'
  if (sec < 90) return `${sec} s ago`
  if (sec < 5400) return `${Math.round(sec / 60)} min ago`
  return `${Math.round(sec / 3600)} h ago`
}

function meshletCard(m: MeshletRow): SafeHtml {
  return html`<article class="card meshlet" data-meshlet="${m.did}" data-state="${m.state}" data-verified="${String(m.verified)}">
<h3>${did(m.did)} <span class="badge ${m.state.replace(' ', '-')}">${m.state}</span></h3>
<p class="owner">owner ${did(m.owner)}</p>
<p>${m.verified ? html`<span class="ok">verified</span>` : html`<span class="bad">not verified</span>: <span class="why">${m.problem}</span>`}</p>
<p>CPU ${bar(m.cpuMillisUsed, m.cpuMillis, 'm')}<br>memory ${bar(m.memoryMbUsed, m.memoryMb, 'MiB')}</p>
<p>heartbeat ${age(m.heartbeatAgeSec)}${m.version ? html` · v${m.version}` : ''}</p>
<p class="chips">${m.roles.map((r) => html`<span class="chip role">${r}</span>`)}${m.labels.map((l) => html`<span class="chip">${l}</span>`)}${m.capabilities.map((c) => html`<span class="chip cap">${c}</span>`)}</p>
${m.runs.length ? html`<ul class="runs">${m.runs.slice(0, RUNS_SHOWN).map((r) => html`<li><a href="${href('/workload', { uri: r.uri })}">${r.name}</a> <span class="state s-${r.state}">${r.state}</span>${r.replica !== undefined ? html` #${r.replica}` : ''}</li>`)}${m.runs.length > RUNS_SHOWN ? html`<li class="muted more">and ${m.runs.length - RUNS_SHOWN} more</li>` : ''}</ul>` : html`<p class="muted">runs nothing</p>`}
</article>`
}

function holders(w: WorkloadRow): SafeHtml {
  if (!w.holders.length) return html`<span class="muted">none</span>`
  return html`${w.holders.map((h) => html`<span class="holder" data-holder="${h.meshlet}">${did(h.meshlet)} <span class="state s-${h.state}">${h.state}</span></span> `)}`
}

/** Delete, for the signed-in owner's own workloads only (the server checks again: owner-oauth.ts). */
function actions(w: WorkloadRow, owner: string): SafeHtml {
  if (w.owner !== owner) return html`<td></td>`
  return html`<td><form method="post" action="/oauth/delete" class="inline delete"><input type="hidden" name="uri" value="${w.uri}"><button type="submit" class="danger">delete</button></form></td>`
}

// A large commune's page stays light (bench/web-render.ts, BENCHMARKS §14): every live update
// replaces <main>, so its size is what each update costs the browser. Workloads come a page at a
// time (newest first, ?page=N kept across live refreshes) and a meshlet card names its first runs.
export const WORKLOADS_PER_PAGE = 50
export const RUNS_SHOWN = 8

/** The page of workloads asked for (1-based, clamped), and the pager under the table. */
function pageOf(ws: WorkloadRow[], pageNo: number): { rows: WorkloadRow[]; pager: SafeHtml } {
  const pages = Math.max(1, Math.ceil(ws.length / WORKLOADS_PER_PAGE))
  const p = Math.min(Math.max(1, pageNo), pages)
  const rows = ws.slice((p - 1) * WORKLOADS_PER_PAGE, p * WORKLOADS_PER_PAGE)
  if (pages === 1) return { rows, pager: html`` }
  const link = (n: number, text: string) => html`<a href="${href('/', { page: String(n) })}" rel="${n < p ? 'prev' : 'next'}">${text}</a>`
  return {
    rows,
    pager: html`<nav class="pager" data-page="${p}" data-pages="${pages}">${p > 1 ? link(p - 1, '← newer') : ''} workloads ${(p - 1) * WORKLOADS_PER_PAGE + 1}–${(p - 1) * WORKLOADS_PER_PAGE + rows.length} of ${ws.length} (page ${p} of ${pages}) ${p < pages ? link(p + 1, 'older →') : ''}</nav>`,
  }
}

function workloadRows(all: WorkloadRow[], owner?: string, pageNo = 1): SafeHtml {
  if (!all.length) return html`<p class="muted">No workloads yet. Publish one from any AT client (<code>meshlet submit</code>).</p>`
  const { rows: ws, pager } = pageOf(all, pageNo)
  return html`<table class="workloads"><thead><tr><th>name</th><th>owner</th><th>state</th><th>holders</th><th>image</th>${owner ? html`<th></th>` : ''}</tr></thead><tbody>
${ws.map((w) => html`<tr data-workload="${w.uri}" data-summary="${w.summary}"><td><a href="${href('/workload', { uri: w.uri })}" class="wname">${w.name}</a><br><span class="muted">${w.kind} · ${w.replicas} replica${w.replicas === 1 ? '' : 's'}</span></td><td>${did(w.owner)}</td><td><span class="state s-${w.summary}">${w.summary}</span></td><td>${holders(w)}</td><td><code>${w.image}</code></td>${owner ? actions(w, owner) : ''}</tr>`)}
</tbody></table>${pager}`
}

/** A line of the owner's balance over the last hours (inline SVG, no library). */
function spark(b: BalanceRow): SafeHtml {
  const vals = b.history.map((h) => Number(h.balance))
  const max = Math.max(1, ...vals.map(Math.abs))
  const w = 120
  const h = 28
  const pts = vals.map((v, i) => `${Math.round((i * w) / Math.max(1, vals.length - 1))},${Math.round(h / 2 - (v / max) * (h / 2 - 2))}`).join(' ')
  return html`<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="balance over the last ${b.history.length} hours"><line x1="0" y1="${h / 2}" x2="${w}" y2="${h / 2}" class="zero"/><polyline points="${pts}"/></svg>`
}

function ledger(bs: BalanceRow[]): SafeHtml {
  const energy = bs.some((b) => b.energy) // appview (issue 15): --watts-per-core
  return html`<table class="ledger"><thead><tr><th>owner</th><th>contributed</th><th>consumed</th><th>balance</th><th>last 24 h</th>${energy ? html`<th>energy contributed</th><th>energy consumed</th>` : ''}</tr></thead><tbody>
${bs.map((b) => html`<tr data-owner="${b.owner}"><td>${did(b.owner)}</td><td class="num">${b.contributed}</td><td class="num">${b.consumed}</td><td class="num ${b.balance.startsWith('-') ? 'bad' : 'ok'}">${b.balance}</td><td>${spark(b)}</td>${energy ? html`<td class="num energy-contributed">${b.energy ? energyText(b.energy.contributed) : ''}</td><td class="num energy-consumed">${b.energy ? energyText(b.energy.consumed) : ''}</td>` : ''}</tr>`)}
</tbody></table><p class="muted">Unit-seconds (1 unit = 1 CPU core or 1 GiB), decayed; a running replica counts to the end of its lease.${energy ? ' Energy: the CPU core-time behind it (undecayed, the ledger\'s whole window) at the configured watts per core and price.' : ''}</p>`
}

function advice(a: CommuneSnapshot['advice']): SafeHtml {
  if (a.demands === 0) return html`<p class="muted">Nothing waited more than a minute past its bid window: the commune had what its work needed.</p>`
  return html`<p>${a.demands} replica${a.demands === 1 ? '' : 's'} waited (${a.unitSeconds} unit-seconds).${a.lacks.length ? html` Declined for: ${a.lacks.map((l, i) => html`${i ? ', ' : ''}<b>${l.reason}</b> (${l.demands})`)}.` : ''}</p>
<ul class="advice">${a.machines.map((m) => html`<li data-machine="${m.machine}">one more machine with ${m.machine} would have run <b>${m.percent} %</b> of it</li>`)}</ul>`
}

export function feedItem(f: FeedItem): SafeHtml {
  const coll = f.collection.replace(/^commune\.scheduler\./, '')
  return html`<li data-seq="${f.seq}"><time>${new Date(f.at).toISOString().slice(11, 19)}</time> <span class="op op-${f.op}">${f.op}</span> ${coll} ${did(f.did)}${f.reason ? html` <span class="bad">${f.reason}</span>` : ''}</li>`
}

export function communeMain(s: CommuneSnapshot, feed: FeedItem[], owner?: string, pageNo = 1): SafeHtml {
  return html`<section><h2>Meshlets <span class="muted">${s.meshlets.length} of ${s.owners.length} owner${s.owners.length === 1 ? '' : 's'}</span></h2>
<div class="cards">${s.meshlets.map(meshletCard)}</div>
${s.problems.length ? html`<details class="problems" open><summary>${s.problems.length} link${s.problems.length === 1 ? '' : 's'} not verified</summary><ul>${s.problems.map((p) => html`<li>${did(p.did)}: ${p.reason}</li>`)}</ul></details>` : ''}
</section>
<section><h2>Workloads <span class="muted">${s.workloads.length}</span></h2>${workloadRows(s.workloads, owner, pageNo)}
${s.rejected.length ? html`<h3>Rejected records</h3><ul class="rejected">${s.rejected.map((r) => html`<li><code>${r.uri}</code>: <span class="bad">${r.reason}</span></li>`)}</ul>` : ''}
</section>
<section><h2>Ledger</h2>${ledger(s.balances)}</section>
<section><h2>What the commune lacked</h2>${advice(s.advice)}</section>
<section><h2>Live feed</h2><ul id="feed" class="feed">${feed.map(feedItem)}</ul></section>
<p class="muted small">as of <time id="asof">${s.generatedAt}</time></p>`
}

export function workloadMain(d: WorkloadDetail): SafeHtml {
  const e = d.explanation
  const w = d.workload
  const outcomes = d.peer?.bids.length ? d.peer.bids : e.outcomes
  return html`<p><a href="/">← commune</a></p>
<h2>${w ? w.name : 'workload'} ${w ? html`<span class="state s-${w.summary}">${w.summary}</span>` : ''}</h2>
<p><code class="uri">${e.uri}</code></p>
${e.rejection ? html`<p class="bad">rejected: ${e.rejection}</p>` : ''}
${w ? html`<p>${w.kind} · ${w.replicas} replica${w.replicas === 1 ? '' : 's'} · <code>${w.image}</code> · owner ${did(w.owner)}</p>
<h3>Holders</h3>${w.holders.length ? html`<ul class="holders">${w.holders.map((h) => html`<li class="holder" data-holder="${h.meshlet}">${did(h.meshlet)} <span class="state s-${h.state}">${h.state}</span>${h.replica !== undefined ? html` #${h.replica}` : ''} <span class="muted">${h.message ?? ''}</span></li>`)}</ul>` : html`<p class="muted">none yet${e.queued ? ' (queued: no meshlet can take it now)' : ''}</p>`}` : ''}
${d.peer?.problem ? html`<p class="bad">${d.peer.problem}</p>` : ''}
<h3>Why each meshlet won or lost</h3>
${outcomes.length ? html`<table class="outcomes"><thead><tr><th>meshlet</th><th>outcome</th><th>priority</th><th>why</th></tr></thead><tbody>${outcomes.map((o) => html`<tr data-outcome="${o.outcome}" data-meshlet="${o.meshlet}"><td>${did(o.meshlet)}</td><td><span class="state s-${o.outcome}">${o.outcome}</span></td><td class="num">${o.priority ?? ''}</td><td class="why">${o.reason}</td></tr>`)}</tbody></table>` : html`<p class="muted">no bids yet</p>`}
<h3>Bids, checked</h3>
${e.bids.length ? html`<table class="bids"><thead><tr><th>meshlet</th><th>published</th><th>valid</th><th>recomputed</th></tr></thead><tbody>${e.bids.map((b) => html`<tr data-meshlet="${b.meshlet}" data-verified="${String(b.verified)}"><td>${did(b.meshlet)}</td><td class="num">${b.decline !== undefined ? html`<span class="muted">declined: ${b.decline}</span>` : b.priority}</td><td>${b.verified ? html`<span class="ok">valid</span>` : html`<span class="bad">invalid: ${b.problem ?? ''}</span>`}</td><td class="num">${b.recomputed ? `${b.recomputed.priority} (fair share ${b.recomputed.fairShare}, fit ${b.recomputed.fit}, balance ${b.recomputed.balance})` : ''}</td></tr>`)}</tbody></table>` : html`<p class="muted">none</p>`}
${e.excluded.length ? html`<h3>Not eligible</h3><ul>${e.excluded.map((x) => html`<li>${did(x.meshlet)}: ${x.reason}</li>`)}</ul>` : ''}
<h3>Balances at its epoch</h3><table class="ledger"><tbody>${e.balances.map((b) => html`<tr><td>${did(b.owner)}</td><td class="num">${b.balance}</td></tr>`)}</tbody></table>
<p class="muted small">${e.liveness}</p>`
}
