// iptables through its own command line (no library speaks it better): every call waits for the
// xtables lock, because the engine and other meshlets edit the same tables at the same time.
import { execFile } from 'node:child_process'
import { MeshletError } from '../../errors.js'

export class FirewallError extends MeshletError {
  constructor(public readonly command: string, public readonly reason: string, opts?: { cause?: unknown }) {
    super(`iptables ${command}: ${reason}`, opts)
  }
}

interface RunResult {
  ok: boolean
  stdout: string
  stderr: string
  /** The binary is not installed. */
  missing?: boolean
}

export class Iptables {
  constructor(private readonly bin = 'iptables', private readonly waitS = 10) {}

  run(args: readonly string[], input?: string, bin = this.bin): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = execFile(bin, ['-w', String(this.waitS), ...args], { timeout: (this.waitS + 5) * 1000 }, (err, stdout, stderr) => {
        const code = (err as NodeJS.ErrnoException | null)?.code
        resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr || (err && !stderr ? err.message : '')).trim(), missing: code === 'ENOENT' })
      })
      if (input !== undefined) child.stdin?.end(input)
    })
  }

  async must(args: readonly string[]): Promise<string> {
    const r = await this.run(args)
    if (!r.ok) throw new FirewallError(args.join(' '), r.stderr || 'failed')
    return r.stdout
  }

  /** Creates a chain of ours; one that exists already is fine (another meshlet on this host made it). */
  async ensureChain(chain: string): Promise<void> {
    const r = await this.run(['-N', chain])
    if (!r.ok && !/already exists/i.test(r.stderr)) throw new FirewallError(`-N ${chain}`, r.stderr)
  }

  /** `from` jumps to `to` first thing, once. */
  async ensureJump(from: string, to: string): Promise<void> {
    if ((await this.run(['-C', from, '-j', to])).ok) return
    await this.must(['-I', from, '1', '-j', to])
  }

  async has(rule: readonly string[]): Promise<boolean> {
    const [chain, ...spec] = rule
    return (await this.run(['-C', chain!, ...spec])).ok
  }

  /** `-S` lines of a chain. */
  async list(chain: string): Promise<string[]> {
    return (await this.must(['-S', chain])).split('\n').filter((l) => l.startsWith('-A '))
  }

  /** Applies `-A`/`-D` lines to the filter table in one atomic iptables-restore (without flushing anything). */
  async apply(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return
    const r = await this.run(['--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`, `${this.bin}-restore`)
    if (!r.ok) throw new FirewallError('-restore', r.stderr || 'failed')
  }
}
