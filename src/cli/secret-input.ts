/**
 * Secrets typed or piped in (the API key at `fichfs login`, a download password): from a
 * prompt that echoes nothing, from stdin, or from a file only its owner can read. Never from
 * an argument, which `ps` and shell history would show.
 */
import { readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { FichfsError } from '../errors.js'
import { registerSecret } from '../log.js'

/** Everything on stdin, as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

/** The first line, without its line ending (a password may hold spaces, so no other trimming). */
export function firstLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? ''
}

/** Ask on the terminal, echoing nothing (no mask characters, no Ctrl+T reveal). */
export async function promptSecret(message: string, options: { validate?: (value: string) => true | string; noTerminalHint: string }): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new FichfsError('FICHFS_NO_TERMINAL', 'there is no terminal to type it on', { hint: options.noTerminalHint })
  }
  const validate = options.validate
  // Loaded only when a prompt is needed: it would add 11 MB to every process, the daemon's too.
  const { default: password } = await import('@inquirer/password')
  try {
    const value = await password({ message, mask: false, toggleMask: false, validate }, { output: process.stderr })
    registerSecret(value)
    return value
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError') throw new FichfsError('FICHFS_CANCELLED', 'cancelled')
    throw error
  }
}

/**
 * A secret from a file. A file that group or others can read is refused: the secret would
 * already be leaking.
 */
export function readSecretFile(path: string, what: string): string {
  const file = resolve(path)
  let mode: number
  try {
    mode = statSync(file).mode
  } catch (error) {
    throw new FichfsError('FICHFS_SECRET_FILE', `cannot read the ${what} file ${file}`, { cause: error })
  }
  if ((mode & 0o077) !== 0) {
    throw new FichfsError('FICHFS_SECRET_FILE_MODE', `the ${what} file ${file} is readable by other users (mode ${(mode & 0o777).toString(8)})`, {
      hint: `Run: chmod 600 ${file}`,
    })
  }
  return firstLine(readFileSync(file, 'utf8'))
}
