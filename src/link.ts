// `meshlet link`: the owner's half of the two-way linkage (PROTOCOL §1), written with the owner's
// credentials: commune.scheduler.meshlet in the owner's repo, rkey = the meshlet's DID.
import { AtprotoIdentityResolver } from './adapters/atproto/identity.js'
import { AtprotoPublisher } from './adapters/atproto/publisher.js'
import { encodeMeshletLink } from './core/encode.js'
import { NSID } from './core/types.js'
import { ConfigError } from './errors.js'

export interface LinkOptions {
  owner?: string
  ownerPassword?: string
  meshlet?: string
  pds?: string
  plc: string
  allowHttp: boolean
  unlink: boolean
}

const DID = /^did:(plc|web):[a-zA-Z0-9._:%-]+$/

export async function linkMeshlet(o: LinkOptions): Promise<string> {
  if (!o.owner || !DID.test(o.owner)) throw new ConfigError('--owner (MESHLET_OWNER) must be the owner DID, like did:plc:abc123')
  if (!o.meshlet || !DID.test(o.meshlet)) throw new ConfigError('--meshlet (MESHLET_DID) must be the meshlet DID, like did:plc:xyz789')
  if (!o.ownerPassword) throw new ConfigError("--owner-password (MESHLET_OWNER_PASSWORD) is required: the owner's app password")
  const identity = new AtprotoIdentityResolver({ plcUrl: o.plc, allowInsecureHttp: o.allowHttp })
  const pds = o.pds ?? (await identity.resolve(o.owner)).pds
  await identity.resolve(o.meshlet) // fail here, readably, if the meshlet DID does not exist
  const pub = await AtprotoPublisher.login({ service: pds, identifier: o.owner, password: o.ownerPassword })
  if (o.unlink) {
    await pub.delete(NSID.meshlet, o.meshlet)
    return `unlinked ${o.meshlet} from ${o.owner}`
  }
  const ref = await pub.put(NSID.meshlet, o.meshlet, encodeMeshletLink({ meshlet: o.meshlet }, new Date().toISOString()))
  return `linked ${o.meshlet} to ${o.owner}: ${ref.uri}`
}
