// The engine's event stream, line by line, as meshlet ContainerEvents: resolves when the signal
// aborts or the engine ends the stream (the caller re-lists and watches again).
import type { Readable } from 'node:stream'
import type { ContainerEvent } from '../../ports/container-runtime.js'
import type { Logger } from '../../logger.js'
import { isAbortError } from './engine-errors.js'
import { toContainerEvent } from './engine-views.js'

export async function readEvents(stream: Readable, signal: AbortSignal, onEvent: (e: ContainerEvent) => void, log: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    let buffered = ''
    let done = false
    const finish = (why: string, err?: unknown): void => {
      if (done) return
      done = true
      signal.removeEventListener('abort', onAbort)
      stream.removeListener('data', onData)
      stream.destroy()
      if (err && !signal.aborted && !isAbortError(err)) log.warn({ err }, 'engine event stream failed')
      else log.debug({ why }, 'engine event stream ended')
      resolve()
    }
    const onAbort = (): void => finish('aborted')
    const handleLine = (line: string): void => {
      const text = line.trim()
      if (!text) return
      let raw: unknown
      try {
        raw = JSON.parse(text)
      } catch {
        log.warn({ line: text.slice(0, 200) }, 'unparseable engine event skipped')
        return
      }
      const event = toContainerEvent(raw)
      if (!event) return
      try {
        onEvent(event)
      } catch (cbErr) {
        log.warn({ err: cbErr, event: event.action }, 'container event handler threw')
      }
    }
    const onData = (chunk: Buffer | string): void => {
      buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        handleLine(buffered.slice(0, nl))
        buffered = buffered.slice(nl + 1)
      }
      // The engine ends every event with a newline; a complete object without one still counts.
      if (buffered.length > 0 && buffered.trimEnd().endsWith('}')) {
        try {
          JSON.parse(buffered)
          handleLine(buffered)
          buffered = ''
        } catch {
          // incomplete: wait for more
        }
      }
      if (buffered.length > 1_000_000) {
        log.warn('oversized engine event discarded')
        buffered = ''
      }
    }
    signal.addEventListener('abort', onAbort, { once: true })
    stream.on('data', onData)
    stream.once('end', () => finish('end'))
    stream.once('close', () => finish('close'))
    stream.once('error', (err) => finish('error', err))
  })
}
