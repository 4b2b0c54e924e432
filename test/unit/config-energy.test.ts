// --watts-per-core / --kwh-price (issue 15) on `meshlet run`, `meshlet appview` and `meshlet advise`:
// exact decimals, a clear line naming flag and env var for a bad value, a price alone refused.
import { describe, expect, test } from 'vitest'
import { loadEnergyOptions, readRunOptions, toRunConfig } from '../../src/config.js'
import { appviewOptionsFrom } from '../../src/appview.js'
import { runAdvise } from '../../src/client/advise-command.js'

const RUN = ['--did', 'did:plc:m', '--owner', 'did:plc:o', '--password', 'x', '--allow-http']

describe('energy options', () => {
  test('meshlet run: parsed exactly, from the flag or MESHLET_*', () => {
    const cfg = toRunConfig(readRunOptions([...RUN, '--watts-per-core', '7.5', '--kwh-price', '0.32 EUR'], {}))
    expect(cfg.wattsPerCore).toEqual({ units: 75n, scale: 1 })
    expect(cfg.kwhPrice).toEqual({ price: { units: 32n, scale: 2 }, currency: 'EUR' })
    expect(toRunConfig(readRunOptions(RUN, { MESHLET_WATTS_PER_CORE: '12' })).wattsPerCore).toEqual({ units: 12n, scale: 0 })
    expect(toRunConfig(readRunOptions(RUN, {})).wattsPerCore).toBeUndefined()
  })

  test.each([
    [['--watts-per-core', '1e3'], /--watts-per-core \(MESHLET_WATTS_PER_CORE\) must be a number like 12 or 0\.32/],
    [['--watts-per-core', '12', '--kwh-price', 'cheap'], /--kwh-price \(MESHLET_KWH_PRICE\) must be a price per kWh like 0\.32/],
    [['--kwh-price', '0.32'], /--kwh-price \(MESHLET_KWH_PRICE\) needs --watts-per-core/],
  ])('meshlet run %j is refused with one line', (flags, why) => {
    expect(() => toRunConfig(readRunOptions([...RUN, ...flags], {}))).toThrow(why)
  })

  test('meshlet appview and meshlet advise take the same flags, checked the same way', async () => {
    expect(appviewOptionsFrom(['--members', 'did:plc:a', '--watts-per-core', '12', '--kwh-price', '$0.15']).energy).toEqual({ wattsPerCore: { units: 12n, scale: 0 }, kwhPrice: { units: 15n, scale: 2 }, currency: '$' })
    expect(appviewOptionsFrom(['--members', 'did:plc:a']).energy).toBeUndefined()
    expect(() => appviewOptionsFrom(['--members', 'did:plc:a', '--kwh-price', '0.3'])).toThrow(/needs --watts-per-core/)
    expect(loadEnergyOptions({}, { MESHLET_WATTS_PER_CORE: '5', MESHLET_KWH_PRICE: '0.2' })).toEqual({ wattsPerCore: { units: 5n, scale: 0 }, kwhPrice: { units: 2n, scale: 1 } })
    const res = await runAdvise(['did:plc:a', '--watts-per-core', 'lots'], {})
    expect(res.code).toBe(2)
    expect(res.text).toMatch(/--watts-per-core \(MESHLET_WATTS_PER_CORE\) must be a number/)
  })
})
