// Owner actions on the web view in a real browser (issue 15 part 2): a member signs in with their
// handle through atproto OAuth against the dev PDS (its own authorization pages), publishes a
// workload from the page's form, sees it run on the Docker engine and on the page, and deletes it
// from the page. The meshlet writes with the OAuth session; no app password enters the browser.
// Then, signed in: changes a workload's replicas (seen on the engine), pauses, resumes and stops it
// (XRPC on its holders with service tokens the OAuth session mints), evicts a guest's workload
// from the owner's meshlet, and is refused on another owner's workload and meshlet.
import { afterAll, beforeAll, expect, test } from 'vitest'
import fs from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { copiesOf, IMAGE } from '../helpers/faults.js'

const CHROMIUM = '/usr/bin/chromium'
const IMG = path.resolve(import.meta.dirname, '../../docs/img')

let c: DevCommune
let browser: Browser
let page: Page

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/setup-docker.sh installs it)`)
  // ogu: a guest whose work runs on oan's meshlet, and whose own meshlet holds oan's second replica.
  c = await DevCommune.create({ members: [{ name: 'oan' }, { name: 'ogu' }], leaseMs: 8000, bidWindowMs: 1000, firewallChain: 'MLOAUTH' })
  const [, b] = await Promise.all([c.startAll(), chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })])
  browser = b
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  fs.mkdirSync(IMG, { recursive: true })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await c?.close()
})

test('an owner signs in with OAuth, publishes a workload from the page, sees it run, and deletes it', async () => {
  const m = c.member('oan')
  const peer = m.peer!
  await page.goto(`${peer.url}/`)
  // Not signed in: a sign-in form, no publish form, no delete buttons.
  expect(await page.locator('form.publish').count()).toBe(0)
  await page.fill('form.signin input[name=handle]', m.owner.handle)
  await page.click('form.signin button[type=submit]')

  // The PDS's own authorization pages: the password goes to the PDS, never to the meshlet.
  await page.waitForURL((u) => u.origin === new URL(m.owner.pds).origin, { timeout: 20_000 })
  const password = page.locator('input[type=password]')
  await password.waitFor({ timeout: 20_000 })
  await password.fill(m.owner.password)
  await password.press('Enter')
  await page.getByRole('button', { name: /^(accept|authorize|allow)$/i }).click({ timeout: 20_000 })

  // Back on the meshlet, signed in.
  await page.waitForURL((u) => u.origin === new URL(peer.url).origin, { timeout: 20_000 })
  await page.locator('.signed-in').waitFor({ timeout: 10_000 })
  expect(await page.locator('.signed-in').textContent()).toBe(m.owner.handle)
  expect(await page.locator('.signed-in').getAttribute('data-did')).toBe(m.owner.did)

  // Publish from the page's form.
  await page.fill('form.publish input[name=name]', 'oauth-web')
  await page.fill('form.publish input[name=image]', IMAGE)
  await page.fill('form.publish input[name=command]', 'sleep 3600')
  await page.fill('form.publish input[name=memoryMb]', '32')
  await page.click('form.publish button[type=submit]')
  await page.waitForURL((u) => u.searchParams.has('published'), { timeout: 20_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}; the page says: ${await page.locator('body').textContent()}`)
  })
  const uri = new URL(page.url()).searchParams.get('published')!
  expect(uri).toMatch(new RegExp(`^at://${m.owner.did}/commune\\.scheduler\\.workload/`))

  // It runs on the engine, and the page shows it running with a delete button.
  await waitFor(async () => (await copiesOf(uri)).some((x) => x.state === 'running'), { what: 'a running container', timeoutMs: 40_000 })
  const row = page.locator(`tr[data-workload="${uri}"]`)
  await waitFor(async () => (await row.getAttribute('data-summary').catch(() => null)) === 'running', { what: 'the row to say running', timeoutMs: 30_000 })
  await page.screenshot({ path: path.join(IMG, 'signed-in.png'), fullPage: true })

  // The server checks ownership itself, not just the page: another DID's workload is refused.
  const other = `at://${m.meshlet.did}/commune.scheduler.workload/x`
  const refused = await page.evaluate(async (uri) => {
    const r = await fetch('/oauth/delete', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `uri=${encodeURIComponent(uri)}` })
    return { status: r.status, text: await r.text() }
  }, other)
  expect(refused.status).toBe(403)
  expect(refused.text).toMatch(/not yours/)

  // Delete from the page: the record goes from the owner's repo and the container from the engine.
  await row.locator('form.delete button').click()
  await waitFor(async () => (await copiesOf(uri, true)).length === 0, { what: 'the container to go', timeoutMs: 40_000 })
  const gone = await m.owner.agent.com.atproto.repo.getRecord({ repo: m.owner.did, collection: 'commune.scheduler.workload', rkey: uri.split('/').pop()! }).then(() => false, () => true)
  expect(gone).toBe(true)
  await waitFor(async () => (await page.locator(`tr[data-workload="${uri}"]`).count()) === 0, { what: 'the row to go', timeoutMs: 20_000 })
}, 150_000)

