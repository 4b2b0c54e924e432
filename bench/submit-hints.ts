// notify (issue 16): what `meshlet submit` does after createRecord, for the bench: tell the owner's
// own meshlets (farm.meshlet.notify) so they fetch and check the record at once. As in submit, the
// tokens come from the owner's PDS (getServiceAuth) and are prepared ahead of the write (submit mints
// them while the record is written; a token is reused within its lifetime), so what is timed is the
// write and the hint itself.
import { NotifyClient } from '../src/adapters/atproto/notify-client.js'
import type { Member } from '../src/devnet/commune.js'
import type { StrongRef } from '../src/core/types.js'

export class SubmitHints {
  private readonly clients = new Map<string, NotifyClient>()

  constructor(private readonly runners: Member[]) {}

  /** The owner's meshlets (one per member in the bench commune) and where they listen. */
  private targets(owner: Member): { did: string; endpoint: string }[] {
    return this.runners
      .filter((m) => m.owner.did === owner.owner.did && (m.peer?.url || m.port))
      .map((m) => ({ did: m.meshlet.did, endpoint: m.peer?.url || `http://127.0.0.1:${m.port}` }))
  }

  private client(owner: Member): NotifyClient {
    let c = this.clients.get(owner.owner.did)
    if (!c) {
      c = new NotifyClient({ mint: async (aud, lxm, exp) => (await owner.owner.agent.com.atproto.server.getServiceAuth({ aud, lxm, exp })).data.token })
      this.clients.set(owner.owner.did, c)
    }
    return c
  }

  /** Before t0: the owner's tokens, as submit mints them while the record is written. */
  async prepare(owner: Member): Promise<void> {
    await Promise.all(this.targets(owner).map((t) => this.client(owner).warm(t.did).catch(() => {})))
  }

  /** After the write: best-effort, like submit (a failed hint never fails the publish). */
  async send(owner: Member, ref: StrongRef): Promise<void> {
    await Promise.all(this.targets(owner).map((t) => this.client(owner).notify(t, [ref]).catch(() => {})))
  }
}
