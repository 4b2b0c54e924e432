// An experiment, not how the stock PDS behaves: the PDS (@atproto/pds Sequencer) finds new commits
// by polling its database, and while nothing happens it backs off (2, 4, 8, ... ms up to 1 s), so on
// an idle PDS a commit reaches the firehose 0-1000 ms after it was written. With `enabled`, a commit
// cuts the current back-off short, as a PDS that woke its firehose on every commit would. The bench
// measures meshlet both ways, side by side, to show what that stage costs.
import type { DevPds } from '../src/devnet/network.js'

interface SequencerInternals {
  triesWithNoResults: number
  exponentialBackoff(): Promise<void>
  sequenceEvts(events: unknown[]): Promise<number[]>
}

export class PdsWake {
  enabled = false

  constructor(pdses: DevPds[]) {
    for (const pds of pdses) this.patch(pds.server.ctx.sequencer as unknown as SequencerInternals)
  }

  private patch(seq: SequencerInternals): void {
    let wake: (() => void) | undefined
    // Same back-off as the PDS (min(2^tries, 1000) ms), but interruptible.
    seq.exponentialBackoff = async () => {
      seq.triesWithNoResults++
      const ms = Math.min(2 ** seq.triesWithNoResults, 1000)
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          wake = undefined
          resolve()
        }
        const timer = setTimeout(done, ms)
        wake = done
      })
    }
    const sequence = seq.sequenceEvts.bind(seq)
    seq.sequenceEvts = async (events) => {
      const out = await sequence(events)
      if (this.enabled) wake?.()
      return out
    }
  }
}
