/**
 * Where things live and where the API key comes from.
 *
 * Key resolution, for every command: FICHFS_API_KEY, then --api-key-file, then the key stored
 * by `fichfs login`. A key is never taken from the command line (it would show in `ps` and in
 * shell history), and a key file readable by group or others is refused.
 */
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import envPaths from 'env-paths'
import { FichfsError } from '../errors.js'
import { registerSecret } from '../log.js'
import { DEFAULT_ENDPOINT } from '../client/trust.js'

export const paths = envPaths('fichfs', { suffix: '' })

export function configDir(): string {
  return process.env.FICHFS_CONFIG_DIR ?? paths.config
}

export function defaultCacheDir(): string {
  return process.env.FICHFS_CACHE_DIR ?? paths.cache
}

/**
 * Where control sockets and the pacer's shared gates live: the user's runtime dir, else a
 * private dir under /tmp. A dir that is there already must be the user's own and writable by
 * no one else (anyone could create /tmp/fichfs-0 first and wait for our sockets): refused
 * otherwise, as tmux and ssh-agent do.
 */
export function runtimeDir(): string {
  const base = process.env.FICHFS_RUNTIME_DIR ?? (process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'fichfs') : join(tmpdir(), `fichfs-${process.getuid?.() ?? 0}`))
  mkdirSync(base, { recursive: true, mode: 0o700 })
  checkPrivateDir(base)
  return base
}

function checkPrivateDir(dir: string): void {
  const stats = lstatSync(dir)
  const uid = process.getuid?.()
  const hint = `fichfs keeps its control sockets there. Remove it (rm -r ${dir}) and run the command again, or set FICHFS_RUNTIME_DIR to a private directory.`
  if (!stats.isDirectory()) throw new FichfsError('FICHFS_RUNTIME_DIR_UNSAFE', `${dir} is not a directory (a symbolic link?)`, { hint })
  if (uid !== undefined && stats.uid !== uid) {
    throw new FichfsError('FICHFS_RUNTIME_DIR_UNSAFE', `${dir} belongs to another user (uid ${stats.uid}), not to you (uid ${uid})`, { hint })
  }
  if ((stats.mode & 0o022) !== 0) {
    throw new FichfsError('FICHFS_RUNTIME_DIR_UNSAFE', `${dir} can be written by other users (mode ${(stats.mode & 0o777).toString(8)})`, { hint })
  }
  // Only readable by others (an old umask): nothing can have been put there; make it private.
  if ((stats.mode & 0o077) !== 0) chmodSync(dir, 0o700)
}

/** --endpoint: an http(s) URL, or an error that names the option. */
export function parseEndpoint(text: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new FichfsError('FICHFS_BAD_ENDPOINT', `--endpoint ${JSON.stringify(text)} is not an http(s) URL`, {
      hint: `Give the API base URL: ${DEFAULT_ENDPOINT} (the default), or the one the emulator prints (http://127.0.0.1:PORT/v1).`,
    })
  }
  return text
}

export function storedKeyPath(): string {
  return join(configDir(), 'api-key')
}

export type KeySource = 'environment' | 'key file' | 'stored key'

export interface ResolvedKey {
  key: string
  source: KeySource
}

export const KEY_ARGUMENT_REFUSED =
  'fichfs never takes the API key as a command-line argument (it would show in `ps` and in shell history). ' +
  'Use the FICHFS_API_KEY environment variable, --api-key-file FILE (mode 0600), or `fichfs login`.'

/** Refuse a key passed as an argument, before anything else parses it. */
export function refuseKeyArguments(argv: string[]): void {
  for (const arg of argv) {
    if (/^--(api-?key|key|apikey|token)(=|$)/i.test(arg)) {
      throw new FichfsError('FICHFS_KEY_ARGUMENT', 'the API key cannot be given on the command line', { hint: KEY_ARGUMENT_REFUSED })
    }
  }
}

/** Read a key file, refusing one that group or others can read. */
export function readKeyFile(path: string): string {
  const file = resolve(path)
  let mode: number
  try {
    mode = statSync(file).mode
  } catch (error) {
    throw new FichfsError('FICHFS_KEY_FILE', `cannot read the key file ${file}`, { cause: error, hint: 'Check the path given to --api-key-file.' })
  }
  if ((mode & 0o077) !== 0) {
    throw new FichfsError('FICHFS_KEY_FILE_MODE', `the key file ${file} is readable by other users (mode ${(mode & 0o777).toString(8)})`, {
      hint: `Run: chmod 600 ${file}`,
    })
  }
  const key = readFileSync(file, 'utf8').trim()
  if (!key) throw new FichfsError('FICHFS_KEY_FILE', `the key file ${file} is empty`)
  return key
}

export function resolveApiKey(options: { apiKeyFile?: string }): ResolvedKey {
  const fromEnv = process.env.FICHFS_API_KEY?.trim()
  let resolved: ResolvedKey | undefined
  if (fromEnv) resolved = { key: fromEnv, source: 'environment' }
  else if (options.apiKeyFile) resolved = { key: readKeyFile(options.apiKeyFile), source: 'key file' }
  else if (existsSync(storedKeyPath())) resolved = { key: readKeyFile(storedKeyPath()), source: 'stored key' }
  if (!resolved) {
    throw new FichfsError('FICHFS_NO_KEY', 'no 1fichier API key configured', {
      hint: 'Run `fichfs login`, or set FICHFS_API_KEY, or pass --api-key-file FILE. ' +
        'The key is in the 1fichier console: https://1fichier.com/console/params.pl (Premium/Access accounts).',
    })
  }
  registerSecret(resolved.key)
  return resolved
}

/**
 * One cache directory per account (endpoint + key), without storing the key itself. The port
 * is left out: an emulator (the demo's) listens on a new port each time, and its journal of
 * pending uploads must still be found.
 */
export function accountCacheDir(cacheDir: string, endpoint: string | undefined, key: string): string {
  const dir = accountCacheDirPath(cacheDir, endpoint, key)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

/** Where accountCacheDir lives, without creating it. */
export function accountCacheDirPath(cacheDir: string, endpoint: string | undefined, key: string): string {
  const url = new URL(endpoint ?? DEFAULT_ENDPOINT)
  const account = `${url.protocol}//${url.hostname}${url.pathname}`
  const id = createHash('sha256').update(`${account}\n${key}`).digest('hex').slice(0, 16)
  return join(cacheDir, id)
}

/** Parse sizes like 512M, 2G, 1048576. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') return text
  const match = String(text).trim().match(/^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i)
  if (!match) throw new FichfsError('FICHFS_BAD_SIZE', `not a size: ${text}`, { hint: 'Use a number of bytes, or a suffix: 512M, 2G.' })
  const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }
  return Math.round(Number(match[1]) * (units[(match[2] ?? '').toLowerCase()] ?? 1))
}

/** Parse durations like 30s, 5m, 1h, 250ms (a bare number is seconds). */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') return text * 1000
  const match = String(text).trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i)
  if (!match) throw new FichfsError('FICHFS_BAD_DURATION', `not a duration: ${text}`, { hint: 'Use 250ms, 30s, 5m, 1h or 30d.' })
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
  return Math.round(Number(match[1]) * (units[(match[2] ?? 's').toLowerCase()] ?? 1000))
}
