// Stage timelines of child peers: each peer logs its timeline marks at debug level ('stage' lines,
// see Meshlet.timeline); this collects them from the child's stdout, per workload.
import type { Member } from '../src/devnet/commune.js'
import type { Stage, StageTimes } from '../src/services/timeline.js'

export class PeerTimelines {
  private readonly byMember = new Map<Member, Map<string, StageTimes>>()

  /** Starts collecting from the member's current child process. */
  attach(m: Member): void {
    const child = m.child
    if (!child?.stdout) throw new Error(`${m.name} has no child process to follow`)
    const times = new Map<string, StageTimes>()
    this.byMember.set(m, times)
    let buf = ''
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (!line.includes('"msg":"stage"')) continue
        try {
          const o = JSON.parse(line) as { workload?: string; stage?: Stage; at?: number }
          if (!o.workload || !o.stage || typeof o.at !== 'number') continue
          const t = times.get(o.workload) ?? {}
          t[o.stage] ??= o.at
          times.set(o.workload, t)
        } catch {
          // not a log line of ours
        }
      }
    })
  }

  /** The member's marks for a workload: from its in-process peer, else from its child's log. */
  get(m: Member, uri: string): StageTimes | undefined {
    return m.peer?.timeline.get(uri) ?? this.byMember.get(m)?.get(uri)
  }
}
