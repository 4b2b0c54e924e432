// liveness (issue 16 part 3): this observer's suspicion book, fed by intake with every record as it
// is received (monotonic clock), and this meshlet's own side of it: a suspicion of itself that
// observers would count is refuted at once with a profile write. The rule is core/suspicion.ts.
import { NSID, type Did, type RecordEvent } from '../core/types.js'
import { SuspicionBook, lenientRules, DEFAULT_SUSPICION_RULES, type SuspectedFn, type SuspicionRules } from '../core/suspicion.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../logger.js'

export interface LivenessOptions {
  self: Did
  clock: Clock
  log: Logger
  rules?: SuspicionRules
  /** When each repo's last record arrived here (monotonic), the same receipts eligibility reads. */
  lastReceived: (did: Did) => number | undefined
  /** Write something now (the profile): this meshlet was suspected and is alive. */
  refute: () => void
  /** A confirm window ended: decide again (time alone changes who is dead). */
  changed: () => void
}

export class LivenessService {
  readonly book: SuspicionBook
  /** The same book with the subject's lenient rules: when THIS meshlet must refute. */
  private readonly own: SuspicionBook
  refutations = 0
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(private readonly o: LivenessOptions) {
    const rules = o.rules ?? DEFAULT_SUSPICION_RULES
    this.book = new SuspicionBook(rules)
    this.own = new SuspicionBook(lenientRules(rules))
  }

  /** Intake calls this with every accepted event, at its receipt time. */
  received(event: RecordEvent, monoAt: number): void {
    if (event.op === 'put' && event.record.collection === NSID.suspicion) {
      const { accuser, subject } = event.record.value
      if (subject === this.o.self) {
        const ignored = this.own.noteSuspicion(accuser, subject, monoAt)
        if (ignored === undefined) {
          this.refutations++
          this.o.log.info({ accuser }, 'suspected by a member: refuting with a profile write')
          this.o.refute()
        } else this.o.log.debug({ accuser, ignored }, 'suspicion of this meshlet not refuted')
      } else if (this.book.noteSuspicion(accuser, subject, monoAt) === undefined) {
        const t = setTimeout(() => {
          this.timers.delete(t)
          this.o.changed()
        }, this.book.rules.confirmMs + 50)
        t.unref()
        this.timers.add(t)
      }
    }
    this.book.noteReceipt(event.did, monoAt)
    this.own.noteReceipt(event.did, monoAt)
  }

  /** For eligibility (core/suspicion.ts suspicionProblem). */
  readonly suspected: SuspectedFn = (meshlet, trusted) => this.book.deathProblem(meshlet, this.o.lastReceived(meshlet), this.o.clock.monotonic(), trusted)

  stop(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
