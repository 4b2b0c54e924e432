// Owner actions on the web view beyond publish/delete (issue 15): change a workload's record, stop,
// pause or resume its replicas, and evict a guest's workload from one of the owner's own meshlets.
// A change is a putRecord of the same rkey in the owner's repo (the OAuth session's Agent, checked
// against the lexicon as `meshlet submit` checks a file). The rest are XRPC calls on meshlets, as the
// CLI makes them (client/meshlet-commands.ts, client/evict-command.ts), with a service auth token the
// OAuth session mints at the owner's PDS (com.atproto.server.getServiceAuth, aud = the meshlet,
// lxm = the method; `transition:generic` allows any non-chat lxm). Every route checks ownership
// on the server: the page showing a button only to the owner is a courtesy, not the check.
//   POST /oauth/change   uri, image, command, replicas, cpuMillis, memoryMb
//   POST /oauth/stop | /oauth/pause | /oauth/resume   uri
//   POST /oauth/evict    uri, meshlet (one of the signed-in owner's meshlets)
import type { IdResolver } from '@atproto/identity'
import express from 'express'
import type { AtUri, Did } from '../core/types.js'
import { NSID } from '../core/types.js'
import { describeCallError } from '../client/context.js'
import { MeshletClient } from '../client/meshlet-client.js'
import { parseWorkloadFile } from '../client/submit.js'
import { describeError } from '../errors.js'
import { html, href } from './html.js'
import { OwnerOAuthError, PLAIN_PAGE_HEADERS, problemPage, sameOriginCheck, signedInOwner, type Owner, type OwnerOAuth } from './owner-oauth.js'

export interface OwnerActionsDeps {
  /** The verified owner of a meshlet, as this peer's cluster view says (undefined: not a verified meshlet). */
  ownerOf: (meshlet: Did) => Did | undefined
  /** The workload's replicas as this peer sees them (control.workloadStatus); throws when it is unknown. */
  replicas: (uri: AtUri) => readonly { meshlet: string; state: string }[]
  idResolver: IdResolver
  /** Dev networks: meshlet endpoints over plain http. */
  allowHttp: boolean
}

export type ReplicaVerb = 'stop' | 'pause' | 'resume'

/** Which replica states each verb acts on, and the call: as `meshlet pause|resume|stop` (REPLICA_ACTIONS). */
const VERBS: Record<ReplicaVerb, { targets: readonly string[]; past: string; call: (c: MeshletClient, m: Did, uri: AtUri) => Promise<{ state: string }> }> = {
  stop: { targets: ['pending', 'pulling', 'starting', 'running', 'paused'], past: 'stopped', call: (c, m, uri) => c.stopWorkload(m, uri) },
  pause: { targets: ['running'], past: 'paused', call: (c, m, uri) => c.pauseWorkload(m, uri) },
  resume: { targets: ['paused'], past: 'resumed', call: (c, m, uri) => c.resumeWorkload(m, uri) },
}

/** A workload URI split, or a clear 400. */
export function workloadUri(uri: unknown): { uri: AtUri; repo: string; rkey: string } {
  const m = typeof uri === 'string' ? /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri) : null
  if (!m || m[2] !== NSID.workload) throw new OwnerOAuthError('uri must be the at:// URI of a workload')
  return { uri: uri as AtUri, repo: m[1]!, rkey: m[3]! }
}

/** The owner's own workload, or 403: an owner changes, stops, pauses and resumes only their own. */
export function ownWorkload(owner: Owner, uri: unknown, verb: string): { uri: AtUri; rkey: string } {
  const w = workloadUri(uri)
  if (w.repo !== owner.did) throw new OwnerOAuthError(`that workload is not yours: only its owner ${w.repo} may ${verb} it`, 403)
  return w
}

/**
 * The change form applied to the current record: the fields the form shows replace theirs, every
 * other field (health, ports, volumes, constraints...) is kept; then checked like a submitted file.
 * An empty command removes it (the image's own). Pure, for tests.
 */
export function changedWorkload(current: Record<string, unknown>, form: Record<string, unknown>, now: Date): Record<string, unknown> {
  const str = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : '')
  const int = (k: string) => {
    const s = str(k)
    if (!/^\d{1,9}$/.test(s)) throw new OwnerOAuthError(`${k} must be a whole number, got ${JSON.stringify(s)}`)
    return Number(s)
  }
  const { command: _old, ...rest } = current
  const command = str('command')
  const resources = typeof current.resources === 'object' && current.resources !== null ? (current.resources as Record<string, unknown>) : {}
  const next = {
    ...rest,
    image: str('image'),
    ...(command ? { command: command.split(/\s+/) } : {}),
    replicas: int('replicas'),
    resources: { ...resources, cpuMillis: int('cpuMillis'), memoryMb: int('memoryMb') },
  }
  try {
    return parseWorkloadFile(JSON.stringify(next), 'form.json', now)
  } catch (err) {
    throw new OwnerOAuthError(describeError(err).replace(/^form\.json:\s*/, ''), 400, { cause: err })
  }
}

