/**
 * `fichfs protect PATH`: set (or, with --clear, remove) the password 1fichier asks before a
 * download (file/chattr `pass`). The password comes from a file only its owner can read, from
 * stdin (`--password-stdin`) or from a prompt; never from an argument.
 */
import type { Argv, CommandModule } from 'yargs'
import { FichfsError } from '../../errors.js'
import { registerSecret } from '../../log.js'
import { openNamespace, resolveRemoteFile, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs } from '../options.js'
import { firstLine, promptSecret, readSecretFile, readStdin } from '../secret-input.js'

interface ProtectArgs extends AccountArgs {
  path: string
  'password-file'?: string
  'password-stdin': boolean
  clear: boolean
}

/** 1fichier refuses shorter download passwords (#711 in the emulator). */
export const MIN_PASSWORD_LENGTH = 6

export const protectCommand: CommandModule<object, ProtectArgs> = {
  command: 'protect <path>',
  describe: 'Protect a file\'s download with a password (or --clear it)',
  builder: (yargs) => accountOptions(yargs)
    .positional('path', { type: 'string', demandOption: true, describe: 'Account path, or a path inside a running mount' })
    .option('password-file', { type: 'string', describe: 'File holding the password (mode 0600). Without it (or --password-stdin), the password is asked' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'Read the password from stdin, for scripts' })
    .option('clear', { type: 'boolean', default: false, describe: 'Remove the password' })
    // Declared only to refuse them with a useful message rather than "unknown argument".
    .option('password', { type: 'string', hidden: true })
    .option('pass', { type: 'string', hidden: true })
    // `fichfs protect PATH PASSWORD` would otherwise be refused as "Unknown argument: PASSWORD".
    .middleware((argv) => {
      if (argv._.length > 1 || argv.password !== undefined || argv.pass !== undefined) throw passwordArgumentRefused()
    }, true) as unknown as Argv<ProtectArgs>,
  handler: async (args) => {
    if (args.clear && (args['password-file'] !== undefined || args['password-stdin'])) {
      throw new FichfsError('FICHFS_USAGE', '--clear removes the password: give no password with it')
    }
    const password = args.clear ? '' : await obtainPassword(args)
    await withAccountAt(args, args.path, async (session, located) => {
      const { file, parentId } = await resolveRemoteFile(openNamespace(session), located)
      await session.client.setAttributes([file.url], { password })
      // Keep the cached flag right for `ls -l` and the mount.
      session.store.putFile(parentId, {
        url: file.url, name: file.name, size: file.size, uploadedAt: file.uploadedAt ?? undefined,
        checksum: file.checksum ?? undefined, contentType: file.contentType ?? undefined, passwordProtected: password !== '',
      })
      process.stdout.write(password ? `fichfs: ${located.accountPath} now asks for a password before downloading\n` : `fichfs: removed the password of ${located.accountPath}\n`)
    })
  },
}

function passwordArgumentRefused(): FichfsError {
  return new FichfsError('FICHFS_SECRET_ARGUMENT', 'fichfs never takes a password as a command-line argument (it would show in `ps` and in shell history)', {
    hint: 'Use --password-file FILE (mode 0600), --password-stdin, or no option to be asked.',
  })
}

async function obtainPassword(args: ProtectArgs): Promise<string> {
  const password = args['password-stdin'] ? firstLine(await readStdin())
    : args['password-file'] !== undefined ? readSecretFile(args['password-file'], 'password')
      : await askTwice()
  registerSecret(password)
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new FichfsError('FICHFS_PASSWORD_TOO_SHORT', `1fichier download passwords need at least ${MIN_PASSWORD_LENGTH} characters`, {
      hint: 'To remove a password, use --clear.',
    })
  }
  return password
}

async function askTwice(): Promise<string> {
  const long = (value: string) => (value.length >= MIN_PASSWORD_LENGTH ? true : `At least ${MIN_PASSWORD_LENGTH} characters`)
  const noTerminalHint = 'Use --password-file FILE (mode 0600) or --password-stdin.'
  const first = await promptSecret('Download password:', { validate: long, noTerminalHint })
  const second = await promptSecret('Same password again:', { noTerminalHint })
  if (first !== second) throw new FichfsError('FICHFS_PASSWORD_MISMATCH', 'the two passwords differ; nothing was changed')
  return first
}
