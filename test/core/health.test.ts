import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { applyProbe, healthReport, httpStatusPasses, initialTrack, parseHealthCheck, unhealthyDecision, waitingMessage, type HealthCheckInput, type HealthTiming, type HealthTrack, type ProbeResult } from '../../src/core/health.js'

const T = 1_700_000_000_000
const timing: HealthTiming = { intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 5000 }
const fail = (reason = 'connection refused'): ProbeResult => ({ ok: false, reason })
const pass: ProbeResult = { ok: true }

describe('parseHealthCheck: the edge rules', () => {
  test.each<{ name: string; input: HealthCheckInput; reason: string }>([
    { name: 'unknown type', input: { type: 'grpc', port: 1 }, reason: 'health.type "grpc" is not one of http, tcp, exec' },
    { name: 'http without port', input: { type: 'http' }, reason: 'health.port is required for a http check' },
    { name: 'tcp without port', input: { type: 'tcp' }, reason: 'health.port is required for a tcp check' },
    { name: 'port 0', input: { type: 'tcp', port: 0 }, reason: 'health.port 0 is outside 1..65535' },
    { name: 'port 65536', input: { type: 'tcp', port: 65536 }, reason: 'health.port 65536 is outside 1..65535' },
    { name: 'fractional port', input: { type: 'tcp', port: 80.5 }, reason: 'health.port 80.5 is outside 1..65535' },
    { name: 'path without slash', input: { type: 'http', port: 80, path: 'health' }, reason: 'health.path "health" must start with "/", hold no whitespace or control characters and be at most 1024 characters' },
    { name: 'path with a space', input: { type: 'http', port: 80, path: '/a b' }, reason: 'health.path "/a b" must start with "/", hold no whitespace or control characters and be at most 1024 characters' },
    { name: 'path too long', input: { type: 'http', port: 80, path: '/' + 'a'.repeat(1024) }, reason: `health.path ${JSON.stringify('/' + 'a'.repeat(63))} must start with "/", hold no whitespace or control characters and be at most 1024 characters` },
    { name: 'expectStatus 99', input: { type: 'http', port: 80, expectStatus: 99 }, reason: 'health.expectStatus 99 is outside 100..599' },
    { name: 'expectStatus 600', input: { type: 'http', port: 80, expectStatus: 600 }, reason: 'health.expectStatus 600 is outside 100..599' },
    { name: 'exec without command', input: { type: 'exec' }, reason: 'health.command is required for an exec check (e.g. ["wget", "-q", "-O-", "http://127.0.0.1:8080/"])' },
    { name: 'exec with an empty command', input: { type: 'exec', command: [] }, reason: 'health.command is required for an exec check (e.g. ["wget", "-q", "-O-", "http://127.0.0.1:8080/"])' },
    { name: 'exec with an empty program', input: { type: 'exec', command: [''] }, reason: 'health.command is required for an exec check (e.g. ["wget", "-q", "-O-", "http://127.0.0.1:8080/"])' },
    { name: 'port on exec', input: { type: 'exec', command: ['true'], port: 80 }, reason: 'health.port does not apply to a exec check' },
    { name: 'command on tcp', input: { type: 'tcp', port: 80, command: ['true'] }, reason: 'health.command does not apply to a tcp check' },
    { name: 'path on tcp', input: { type: 'tcp', port: 80, path: '/' }, reason: 'health.path does not apply to a tcp check' },
    { name: 'command on http', input: { type: 'http', port: 80, command: ['x'] }, reason: 'health.command does not apply to a http check' },
    { name: 'interval 499', input: { type: 'tcp', port: 1, intervalMs: 499 }, reason: 'health.intervalMs 499 is outside 500..3600000' },
    { name: 'interval 3600001', input: { type: 'tcp', port: 1, intervalMs: 3_600_001 }, reason: 'health.intervalMs 3600001 is outside 500..3600000' },
    { name: 'timeout 99', input: { type: 'tcp', port: 1, timeoutMs: 99 }, reason: 'health.timeoutMs 99 is outside 100..60000' },
    { name: 'timeout 60001', input: { type: 'tcp', port: 1, timeoutMs: 60_001, intervalMs: 100_000 }, reason: 'health.timeoutMs 60001 is outside 100..60000' },
    { name: 'timeout longer than interval', input: { type: 'tcp', port: 1, timeoutMs: 1001, intervalMs: 1000 }, reason: 'health.timeoutMs 1001 is longer than health.intervalMs 1000' },
    { name: 'default timeout longer than a given interval', input: { type: 'tcp', port: 1, timeoutMs: 2000, intervalMs: 600 }, reason: 'health.timeoutMs 2000 is longer than health.intervalMs 600' },
    { name: 'retries 0', input: { type: 'tcp', port: 1, retries: 0 }, reason: 'health.retries 0 is outside 1..100' },
    { name: 'retries 101', input: { type: 'tcp', port: 1, retries: 101 }, reason: 'health.retries 101 is outside 1..100' },
    { name: 'start period -1', input: { type: 'tcp', port: 1, startPeriodMs: -1 }, reason: 'health.startPeriodMs -1 is outside 0..3600000' },
    { name: 'start period past an hour', input: { type: 'tcp', port: 1, startPeriodMs: 3_600_001 }, reason: 'health.startPeriodMs 3600001 is outside 0..3600000' },
  ])('$name', ({ input, reason }) => {
    expect(parseHealthCheck(input)).toEqual({ ok: false, reason })
  })

  test.each<{ name: string; input: HealthCheckInput; check: object }>([
    { name: 'http defaults', input: { type: 'http', port: 8080 }, check: { type: 'http', port: 8080, path: '/', intervalMs: 10_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 0 } },
    { name: 'http, all given at the bounds', input: { type: 'http', port: 65535, path: '/' + 'a'.repeat(1023), expectStatus: 599, intervalMs: 500, timeoutMs: 500, retries: 100, startPeriodMs: 3_600_000 }, check: { type: 'http', port: 65535, path: '/' + 'a'.repeat(1023), expectStatus: 599, intervalMs: 500, timeoutMs: 500, retries: 100, startPeriodMs: 3_600_000 } },
    { name: 'tcp at the low bounds', input: { type: 'tcp', port: 1, intervalMs: 500, timeoutMs: 100, retries: 1, startPeriodMs: 0 }, check: { type: 'tcp', port: 1, intervalMs: 500, timeoutMs: 100, retries: 1, startPeriodMs: 0 } },
    { name: 'a short interval lowers the default timeout to it', input: { type: 'tcp', port: 1, intervalMs: 600 }, check: { type: 'tcp', port: 1, intervalMs: 600, timeoutMs: 600, retries: 3, startPeriodMs: 0 } },
    { name: 'exec', input: { type: 'exec', command: ['sh', '-c', 'test -f /tmp/ok'] }, check: { type: 'exec', command: ['sh', '-c', 'test -f /tmp/ok'], intervalMs: 10_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 0 } },
    { name: 'timeout equal to the interval', input: { type: 'tcp', port: 1, intervalMs: 1000, timeoutMs: 1000 }, check: { type: 'tcp', port: 1, intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 } },
  ])('$name', ({ input, check }) => {
    expect(parseHealthCheck(input)).toEqual({ ok: true, check })
  })
})

