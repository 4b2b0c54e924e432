// Owner actions on the web view in a real browser (issue 15 part 2): a member signs in with their
// handle through atproto OAuth against the dev PDS (its own authorization pages), publishes a
// workload from the page's form, sees it run on the Docker engine and on the page, and deletes it
// from the page. The meshlet writes with the OAuth session; no app password enters the browser.
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
  c = await DevCommune.create({ members: [{ name: 'oan' }], leaseMs: 8000, bidWindowMs: 1000, firewallChain: 'MLOAUTH' })
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
