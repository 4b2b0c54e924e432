// The meshlet's password from a file (`--password-file`, MESHLET_PASSWORD_FILE), Docker-secrets
// style: a password in a flag or an environment variable shows in `ps` and `docker inspect`, a
// file readable only by its owner does not. A file others can read is refused, as ssh does.
import fs from 'node:fs'
import { ConfigError } from './errors.js'

/** The password in `file` (one trailing newline dropped); throws ConfigError naming the problem. */
export function readPasswordFile(file: string): string {
  let st: fs.Stats
  try {
    st = fs.statSync(file)
  } catch (err) {
    throw new ConfigError(`--password-file (MESHLET_PASSWORD_FILE) ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'passwordFile', { cause: err })
  }
  if (!st.isFile()) throw new ConfigError(`--password-file (MESHLET_PASSWORD_FILE) ${file} is not a regular file`, 'passwordFile')
  const mode = st.mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `--password-file (MESHLET_PASSWORD_FILE) ${file} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}): run \`chmod 600 ${file}\` (or 400) so only its owner can read the password`,
      'passwordFile',
    )
  }
  if (st.size > 4096) throw new ConfigError(`--password-file (MESHLET_PASSWORD_FILE) ${file} is ${st.size} bytes: a password file holds one password`, 'passwordFile')
  const text = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  if (text.length === 0) throw new ConfigError(`--password-file (MESHLET_PASSWORD_FILE) ${file} is empty`, 'passwordFile')
  return text
}
