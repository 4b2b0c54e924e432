// The image a guest's replica runs (docs/protocol.md, Images). A guest (an owner other than this
// meshlet's) must never run an image that happens to be on the host: the host owner's private
// build, named with an overridden `command`, would hand its content to the guest. So a guest's
// image is pulled fresh from its registry for every start (the local tag then names what the
// registry serves), pinned by image id for the create and by digest in the status record; the
// registry must pass the policy (no loopback/LAN registries unless the owner allows them, by
// literal address and by what the name resolves to). The only local images a guest may run as
// they are: those the owner lists in --shared-images.
import { lookup } from 'node:dns/promises'
import { guestImageRefusal, localAddressKind, registryOf, resolvedRegistryRefusal, splitHostPort, EMPTY_REGISTRY_POLICY, type RegistryPolicy } from '../core/registry-policy.js'
import { parseImageRef } from '../core/image-ref.js'
import type { Workload } from '../core/types.js'
import type { ContainerRuntime, ImageInfo } from '../ports/container-runtime.js'
import { ImagePullError, ImageRefusedError } from '../errors.js'
import type { GuestImagePulls } from './guest-image-pulls.js'

export interface PinnedImage {
  /** What the container is created from: the engine's image id. */
  imageId: string
  /** What the status record says: repo@sha256:... from the registry, else the image id. */
  digest: string
}

export interface GuestImageDeps {
  runtime: ContainerRuntime
  policy?: RegistryPolicy
  pulled?: GuestImagePulls
  now(): number
  /** Report that a pull starts (status `pulling`). */
  pulling(): Promise<void>
  /** Pull w.image (with progress and the peer's abort signal). */
  pull(): Promise<void>
  /** Addresses a registry host name resolves to (tests may pin them). */
  resolve?(host: string): Promise<string[]>
}

async function systemResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address)
}

/** The repo@digest of `info` that belongs to `image`'s repository, if the engine knows one. */
export function digestFor(image: string, info: ImageInfo): string | undefined {
  const r = parseImageRef(image)
  if (!r.ok) return undefined
  const repo = r.ref.domain ? `${r.ref.domain}/${r.ref.path}` : r.ref.path
  // Docker Hub references come back as "busybox@sha256:..." or "library/busybox@...", never with a domain.
  const names = new Set([repo, repo.replace(/^library\//, ''), `docker.io/${repo}`])
  return info.repoDigests.find((d) => names.has(d.slice(0, d.lastIndexOf('@')))) ?? info.repoDigests[0]
}

/** Pulls (or, for a shared image, finds) the image of guest workload `w` and pins it. Throws ImageRefusedError or ImagePullError. */
export async function guestImage(w: Workload, d: GuestImageDeps): Promise<PinnedImage> {
  const policy = d.policy ?? EMPTY_REGISTRY_POLICY
  if (policy.sharedImages.includes(w.image)) {
    const info = await d.runtime.imageInfo(w.image)
    if (info) return { imageId: info.id, digest: digestFor(w.image, info) ?? info.id }
  }
  const refusal = guestImageRefusal(w.image, policy)
  if (refusal) throw new ImageRefusedError(w.image, refusal)
  const registry = registryOf(w.image)
  if (registry !== undefined) {
    const { host } = splitHostPort(registry)
    // A public-looking name may still point at the LAN: check what it resolves to here. (The
    // engine resolves again when it pulls; a name that changes its answer in between is the
    // residual risk, said in docs/reliability.md.) A name that does not resolve fails the pull.
    if (localAddressKind(host) === undefined && !/^[\d.]+$/.test(host) && !host.includes(':')) {
      const addresses = await (d.resolve ?? systemResolve)(host).catch(() => [] as string[])
      const resolved = resolvedRegistryRefusal(registry, addresses, policy)
      if (resolved) throw new ImageRefusedError(w.image, resolved)
    }
  }
  await d.pulling()
  await d.pull()
  const info = await d.runtime.imageInfo(w.image)
  if (!info) throw new ImagePullError(w.image, 'the engine reported the pull done but has no such image')
  const digest = digestFor(w.image, info)
  await d.pulled?.record({ imageId: info.id, ref: w.image, ...(digest ? { digest } : {}), owner: w.owner, at: d.now() })
  return { imageId: info.id, digest: digest ?? info.id }
}
