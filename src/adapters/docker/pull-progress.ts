// Following an image pull's progress stream. followProgress only reports socket errors; an
// {"error": ...} line inside a 200 stream is a failed pull too, so each event is checked here.
import type Docker from 'dockerode'
import type { PullProgress } from '../../ports/container-runtime.js'
import type { Logger } from '../../logger.js'

/** Resolves when the stream ends: with the first error line the engine sent, if any. Rejects on a socket error. */
export async function followPull(modem: Docker['modem'], stream: NodeJS.ReadableStream, onProgress: ((p: PullProgress) => void) | undefined, log: Logger): Promise<{ message: string } | undefined> {
  let streamError: { message: string } | undefined
  await new Promise<void>((resolve, reject) => {
    modem.followProgress(
      stream,
      (err) => (err ? reject(err) : resolve()),
      (event: unknown) => {
        const e = (event ?? {}) as {
          status?: unknown
          id?: unknown
          error?: unknown
          errorDetail?: { message?: unknown }
          progressDetail?: { current?: unknown; total?: unknown }
        }
        if (e.error !== undefined || e.errorDetail?.message !== undefined) {
          const msg = typeof e.errorDetail?.message === 'string' ? e.errorDetail.message : String(e.error)
          streamError ??= { message: msg.trim() }
          return
        }
        if (!onProgress || typeof e.status !== 'string') return
        const p: PullProgress = { status: e.status }
        if (typeof e.id === 'string') p.layer = e.id
        if (typeof e.progressDetail?.current === 'number') p.current = e.progressDetail.current
        if (typeof e.progressDetail?.total === 'number') p.total = e.progressDetail.total
        try {
          onProgress(p)
        } catch (cbErr) {
          log.warn({ err: cbErr }, 'pull progress callback threw')
        }
      },
    )
  })
  return streamError
}
