// Human-readable log lines for the demo: "12:00:01 bob      scheduler  bid 712 on hello".
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m']
const LEVEL: Record<number, string> = { 40: '\x1b[33mwarn\x1b[0m ', 50: '\x1b[31merror\x1b[0m ' }

export function consoleLogger(level = 'info'): Logger {
  const peers = new Map<string, string>()
  const out = new Writable({
    write(chunk, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue
        try {
          const o = JSON.parse(line)
          const peer = String(o.peer ?? 'demo')
          if (!peers.has(peer)) peers.set(peer, COLORS[peers.size % COLORS.length]!)
          const sub = String(o.name ?? '').replace(/^meshlet:?/, '') || 'peer'
          const time = String(o.time ?? '').slice(11, 19)
          const err = o.err ? ` (${o.err})` : ''
          process.stdout.write(`${time} ${peers.get(peer)}${peer.padEnd(6)}\x1b[0m ${sub.padEnd(9)} ${LEVEL[o.level] ?? ''}${o.msg}${err}\n`)
        } catch {
          process.stdout.write(line + '\n')
        }
      }
      cb()
    },
  })
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, out)
}
