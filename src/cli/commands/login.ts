/**
 * `fichfs login`: check an API key with user/info and store it for every later command.
 * The key is typed at a prompt that echoes nothing, or piped on stdin (`--stdin`), or taken
 * from a key file (`--api-key-file`); never from an argument.
 */
import type { Argv, CommandModule } from 'yargs'
import type { AccountInfo } from '../../client/types.js'
import { FichfsError } from '../../errors.js'
import { registerSecret } from '../../log.js'
import { openAccount } from '../account.js'
import { defaultCacheDir, KEY_ARGUMENT_REFUSED, readKeyFile } from '../config.js'
import { checkKeyShape, storeKey } from '../key-store.js'
import { accountOptions, commandLogger, timeScale, type AccountArgs } from '../options.js'
import { firstLine, promptSecret, readStdin } from '../secret-input.js'
import { offerName } from './info.js'

interface LoginArgs extends AccountArgs {
  stdin: boolean
}

export const loginCommand: CommandModule<object, LoginArgs> = {
  command: 'login',
  describe: 'Check your 1fichier API key and store it (asked without echo)',
  builder: (yargs) => accountOptions(yargs)
    .option('stdin', { type: 'boolean', default: false, describe: 'Read the key from stdin, for scripts: fichfs login --stdin < keyfile' })
    // `fichfs login KEY` would otherwise be refused as "Unknown argument: KEY", printing the key.
    .middleware((argv) => {
      if (argv._.length > 1) throw new FichfsError('FICHFS_KEY_ARGUMENT', 'the API key cannot be given on the command line', { hint: KEY_ARGUMENT_REFUSED })
    }, true)
    .epilog('The key is in the 1fichier console: https://1fichier.com/console/params.pl (Premium/Access accounts). ' +
      'It is stored in a file only you can read; `fichfs logout` removes it.') as unknown as Argv<LoginArgs>,
  handler: async (args) => {
    const key = await obtainKey(args)
    checkKeyShape(key)
    registerSecret(key)
    const info = await checkKey(args, key)
    const path = storeKey(key)
    process.stdout.write(`fichfs: the key works (${info.email || 'account'}, ${offerName(info.offer)}); stored in ${path}\n`)
    if (process.env.FICHFS_API_KEY) process.stderr.write('fichfs: note: FICHFS_API_KEY is set and takes precedence over the stored key.\n')
  },
}

async function obtainKey(args: LoginArgs): Promise<string> {
  if (args.stdin) return firstLine(await readStdin()).trim()
  if (args['api-key-file']) return readKeyFile(args['api-key-file'])
  if (process.stdin.isTTY) process.stderr.write('Your API key is in https://1fichier.com/console/params.pl; it is not shown as you paste it.\n')
  const key = await promptSecret('1fichier API key:', {
    validate: (value) => (value.trim() ? true : 'Paste the key, or press Ctrl+C'),
    noTerminalHint: 'Pipe the key in: fichfs login --stdin < keyfile (or use --api-key-file FILE).',
  })
  return key.trim()
}

/** user/info with this key; a rejected key leaves no cache directory behind. */
async function checkKey(args: LoginArgs, key: string): Promise<AccountInfo> {
  const cacheDir = args['cache-dir'] ?? defaultCacheDir()
  const account = openAccount({ apiKey: key, endpoint: args.endpoint, cacheDir, timeScale: timeScale(args), log: commandLogger(args.verbose) })
  let failed = false
  try {
    const info = await account.client.accountInfo()
    // The mount's statfs and `fichfs info` reuse it instead of asking again within the minute.
    account.store.setFact('account', info)
    return info
  } catch (error) {
    failed = true
    throw error
  } finally {
    await account.close({ discard: failed })
  }
}
