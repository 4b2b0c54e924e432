import type { Readable } from 'node:stream'
import type Docker from 'dockerode'
import type { LogLine, LogLines } from '../../ports/container-runtime.js'

/** Default byte cap of one logs() answer: the newest output up to this many bytes of text. */
export const DEFAULT_MAX_LOG_BYTES = 1024 * 1024

/** Is this a multiplexed (non-TTY) log buffer? Frames start with [stream 0|1|2, 0, 0, 0]. */
function looksMultiplexed(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0
}

/**
 * Splits Docker's log stream into lines per stream as it arrives, keeping only the newest
 * `maxBytes` of text: a chatty container's 30 MB of output passes through, never into memory.
 * Non-TTY logs are 8-byte-header frames ([stream, 0, 0, 0, size BE32] + payload); a line can span
 * frames (and a frame chunks), so partial lines are kept per stream until their newline arrives.
 * Anything else (a TTY container) is plain stdout.
 */
export class LogTail {
  private readonly lines: LogLine[] = []
  private head = 0
  private bytes = 0
  private mode: 'unknown' | 'mux' | 'raw' = 'unknown'
  private buf: Buffer = Buffer.alloc(0)
  /** Payload bytes of the current frame still to come, and its stream. */
  private frameLeft = 0
  private frameStream: LogLine['stream'] = 'stdout'
  private readonly pending: Record<LogLine['stream'], string> = { stdout: '', stderr: '' }
  // One streaming decoder per stream: a UTF-8 character may also be cut between frames.
  private readonly decoders = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8') }
  /** Older output was left out to stay under the cap. */
  truncated = false

  constructor(private readonly maxBytes: number = DEFAULT_MAX_LOG_BYTES) {}

  feed(chunk: Buffer): void {
    if (this.mode === 'unknown') {
      this.buf = Buffer.concat([this.buf, chunk])
      if (this.buf.length < 8) return
      this.mode = looksMultiplexed(this.buf) ? 'mux' : 'raw'
      chunk = this.buf
      this.buf = Buffer.alloc(0)
    }
    if (this.mode === 'raw') return this.push('stdout', this.decoders.stdout.decode(chunk, { stream: true }))
    let i = 0
    while (i < chunk.length) {
      if (this.frameLeft > 0) {
        const n = Math.min(this.frameLeft, chunk.length - i)
        this.push(this.frameStream, this.decoders[this.frameStream].decode(chunk.subarray(i, i + n), { stream: true }))
        this.frameLeft -= n
        i += n
        continue
      }
      // A frame header, possibly cut between chunks.
      const need = 8 - this.buf.length
      this.buf = Buffer.concat([this.buf, chunk.subarray(i, i + need)])
      i += Math.min(need, chunk.length - i)
      if (this.buf.length < 8) return
      this.frameStream = this.buf[0] === 2 ? 'stderr' : 'stdout'
      this.frameLeft = this.buf.readUInt32BE(4)
      this.buf = Buffer.alloc(0)
    }
  }

  /** The lines kept, oldest first. */
  end(): LogLines {
    if (this.mode === 'unknown' && this.buf.length > 0) {
      this.mode = 'raw'
      this.push('stdout', this.decoders.stdout.decode(this.buf, { stream: true }))
    }
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.pending[stream] + this.decoders[stream].decode()
      this.pending[stream] = ''
      if (rest.length > 0) this.keep({ stream, text: rest })
    }
    const out: LogLines = this.lines.slice(this.head)
    if (this.truncated) out.truncated = true
    return out
  }

  private push(stream: LogLine['stream'], text: string): void {
    const parts = (this.pending[stream] + text).split('\n')
    let rest = parts.pop() ?? ''
    // One endless line must not grow without bound either: keep its newest part.
    if (rest.length > this.maxBytes) {
      rest = rest.slice(rest.length - this.maxBytes)
      this.truncated = true
    }
    this.pending[stream] = rest
    for (const p of parts) this.keep({ stream, text: p.endsWith('\r') ? p.slice(0, -1) : p })
  }

  private keep(line: LogLine): void {
    if (line.text.length >= this.maxBytes) {
      line = { stream: line.stream, text: line.text.slice(line.text.length - this.maxBytes + 1) }
      this.truncated = true
    }
    while (Buffer.byteLength(line.text) + 1 > this.maxBytes) line = { stream: line.stream, text: line.text.slice(Math.ceil(line.text.length / 8)) }
    this.lines.push(line)
    this.bytes += Buffer.byteLength(line.text) + 1
    while (this.bytes > this.maxBytes && this.head < this.lines.length) {
      this.bytes -= Buffer.byteLength(this.lines[this.head]!.text) + 1
      this.head++
      this.truncated = true
    }
    // Drop the dead prefix now and then, so the array holds about maxBytes of text.
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines.splice(0, this.head)
      this.head = 0
    }
  }
}

/** Splits a whole log buffer into lines per stream (no cap). */
export function demuxLogs(buf: Buffer): LogLine[] {
  const tail = new LogTail(Number.POSITIVE_INFINITY)
  tail.feed(buf)
  return tail.end()
}

/**
 * The newest `tail` lines of a container's output, at most `maxBytes` of text, read from the
 * engine as a stream (dockerode's logs() without follow buffers the whole answer first).
 */
export async function readLogTail(docker: Docker, id: string, tail: number, maxBytes: number): Promise<LogLines> {
  const stream = await new Promise<Readable>((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(id)}/logs?`,
        method: 'GET',
        options: { stdout: true, stderr: true, follow: false, tail },
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      },
      (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as Readable)),
    )
  })
  const lines = new LogTail(maxBytes)
  for await (const chunk of stream) lines.feed(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
  return lines.end()
}
