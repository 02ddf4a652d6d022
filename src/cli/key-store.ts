/**
 * The key stored by `fichfs login`: one file in the config dir, created 0600 (never loosened
 * then tightened, so there is no moment when another user could read it), replaced atomically.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { FichfsError } from '../errors.js'
import { storedKeyPath } from './config.js'

/** A plausible API key: printable ASCII without spaces (1fichier's are 32 letters and digits). */
export function checkKeyShape(key: string): void {
  if (!key) throw new FichfsError('FICHFS_NO_KEY', 'no API key was given', { hint: 'Copy it from https://1fichier.com/console/params.pl.' })
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new FichfsError('FICHFS_BAD_KEY', 'that does not look like an API key (it holds spaces or unusual characters)', {
      hint: 'Copy the key again from https://1fichier.com/console/params.pl.',
    })
  }
}

export function storeKey(key: string): string {
  const target = storedKeyPath()
  const dir = dirname(target)
  // Created 0700 when we create it; an existing directory chosen by the user is left alone.
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const temp = join(dir, `.api-key.${process.pid}.tmp`)
  let fd: number | undefined
  try {
    fd = openSync(temp, 'wx', 0o600)
    writeSync(fd, `${key}\n`)
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(temp, target)
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    rmSync(temp, { force: true })
    throw new FichfsError('FICHFS_KEY_STORE', `could not store the key in ${target}: ${(error as Error).message}`, { cause: error })
  }
  return target
}

/** Remove the stored key; false when there was none. */
export function forgetKey(): boolean {
  const target = storedKeyPath()
  if (!existsSync(target)) return false
  rmSync(target)
  return true
}