describe('httpStatusPasses', () => {
  test.each([
    [undefined, 199, false],
    [undefined, 200, true],
    [undefined, 399, true],
    [undefined, 400, false],
    [204, 200, false],
    [204, 204, true],
    [503, 503, true],
  ])('expect %s, got %s -> %s', (expectStatus, status, ok) => {
    expect(httpStatusPasses(expectStatus === undefined ? {} : { expectStatus }, status)).toBe(ok)
  })
})

describe('applyProbe: transitions', () => {
  const run = (results: ProbeResult[], at: number[], t: HealthTiming = timing): { track: HealthTrack; transitions: string[] } => {
    let track = initialTrack(T)
    const transitions: string[] = []
    results.forEach((r, i) => {
      const out = applyProbe(track, r, t, T + at[i]!)
      track = out.track
      transitions.push(out.transition)
    })
    return { track, transitions }
  }

  test('a success makes a starting replica healthy, once', () => {
    const { track, transitions } = run([pass, pass], [100, 1100])
    expect(transitions).toEqual(['healthy', 'none'])
    expect(track).toEqual({ state: 'healthy', failures: 0, startedAt: T })
  })

  test('failures inside the start period are noted, not counted; the last instant before its end is inside', () => {
    const { track, transitions } = run([fail('a'), fail('b'), fail('c'), fail('d')], [0, 1000, 4000, 4999])
    expect(transitions).toEqual(['none', 'none', 'none', 'none'])
    expect(track).toEqual({ state: 'starting', failures: 0, startedAt: T, lastFailure: 'd', lastFailureAt: T + 4999 })
  })

  test('at the end of the start period failures count: the retries-th consecutive one makes it unhealthy', () => {
    const { track, transitions } = run([fail(), fail(), fail('last')], [5000, 6000, 7000])
    expect(transitions).toEqual(['none', 'none', 'unhealthy'])
    expect(track).toEqual({ state: 'unhealthy', failures: 3, startedAt: T, lastFailure: 'last', lastFailureAt: T + 7000 })
  })

  test('one failure short of retries stays starting', () => {
    const { track } = run([fail(), fail()], [5000, 6000])
    expect(track.state).toBe('starting')
    expect(track.failures).toBe(2)
  })

  test('a success in between starts the count over', () => {
    const { transitions, track } = run([fail(), fail(), pass, fail(), fail()], [5000, 6000, 7000, 8000, 9000])
    expect(transitions).toEqual(['none', 'none', 'healthy', 'none', 'none'])
    expect(track).toMatchObject({ state: 'healthy', failures: 2 })
  })

  test('a healthy replica becomes unhealthy after retries failures, and stays so (the runner acts)', () => {
    const { transitions, track } = run([pass, fail(), fail(), fail(), pass], [100, 6000, 7000, 8000, 9000])
    expect(transitions).toEqual(['healthy', 'none', 'none', 'unhealthy', 'none'])
    expect(track.state).toBe('unhealthy')
  })

  test('retries 1: the first counted failure is enough', () => {
    const { transitions } = run([fail()], [0], { ...timing, retries: 1, startPeriodMs: 0 })
    expect(transitions).toEqual(['unhealthy'])
  })

  test('property: unhealthy exactly when `retries` counted failures follow the last success', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { maxLength: 30 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 20_000 }), (steps, retries, startPeriodMs) => {
        const t = { ...timing, retries, startPeriodMs }
        let track = initialTrack(T)
        let now = T
        let streak = 0
        let dead = false
        for (const [ok, gap] of steps) {
          now += gap
          track = applyProbe(track, ok ? pass : fail(), t, now).track
          if (!dead) {
            if (ok) streak = 0
            else if (now - T >= startPeriodMs) streak++
            if (streak >= retries) dead = true
          }
          expect(track.state === 'unhealthy').toBe(dead)
          if (!dead) expect(track.failures).toBe(streak)
        }
      }),
    )
  })
})