/** A page saying what was done on each meshlet, with the way back to the workload. */
function resultPage(res: express.Response, uri: AtUri, lines: { meshlet: string; text: string; ok: boolean }[]): void {
  const status = lines.length > 0 && lines.every((l) => !l.ok) ? 502 : 200
  res
    .status(status)
    .set(PLAIN_PAGE_HEADERS)
    .type('text/html; charset=utf-8')
    .send(
      html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>meshlet · done</title><link rel="stylesheet" href="/assets/app.css"></head><body><main><ul id="result">${lines.map((l) => html`<li class="${l.ok ? 'ok' : 'bad'}" data-meshlet="${l.meshlet}">${l.text}</li>`)}</ul><p><a id="back" href="${href('/workload', { uri })}">← the workload</a> · <a href="/">commune</a></p></main></body></html>`.value,
    )
}

export function mountOwnerActions(app: express.Express, oauth: OwnerOAuth, deps: OwnerActionsDeps): void {
  const form = express.urlencoded({ extended: false, limit: '16kb' })
  const sameOrigin = sameOriginCheck(oauth)
  const body = (req: express.Request) => (req.body ?? {}) as Record<string, unknown>
  // A client per request: its token cache is per caller, and a token is minted per call anyway (procedures are single-use).
  const client = async (owner: Owner) => new MeshletClient({ agent: await oauth.agentFor(owner), idResolver: deps.idResolver, allowInsecureHttp: deps.allowHttp, timeoutMs: 30_000 })

  app.post('/oauth/change', sameOrigin, form, async (req, res) => {
    try {
      const owner = signedInOwner(oauth, req)
      const { uri, rkey } = ownWorkload(owner, body(req).uri, 'change')
      const agent = await oauth.agentFor(owner)
      const cur = await agent.com.atproto.repo.getRecord({ repo: owner.did, collection: NSID.workload, rkey }).catch((err: unknown) => {
        throw new OwnerOAuthError(`cannot read ${uri} from your repo: ${describeError(err)}`, 404, { cause: err })
      })
      // The version the form was filled from (hidden cid): a record changed since (elsewhere, or a save
      // whose new version this page had not seen yet) is refused rather than overwritten with stale values.
      const seen = typeof body(req).cid === 'string' && body(req).cid !== '' ? (body(req).cid as string) : cur.data.cid
      if (seen && cur.data.cid && seen !== cur.data.cid) throw new OwnerOAuthError(`${uri} changed since this page was loaded (it is now version ${cur.data.cid}); reload the page and make your change again`, 409)
      const record = changedWorkload(cur.data.value as Record<string, unknown>, body(req), new Date())
      await agent.com.atproto.repo.putRecord({ repo: owner.did, collection: NSID.workload, rkey, record, ...(seen ? { swapRecord: seen } : {}) })
      res.redirect(303, href('/workload', { uri, changed: '1' }))
    } catch (err) {
      problemPage(res, err)
    }
  })

  for (const verb of Object.keys(VERBS) as ReplicaVerb[]) {
    app.post(`/oauth/${verb}`, sameOrigin, form, async (req, res) => {
      try {
        const owner = signedInOwner(oauth, req)
        const { uri } = ownWorkload(owner, body(req).uri, verb)
        const v = VERBS[verb]
        let replicas: readonly { meshlet: string; state: string }[]
        try {
          replicas = deps.replicas(uri)
        } catch (err) {
          throw new OwnerOAuthError(`this meshlet does not know ${uri}: ${describeError(err)}`, 404, { cause: err })
        }
        const on = [...new Set(replicas.filter((r) => v.targets.includes(r.state)).map((r) => r.meshlet as Did))]
        if (on.length === 0) throw new OwnerOAuthError(`no replica to ${verb} (replicas: ${replicas.map((r) => `${r.state} on ${r.meshlet}`).join(', ') || 'none placed'})`, 409)
        const c = await client(owner)
        const lines = await Promise.all(
          on.map(async (m) => {
            try {
              return { meshlet: m, ok: true, text: `${v.past} on ${m} (now ${(await v.call(c, m, uri)).state})${verb === 'stop' ? '; the next meshlet that bid takes the replica over, delete the workload to stop it everywhere' : ''}` }
            } catch (err) {
              return { meshlet: m, ok: false, text: `${verb} on ${m} failed: ${describeCallError(err)}` }
            }
          }),
        )
        resultPage(res, uri, lines)
      } catch (err) {
        problemPage(res, err)
      }
    })
  }

  app.post('/oauth/evict', sameOrigin, form, async (req, res) => {
    try {
      const owner = signedInOwner(oauth, req)
      const { uri } = workloadUri(body(req).uri)
      const meshlet = body(req).meshlet
      if (typeof meshlet !== 'string' || !meshlet.startsWith('did:')) throw new OwnerOAuthError('choose one of your meshlets to evict it from')
      const machineOwner = deps.ownerOf(meshlet as Did)
      if (machineOwner !== owner.did) throw new OwnerOAuthError(`${meshlet} is not your meshlet (${machineOwner ? `its owner is ${machineOwner}` : 'it is no verified meshlet'}): only a meshlet's owner may evict from it`, 403)
      const r = await (await client(owner)).evictWorkload(meshlet as Did, uri).then(
        (x) => ({ meshlet, ok: true, text: `evicted from ${meshlet}: ${x.state === 'stopped' ? 'its replica there was stopped' : 'nothing of it ran there'}, and it is declined there from now on` }),
        (err: unknown) => ({ meshlet, ok: false, text: `evict on ${meshlet} failed: ${describeCallError(err)}` }),
      )
      resultPage(res, uri, [r])
    } catch (err) {
      problemPage(res, err)
    }
  })
}
