#!/usr/bin/env node
/**
 * The fichfs command line (yargs). Commands live in ./commands; this file only assembles them
 * and turns errors into one readable message with a hint (the key never appears: every
 * message goes through the secret scrubber).
 */
import yargs, { type CommandModule, type MiddlewareFunction } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { scrubSecrets } from '../log.js'
import { refuseKeyArguments } from './config.js'
import { formatError } from './format.js'

function fail(error: unknown): void {
  process.stderr.write(formatError(error))
  const message = error instanceof Error ? error.message : String(error)
  // A `--daemon` parent waits for this child's word.
  if (process.send) process.send({ ready: false, error: scrubSecrets(message) }, () => process.exit(1))
  else process.exit(1)
}

/**
 * An option given twice takes its last value (`--cache-dir A --cache-dir B` is B), the usual rule
 * of command lines, instead of reaching a command as an array it does not expect. Options and
 * positionals declared as lists (`fichfs upload FILES...`) keep every value. (yargs'
 * `duplicate-arguments-array: false` would do the first but break the second.)
 */
function lastValueWins(argv: Record<string, unknown>, parser: { getOptions(): { array: string[] } }): void {
  const lists = new Set(parser.getOptions().array)
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || !Array.isArray(value) || lists.has(key)) continue
    argv[key] = value.at(-1)
  }
}

/**
 * The commands, loaded on demand: `fichfs mount` (the daemon, which runs for days) loads only
 * its own command's code, not the emulator's, the uploader CLI's, etc. (several MiB of resident
 * memory each); help and unknown words load them all. In the order `fichfs --help` lists them.
 */
const COMMANDS: Array<[names: string[], load: () => Promise<CommandModule<any, any>>]> = [
  [['mount'], async () => (await import('./commands/mount.js')).mountCommand],
  [['unmount', 'umount'], async () => (await import('./commands/unmount.js')).unmountCommand],
  [['status'], async () => (await import('./commands/status.js')).statusCommand],
  [['login'], async () => (await import('./commands/login.js')).loginCommand],
  [['logout'], async () => (await import('./commands/logout.js')).logoutCommand],
  [['info'], async () => (await import('./commands/info.js')).infoCommand],
  [['ls'], async () => (await import('./commands/ls.js')).lsCommand],
  [['link'], async () => (await import('./commands/link.js')).linkCommand],
  [['protect'], async () => (await import('./commands/protect.js')).protectCommand],
  [['describe'], async () => (await import('./commands/describe.js')).describeCommand],
  [['upload'], async () => (await import('./commands/upload.js')).uploadCommand],
  [['trash'], async () => (await import('./commands/trash.js')).trashCommand],
  [['remote-upload'], async () => (await import('./commands/remote-upload.js')).remoteUploadCommand],
  [['verify'], async () => (await import('./commands/verify.js')).verifyCommand],
  [['demo'], async () => (await import('./commands/demo.js')).demoCommand],
  [['emulator'], async () => (await import('./commands/emulator.js')).emulatorCommand],
]

async function commandsFor(argv: string[]): Promise<Array<CommandModule<any, any>>> {
  const first = argv[0]
  const named = COMMANDS.find(([names]) => first !== undefined && names.includes(first))
  return Promise.all((named ? [named] : COMMANDS).map(([, load]) => load()))
}

async function main(): Promise<void> {
  const argv = hideBin(process.argv)
  refuseKeyArguments(argv)
  await yargs(argv)
    .scriptName('fichfs')
    // yargs calls middleware with the parser as a second argument (its types omit it).
    .middleware(lastValueWins as unknown as MiddlewareFunction, true)
    .usage('$0 <command> [options]\n\nUse a 1fichier.com account like a local folder.')
    .command(await commandsFor(argv))
    .demandCommand(1, 'Name a command: see `fichfs --help`.')
    .strict()
    .fail((message, error) => {
      if (error) throw error
      process.stderr.write(`fichfs: ${message}\nRun \`fichfs --help\` for the commands and options.\n`)
      process.exit(2)
    })
    .help()
    .parseAsync()
}

main().catch(fail)