test("a signed-in owner changes replicas, pauses, resumes and stops from the page, evicts a guest, and is refused on others' work", async () => {
  const m = c.member('oan')
  const guest = c.member('ogu')
  const peer = m.peer!
  const running = async (uri: string, meshlet?: string) => (await copiesOf(uri)).filter((x) => x.state === 'running' && (!meshlet || x.meshlet === meshlet))
  const result = async () => {
    await page.locator('#result, #problem').first().waitFor({ timeout: 30_000 })
    return (await page.locator('body').textContent()) ?? ''
  }
  const w = await c.publishWorkload(m, { name: 'oauth-change', image: IMAGE, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, constraints: { roles: ['worker'] } })
  await waitFor(async () => (await running(w.uri)).length === 1, { what: 'one replica running', timeoutMs: 40_000 })

  // Change: 1 -> 2 replicas from the workload's page; the record keeps its other fields.
  await page.goto(`${peer.url}/workload?uri=${encodeURIComponent(w.uri)}`)
  expect(await page.locator('form.change input[name=replicas]').inputValue()).toBe('1')
  await page.fill('form.change input[name=replicas]', '2')
  await page.click('form.change button[type=submit]')
  await page.waitForURL((u) => u.searchParams.get('changed') === '1', { timeout: 20_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}; the page says: ${await page.locator('body').textContent()}`)
  })
  const rec = (await m.owner.agent.com.atproto.repo.getRecord({ repo: m.owner.did, collection: 'commune.scheduler.workload', rkey: w.uri.split('/').pop()! })).data.value as Record<string, unknown>
  expect(rec).toMatchObject({ replicas: 2, image: IMAGE, command: ['sleep', '3600'], constraints: { roles: ['worker'] } })
  await waitFor(async () => new Set((await running(w.uri)).map((x) => x.meshlet)).size === 2, { what: 'two replicas running, one per meshlet', timeoutMs: 60_000 })
  // The form was filled from the old version: saving it again now is refused, not applied over the change.
  const stale = await page.evaluate(async (uri) => {
    const r = await fetch('/oauth/change', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ uri, cid: 'bafy-old-version', image: 'x', command: '', replicas: '1', cpuMillis: '100', memoryMb: '32' }).toString() })
    return { status: r.status, text: await r.text() }
  }, w.uri)
  expect(stale.status).toBe(409)
  expect(stale.text).toContain('changed since this page was loaded')
  await waitFor(async () => (await page.reload(), await page.locator('form.change input[name=replicas]').inputValue()) === '2', { what: 'the form to show the new version', timeoutMs: 30_000, intervalMs: 1000 })
  await page.screenshot({ path: path.join(IMG, 'owner-actions.png'), fullPage: true })

  // Pause, then resume, once this page's meshlet sees both replicas running under the new record.
  const states = () => peer.control.workloadStatus(w.uri as never).replicas.filter((r) => r.state !== 'stopped').map((r) => r.state)
  await waitFor(() => states().length === 2 && states().every((s) => s === 'running'), { what: 'the page meshlet to see two running replicas', timeoutMs: 30_000 })
  await page.click('form.pause button')
  const paused = await result()
  for (const holder of [m.meshlet.did, guest.meshlet.did]) expect(paused).toContain(`paused on ${holder}`)
  await waitFor(async () => (await copiesOf(w.uri)).filter((x) => x.state === 'paused').length === 2, { what: `both containers paused (${JSON.stringify(await copiesOf(w.uri))})`, timeoutMs: 30_000 })
  await waitFor(() => states().every((s) => s === 'paused'), { what: 'the page meshlet to see them paused', timeoutMs: 30_000 })
  await page.click('#back')
  await page.click('form.resume button')
  const resumed = await result()
  for (const holder of [m.meshlet.did, guest.meshlet.did]) expect(resumed).toContain(`resumed on ${holder}`)
  await waitFor(async () => (await running(w.uri)).length === 2, { what: 'both containers running again', timeoutMs: 30_000 })

  // Stop: both holders stop their replica; no meshlet takes it again (the owner stopped it).
  await waitFor(() => states().every((s) => s === 'running'), { what: 'the page meshlet to see them resumed', timeoutMs: 30_000 })
  await page.click('#back')
  await page.click('form.stop button')
  const stopped = await result()
  expect(stopped).toContain(`stopped on ${m.meshlet.did}`)
  expect(stopped).toContain(`stopped on ${guest.meshlet.did}`)
  await waitFor(async () => (await running(w.uri)).length === 0, { what: 'no container of it running', timeoutMs: 30_000 })

  // A guest's workload on oan's meshlet: the page offers eviction from oan's meshlets only.
  const g = await c.publishWorkload(guest, { name: 'guest-work', image: IMAGE, command: ['sleep', '3600'], replicas: 1, resources: { cpuMillis: 100, memoryMb: 32 }, constraints: { members: [m.owner.did] } })
  await waitFor(async () => (await running(g.uri, m.meshlet.did)).length === 1, { what: "the guest's replica on oan's meshlet", timeoutMs: 40_000 })
  await page.goto(`${peer.url}/workload?uri=${encodeURIComponent(g.uri)}`)
  expect(await page.locator('form.change').count()).toBe(0)
  const options = page.locator('form.evict select[name=meshlet] option')
  expect(await options.count()).toBe(1)
  expect(await options.getAttribute('value')).toBe(m.meshlet.did)

  // Refusals, checked by the server whatever the page shows: another owner's workload, another owner's meshlet.
  const post = (path: string, body: Record<string, string>) =>
    page.evaluate(
      async ([path, body]) => {
        const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() })
        return { status: r.status, text: await r.text() }
      },
      [path, body] as const,
    )
  const change = await post('/oauth/change', { uri: g.uri, image: IMAGE, command: '', replicas: '3', cpuMillis: '100', memoryMb: '32' })
  expect(change.status).toBe(403)
  expect(change.text).toContain(`that workload is not yours: only its owner ${guest.owner.did} may change it`)
  const stop = await post('/oauth/stop', { uri: g.uri })
  expect(stop.status).toBe(403)
  const evictOther = await post('/oauth/evict', { uri: g.uri, meshlet: guest.meshlet.did })
  expect(evictOther.status).toBe(403)
  expect(evictOther.text).toContain(`${guest.meshlet.did} is not your meshlet (its owner is ${guest.owner.did})`)
  expect(await running(g.uri, m.meshlet.did)).toHaveLength(1)

  // Evict from the page: the guest's container leaves oan's meshlet.
  await page.click('form.evict button[type=submit]')
  expect(await result()).toContain(`evicted from ${m.meshlet.did}: its replica there was stopped`)
  await waitFor(async () => (await running(g.uri, m.meshlet.did)).length === 0, { what: "the guest's container gone from oan's meshlet", timeoutMs: 30_000 })
  await c.deleteRecord(guest.owner.agent, g.uri)
  await c.deleteRecord(m.owner.agent, w.uri)
}, 240_000)
