import type { LogLine } from '../../ports/container-runtime.js'

/** Is this a multiplexed (non-TTY) log buffer? Frames start with [stream 0|1|2, 0, 0, 0]. */
function looksMultiplexed(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0
}

/**
 * Split Docker's log payload into lines per stream. Non-TTY logs are 8-byte-header frames
 * ([stream, 0, 0, 0, size BE32] + payload); a line can span frames, so partial lines are kept
 * per stream until their newline arrives. Anything else (a TTY container) is plain stdout.
 */
export function demuxLogs(buf: Buffer): LogLine[] {
  const lines: LogLine[] = []
  const pending: Record<LogLine['stream'], string> = { stdout: '', stderr: '' }
  // One streaming decoder per stream: a UTF-8 character may also be cut between frames.
  const decoders = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8') }
  const push = (stream: LogLine['stream'], chunk: string): void => {
    const parts = (pending[stream] + chunk).split('\n')
    pending[stream] = parts.pop() ?? ''
    for (const p of parts) lines.push({ stream, text: p.endsWith('\r') ? p.slice(0, -1) : p })
  }
  if (!looksMultiplexed(buf)) {
    push('stdout', decoders.stdout.decode(buf))
  } else {
    let i = 0
    while (i + 8 <= buf.length) {
      const type = buf[i]!
      const size = buf.readUInt32BE(i + 4)
      const stream = type === 2 ? 'stderr' : 'stdout'
      push(stream, decoders[stream].decode(buf.subarray(i + 8, Math.min(buf.length, i + 8 + size)), { stream: true }))
      i += 8 + size
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    pending[stream] += decoders[stream].decode()
    if (pending[stream].length > 0) lines.push({ stream, text: pending[stream] })
  }
  return lines
}
