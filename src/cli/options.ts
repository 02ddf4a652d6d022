/**
 * What every command that talks to 1fichier shares: the account options (same names as
 * `fichfs mount`), a logger at the chosen level, and an opened account that is always closed.
 */
import type { Argv } from 'yargs'
import { createLogger, type Logger } from '../log.js'
import { isRejectedKey, openAccount, type OpenAccount } from './account.js'
import { defaultCacheDir } from './config.js'

export interface AccountArgs {
  endpoint?: string
  'api-key-file'?: string
  'cache-dir'?: string
  'time-scale': number
  verbose: number
}

export function accountOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('endpoint', { type: 'string', describe: 'API base URL (default: https://api.1fichier.com/v1; the emulator prints its own)', group: 'Account:' })
    .option('api-key-file', { type: 'string', describe: 'File holding the API key (mode 0600). Or set FICHFS_API_KEY, or run `fichfs login`', group: 'Account:' })
    .option('cache-dir', { type: 'string', describe: `Metadata cache shared with the mount (default ${defaultCacheDir()})`, group: 'Account:' })
    .option('verbose', { alias: 'v', type: 'count', describe: 'More logs on stderr (-v info, -vv debug)', group: 'Logging:' })
    .option('time-scale', { type: 'number', default: 1, hidden: true, describe: 'Divide rate-limit timings (tests against a time-scaled emulator)' })
}

export function commandLogger(verbose: number): Logger {
  const level = verbose >= 2 ? 'debug' : verbose === 1 ? 'info' : (process.env.FICHFS_LOG_LEVEL ?? 'warn')
  return createLogger({ level })
}

export function timeScale(args: { 'time-scale': number }): number {
  return args['time-scale'] > 0 ? args['time-scale'] : 1
}

export interface AccountSession extends OpenAccount {
  log: Logger
  scale: number
}

/**
 * Open the account, run `work`, close it whatever happens. `overrides` come from a running
 * mount when a path given on the command line lies inside it (its endpoint and cache).
 */
export async function withAccount<T>(
  args: AccountArgs,
  work: (session: AccountSession) => Promise<T>,
  overrides: { endpoint?: string; cacheDir?: string; apiKey?: string } = {},
): Promise<T> {
  const log = commandLogger(args.verbose)
  const scale = timeScale(args)
  const account = openAccount({
    endpoint: args.endpoint ?? overrides.endpoint,
    apiKeyFile: args['api-key-file'],
    apiKey: overrides.apiKey,
    cacheDir: args['cache-dir'] ?? overrides.cacheDir,
    timeScale: scale,
    log,
  })
  log.debug({ endpoint: args.endpoint ?? overrides.endpoint ?? 'default', keySource: account.keySource, cache: account.accountDir }, 'account opened')
  let rejected = false
  try {
    return await work({ ...account, log, scale })
  } catch (error) {
    rejected = isRejectedKey(error)
    throw error
  } finally {
    await account.close({ discard: rejected })
  }
}
