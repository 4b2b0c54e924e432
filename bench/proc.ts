// /proc readings for child peers: which process is the peer (tsx runs it as a child of its own
// wrapper), its resident memory and its CPU time.
import fs from 'node:fs'

/** Linux USER_HZ: /proc/<pid>/stat times are in these ticks (100 on every mainstream kernel). */
const TICKS_PER_S = 100

function stat(pid: number): string[] | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'.
    return s.slice(s.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** Direct and indirect children of pid. */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>()
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = stat(Number(name))
    if (!f) continue
    const ppid = Number(f[1])
    const list = byParent.get(ppid) ?? []
    list.push(Number(name))
    byParent.set(ppid, list)
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/** The process that runs the peer: `pid` itself, or, when `pid` is tsx's CLI wrapper, the grandchild that runs src/cli.ts. */
export function peerProcess(pid: number): number | undefined {
  if (!cmdline(pid).includes('tsx/dist/cli.mjs')) return alive(pid) ? pid : undefined
  return descendants(pid).find((p) => cmdline(p).includes('src/cli.ts'))
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

/** Resident set size, MiB. */
export function rssMb(pid: number): number | undefined {
  return statusField(pid, 'VmRSS')
}

/** Peak resident set size, MiB. */
export function peakRssMb(pid: number): number | undefined {
  return statusField(pid, 'VmHWM')
}

/** User + system CPU time consumed so far, ms. */
export function cpuMs(pid: number): number | undefined {
  const f = stat(pid)
  if (!f) return undefined
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
