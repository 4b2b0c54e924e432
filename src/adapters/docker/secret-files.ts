// Secrets (issue 13): the files a container sees at /run/secrets/<name>, read-only. They live in a
// directory per container on a host tmpfs (default /dev/shm/meshlet-secrets, mode 0700), so a value
// never touches a disk, never enters the container's Env or Labels, and goes when the container is
// removed (or at the next garbage collection if the peer was down then). A directory that is not
// in memory is refused rather than used.
import fs from 'node:fs/promises'
import path from 'node:path'
import { SECRET_NAME } from '../../core/secrets.js'

export const DEFAULT_SECRETS_DIR = '/dev/shm/meshlet-secrets'
const TMPFS_MAGIC = 0x01021994
const RAMFS_MAGIC = 0x858458f6
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

export class SecretFilesError extends Error {}

export class SecretFiles {
  constructor(readonly base: string = DEFAULT_SECRETS_DIR) {}

  /** Writes the files for `container` and returns the host directory to mount at /run/secrets. */
  async write(container: string, files: readonly { name: string; value: Uint8Array }[]): Promise<string> {
    if (!CONTAINER_NAME.test(container)) throw new SecretFilesError(`invalid container name for secrets: ${container.slice(0, 80)}`)
    await fs.mkdir(this.base, { recursive: true, mode: 0o700 })
    await fs.chmod(this.base, 0o700)
    const st = await fs.statfs(this.base)
    if (st.type !== TMPFS_MAGIC && st.type !== RAMFS_MAGIC) throw new SecretFilesError(`secrets directory ${this.base} is not in memory (tmpfs); secrets are never written to disk`)
    const dir = path.join(this.base, container)
    await fs.rm(dir, { recursive: true, force: true })
    await fs.mkdir(dir, { mode: 0o700 })
    for (const f of files) {
      if (!SECRET_NAME.test(f.name)) throw new SecretFilesError(`invalid secret name ${JSON.stringify(f.name.slice(0, 80))}`)
      // 0444: any user inside the container may read it (as with Docker's own secrets); the 0700
      // directories keep other host users out.
      await fs.writeFile(path.join(dir, f.name), f.value, { mode: 0o444, flag: 'wx' })
    }
    return dir
  }

  async removeFor(container: string): Promise<void> {
    if (!CONTAINER_NAME.test(container)) return
    await fs.rm(path.join(this.base, container), { recursive: true, force: true })
  }

  /** Removes the directories of containers not in `existing` (names); returns how many. */
  async sweep(existing: ReadonlySet<string>): Promise<number> {
    let names: string[]
    try {
      names = await fs.readdir(this.base)
    } catch {
      return 0
    }
    let removed = 0
    for (const n of names) {
      if (existing.has(n) || !CONTAINER_NAME.test(n)) continue
      await fs.rm(path.join(this.base, n), { recursive: true, force: true })
      removed++
    }
    return removed
  }

  /** Whether any container has secret files here (remove() skips its extra inspect when none do). */
  async any(): Promise<boolean> {
    try {
      return (await fs.readdir(this.base)).length > 0
    } catch {
      return false
    }
  }
}
