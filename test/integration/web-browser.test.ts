// The web view in a real browser (issue 15): Debian's chromium driven by playwright-core against a
// local commune of 3 real peers. The commune page lists the 3 meshlets with their state; a workload
// published by a plain AT client appears with its holders without a reload; the workload page says
// why a peer lost; the standalone appview (no account) shows the same holders as the peers.
// Screenshots go to docs/img/ (the README shows one).
import { afterAll, beforeAll, expect, test } from 'vitest'
import fs from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { DevCommune, waitFor } from '../../src/devnet/commune.js'
import { startAppview, type RunningAppview } from '../../src/appview.js'
import { sleeper } from '../helpers/faults.js'
import { runAdvise } from '../../src/client/advise-command.js'

const CHROMIUM = '/usr/bin/chromium'
const IMG = path.resolve(import.meta.dirname, '../../docs/img')

let c: DevCommune
let browser: Browser
let appview: RunningAppview
let page: Page

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/setup-docker.sh installs it)`)
  // cat offers too little memory for the workload: it declines, and the page says why.
  c = await DevCommune.create({ members: [{ name: 'ann' }, { name: 'ben' }, { name: 'cat', memoryMb: 48 }], leaseMs: 8000, firewallChain: 'MLAPPVW' })
  const [, b] = await Promise.all([c.startAll(), chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })])
  browser = b
  appview = await startAppview({ members: c.members.map((m) => m.owner.did), plc: c.net.plcUrl, port: 0, host: '127.0.0.1', allowHttp: true })
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  fs.mkdirSync(IMG, { recursive: true })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await appview?.close()
  await c?.close()
})

test('the commune page lists the 3 meshlets with their state', async () => {
  const peer = c.member('ann').peer!
  await page.goto(`${peer.url}/`)
  for (const m of c.members) {
    const card = page.locator(`.meshlet[data-meshlet="${m.meshlet.did}"]`)
    await card.waitFor({ timeout: 15_000 })
    expect(await card.getAttribute('data-verified')).toBe('true')
  }
  await waitFor(async () => (await page.locator('.meshlet[data-state="live"]').count()) === 3, { what: '3 live meshlets', timeoutMs: 20_000 })
  await page.locator('#live[data-state="live"]').waitFor({ timeout: 10_000 })
}, 60_000)

test('a workload published by a plain AT client appears with its holders without a reload, and its page says why a peer lost', async () => {
  // A marker on the window: a reload would lose it.
  await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42))
  const ref = await c.publishWorkload(c.member('ann'), sleeper('appview-web', { bidWindowMs: 1500, resources: { cpuMillis: 100, memoryMb: 64 } }))
  const row = page.locator(`tr[data-workload="${ref.uri}"]`)
  await row.locator('[data-holder]').first().waitFor({ timeout: 30_000 })
  await waitFor(async () => (await row.getAttribute('data-summary')) === 'running', { what: 'the row to say running', timeoutMs: 30_000 })
  expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42)
  const shown = await row.locator('[data-holder]').evaluateAll((els) => els.map((e) => e.getAttribute('data-holder')))
  expect(shown).toHaveLength(1)
  await page.screenshot({ path: path.join(IMG, 'commune.png'), fullPage: true })

  // Every peer agrees on that holder, and the standalone appview (no account) shows the same one.
  const holdersOf = (s: { workloads: { uri: string; holders: { meshlet: string }[] }[] }) => s.workloads.find((w) => w.uri === ref.uri)?.holders.map((h) => h.meshlet).join(',')
  await waitFor(() => c.peers().every((p) => holdersOf(p.snapshots.snapshot()) === shown.join(',')), { what: 'every peer to show the same holder', timeoutMs: 20_000 })
  await waitFor(async () => {
    await appview.processAll()
    return holdersOf(appview.snapshots.snapshot()) === shown.join(',')
  }, { what: 'the appview to show the same holder', timeoutMs: 20_000 })

  // The workload page: the winner, a loser and why, cat's decline and why.
  await row.locator('a.wname').click()
  await page.locator(`tr[data-outcome="won"][data-meshlet="${shown[0]}"]`).waitFor({ timeout: 15_000 })
  // The third meshlet (neither the winner nor cat) lost: its row says so and why. (Usually "lost:
  // rank 2 of 2"; on a loaded machine its bid may land after the window, and the row says that.)
  const third = c.members.map((m) => m.meshlet.did).find((d) => d !== shown[0] && d !== c.member('cat').meshlet.did)!
  const rows = () => page.locator('table.outcomes tbody tr').evaluateAll((trs) => trs.map((tr) => ({ meshlet: tr.getAttribute('data-meshlet'), outcome: tr.getAttribute('data-outcome'), why: tr.querySelector('.why')?.textContent ?? '' })))
  const lost = await waitFor(async () => (await rows()).find((r) => r.meshlet === third && r.outcome !== 'won' && r.why.trim().length > 5), {
    what: `a row saying why ${third} lost`,
    timeoutMs: 20_000,
  }).catch(async (err) => {
    throw new Error(`${(err as Error).message}; rows: ${JSON.stringify(await rows())}`)
  })
  expect(['lost', 'invalid', 'declined']).toContain(lost.outcome)
  const declined = page.locator(`tr[data-outcome="declined"][data-meshlet="${c.member('cat').meshlet.did}"] .why`)
  await declined.waitFor({ timeout: 15_000 })
  expect(await declined.textContent()).toMatch(/memory/)
  await page.screenshot({ path: path.join(IMG, 'workload.png'), fullPage: true })

  // The appview in the browser, on a phone-sized screen.
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
  await phone.goto(`${appview.url}/`)
  await phone.locator(`tr[data-workload="${ref.uri}"] [data-holder="${shown[0]}"]`).waitFor({ timeout: 15_000 })
  expect(await phone.locator('.who').textContent()).toMatch(/standalone appview/)
  await phone.screenshot({ path: path.join(IMG, 'appview-phone.png'), fullPage: false })
  await phone.close()

  // `meshlet advise` on the same public records: the workload started within its window, so nothing waited.
  const advice = await runAdvise([c.member('ann').owner.did, '--plc', c.net.plcUrl, '--allow-http'])
  expect(advice).toEqual({ code: 0, text: expect.stringMatching(/^0 replica\(s\) of 3 owner\(s\) waited;.*\nnothing waited/) })
  await c.deleteRecord(c.member('ann').owner.agent, ref.uri)
}, 90_000)