describe('unhealthyDecision: restart budget, then release', () => {
  test.each<{ restarts: number; maxRetries?: number; expected: object }>([
    { restarts: 0, maxRetries: 2, expected: { action: 'restart', delayMs: 1000, message: 'unhealthy: restarting (1/2): refused' } },
    { restarts: 1, maxRetries: 2, expected: { action: 'restart', delayMs: 2000, message: 'unhealthy: restarting (2/2): refused' } },
    { restarts: 2, maxRetries: 2, expected: { action: 'release', message: 'unhealthy: restarted 2 times for failed health checks, giving up on this meshlet: refused' } },
    { restarts: 1, maxRetries: 1, expected: { action: 'release', message: 'unhealthy: restarted 1 time for failed health checks, giving up on this meshlet: refused' } },
    { restarts: 0, maxRetries: 0, expected: { action: 'release', message: 'unhealthy: restarted 0 times for failed health checks, giving up on this meshlet: refused' } },
    { restarts: 4, expected: { action: 'restart', delayMs: 16_000, message: 'unhealthy: restarting (5/5): refused' } },
    { restarts: 5, expected: { action: 'release', message: 'unhealthy: restarted 5 times for failed health checks, giving up on this meshlet: refused' } },
    { restarts: -3, maxRetries: 1, expected: { action: 'restart', delayMs: 1000, message: 'unhealthy: restarting (1/1): refused' } },
  ])('restarts $restarts of $maxRetries', ({ restarts, maxRetries, expected }) => {
    expect(unhealthyDecision({ restarts, maxRetries, lastFailure: 'refused' })).toEqual(expected)
  })

  test('without a failure text it says the check failed', () => {
    expect(unhealthyDecision({ restarts: 0, maxRetries: 0 })).toEqual({ action: 'release', message: 'unhealthy: restarted 0 times for failed health checks, giving up on this meshlet: health check failed' })
  })
})

describe('what goes in the status record', () => {
  test('health report carries the state, counts and the last failure, capped', () => {
    const track: HealthTrack = { state: 'starting', failures: 2, startedAt: T, lastFailure: 'x'.repeat(600), lastFailureAt: T + 1 }
    expect(healthReport(track, 1)).toEqual({ state: 'starting', failures: 2, restarts: 1, lastFailure: 'x'.repeat(512), lastFailureAt: new Date(T + 1).toISOString() })
    expect(healthReport(initialTrack(T), 0)).toEqual({ state: 'starting', failures: 0, restarts: 0 })
  })

  test('the waiting message names the check and the last failure', () => {
    const http = parseHealthCheck({ type: 'http', port: 8080, path: '/ready' })
    const exec = parseHealthCheck({ type: 'exec', command: ['test', '-f', '/tmp/ok'] })
    const tcp = parseHealthCheck({ type: 'tcp', port: 5432 })
    if (!http.ok || !exec.ok || !tcp.ok) throw new Error('unreachable')
    expect(waitingMessage(http.check, undefined)).toBe('started; waiting for its health check (http :8080/ready)')
    expect(waitingMessage(tcp.check, initialTrack(T))).toBe('started; waiting for its health check (tcp :5432)')
    expect(waitingMessage(exec.check, { ...initialTrack(T), lastFailure: 'exit 1' })).toBe('started; waiting for its health check (exec test): last failure: exit 1')
  })
})
