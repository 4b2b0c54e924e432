// When each step of "record published -> container running" happened on this peer, per workload, so
// the bench can show which stage costs the time. One Map lookup per stage: cheap enough to stay on
// in production, and bounded so a long-lived peer never grows it. `onMark` lets a peer report marks
// (the peer logs them at debug level, which is how the bench reads them from child processes).

/** In path order: the record reached this peer, its bid/decline landed, it decided to claim, the claim landed, then the runner's steps. */
export const STAGES = ['seen', 'bid', 'closed', 'claimed', 'pulled', 'created', 'started', 'reported'] as const
export type Stage = (typeof STAGES)[number]
export type StageTimes = Partial<Record<Stage, number>>

/** Epoch milliseconds with sub-ms precision that never step backwards within a process. */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now()
}

export class Timeline {
  private readonly byUri = new Map<string, StageTimes>()

  constructor(
    private readonly max = 2000,
    private readonly onMark?: (uri: string, stage: Stage, at: number) => void,
  ) {}

  /** Records the FIRST time a stage is reached for a workload (later repeats are retries, not the path). */
  mark(uri: string, stage: Stage, at = monotonicNow()): void {
    let t = this.byUri.get(uri)
    if (!t) {
      // Oldest entry out first (Map keeps insertion order).
      if (this.byUri.size >= this.max) this.byUri.delete(this.byUri.keys().next().value!)
      t = {}
      this.byUri.set(uri, t)
    }
    if (t[stage] !== undefined) return
    t[stage] = at
    this.onMark?.(uri, stage, at)
  }

  get(uri: string): StageTimes | undefined {
    const t = this.byUri.get(uri)
    return t ? { ...t } : undefined
  }

  forget(uri: string): void {
    this.byUri.delete(uri)
  }
}
