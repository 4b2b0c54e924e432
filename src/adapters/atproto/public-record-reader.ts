// The public view of a repo: resolve the DID to its PDS, list every scheduler collection without
// credentials, decode each record at the edge. What `meshlet explain` sees is what anyone can see.
import { COLLECTIONS, type AtUri, type Did, type RecordEvent } from '../../core/types.js'
import type { IdentityResolver } from '../../ports/identity-resolver.js'
import type { PublicRecordReader } from '../../ports/public-records.js'
import { decodeRecord, type DecodeOptions } from './decode.js'
import { listAllRecords, recordExists, type RepoReadOptions } from './repo-reader.js'

export class AtprotoPublicRecordReader implements PublicRecordReader {
  constructor(
    private readonly identity: IdentityResolver,
    private readonly opts: { read?: RepoReadOptions; decode?: DecodeOptions } = {},
  ) {}

  async readRepo(did: Did): Promise<RecordEvent[]> {
    const { pds } = await this.identity.resolve(did)
    const lists = await Promise.all(COLLECTIONS.map(async (collection) => ({ collection, records: await listAllRecords(pds, did, collection, this.opts.read) })))
    const out: RecordEvent[] = []
    for (const { collection, records } of lists) {
      for (const r of records) {
        const event = decodeRecord({ did, collection, rkey: r.rkey, cid: r.cid, value: r.value }, this.opts.decode)
        if (event) out.push(event)
      }
    }
    return out
  }

  async recordExists(uri: AtUri): Promise<boolean> {
    const did = uri.split('/')[2] ?? ''
    const { pds } = await this.identity.resolve(did)
    return recordExists(pds, uri, this.opts.read)
  }
}
