// Frames for a stand-in relay (com.atproto.sync.subscribeRepos), built with the libraries the
// PDS itself uses, no hand-written CBOR: real signed repo commits (@atproto/repo, as the PDS
// sequencer's formatSeqCommit does: new + relevant blocks as a CAR slice, ops, prevData) and
// xrpc-server's MessageFrame for the DAG-CBOR header {op:1,t} + body. relay-server.ts serves them.
import { randomBytes } from 'node:crypto'
import { Secp256k1Keypair } from '@atproto/crypto'
import type { DidDocument } from '@atproto/identity'
import type { Cid } from '@atproto/lex-data'
import { BlockMap, MemoryBlockstore, Repo, WriteOpAction, blocksToCarFile, cidForRecord } from '@atproto/repo'
import { MessageFrame } from '@atproto/xrpc-server'

/** A #commit body without its place in the stream (seq, time): what a relay forwards. */
export interface CommitBody {
  repo: string
  commit: Cid
  rev: string
  since: string | null
  blocks: Uint8Array
  ops: { action: 'create'; path: string; cid: Cid }[]
  prevData?: Cid
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** A syntactically valid did:plc (24 base32 characters), random. */
export function randomPlcDid(): string {
  const bytes = randomBytes(24)
  let s = ''
  for (const b of bytes) s += B32[b & 31]
  return `did:plc:${s}`
}

/** One repo we control: its keypair signs every commit, its DID document names our PDS stand-in. */
export class RepoWriter {
  private n = 0
  private constructor(
    readonly did: string,
    readonly keypair: Secp256k1Keypair,
    private repo: Repo,
  ) {}

  static async create(did: string = randomPlcDid()): Promise<RepoWriter> {
    const keypair = await Secp256k1Keypair.create({ exportable: true })
    const repo = await Repo.create(new MemoryBlockstore(), did, keypair)
    return new RepoWriter(did, keypair, repo)
  }

  get head(): { cid: Cid; rev: string } {
    return { cid: this.repo.cid, rev: this.repo.commit.rev }
  }

  /** Creates one record in `collection` as a new signed commit, and returns its firehose body. */
  async commit(collection: `${string}.${string}.${string}`, text = `relay bench ${this.n}`): Promise<CommitBody> {
    const rkey = `${Date.now().toString(36)}${(this.n++).toString(36).padStart(6, '0')}`
    const record = { $type: collection, text, createdAt: new Date().toISOString() }
    const prevData = this.repo.commit.data
    const since = this.repo.commit.rev
    const data = await this.repo.formatCommit({ action: WriteOpAction.Create, collection, rkey, record }, this.keypair)
    this.repo = await this.repo.applyCommit(data)
    const blocks = new BlockMap()
    blocks.addMap(data.newBlocks)
    blocks.addMap(data.relevantBlocks)
    return {
      repo: this.did,
      commit: data.cid,
      rev: data.rev,
      since,
      blocks: await blocksToCarFile(data.cid, blocks),
      ops: [{ action: 'create', path: `${collection}/${rkey}`, cid: await cidForRecord(record) }],
      prevData,
    }
  }

  /** The DID document a PLC directory would serve for this repo. */
  didDocument(pdsUrl: string): DidDocument {
    return {
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
      id: this.did,
      alsoKnownAs: [],
      verificationMethod: [{ id: `${this.did}#atproto`, type: 'Multikey', controller: this.did, publicKeyMultibase: this.keypair.did().slice('did:key:'.length) }],
      service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pdsUrl }],
    }
  }
}

export function commitFrame(body: CommitBody, seq: number, time: string): MessageFrame {
  // rebase, tooBig and blobs are deprecated but still required by the lexicon (as the PDS sends them).
  return new MessageFrame({ ...body, seq, time, rebase: false, tooBig: false, blobs: [] }, { type: '#commit' })
}

export function identityFrame(did: string, seq: number, time: string): MessageFrame {
  return new MessageFrame({ did, seq, time }, { type: '#identity' })
}

export function accountFrame(did: string, seq: number, time: string, active = true): MessageFrame {
  return new MessageFrame({ did, seq, time, active }, { type: '#account' })
}

/** A frame encoded once up front, so the relay's own CPU during a measured pass is the socket only. */
export class PreEncodedFrame extends MessageFrame {
  private readonly bytes: Uint8Array
  constructor(f: MessageFrame) {
    super(f.body, { type: f.type })
    this.bytes = f.toBytes()
  }

  override toBytes(): Uint8Array {
    return this.bytes
  }
}
