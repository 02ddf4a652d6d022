#!/usr/bin/env node
/**
 * The fichfs command line (yargs). Commands live in ./commands; this file only assembles them
 * and turns errors into one readable message with a hint (the key never appears: every
 * message goes through the secret scrubber).
 */
import yargs, { type MiddlewareFunction } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { scrubSecrets } from '../log.js'
import { demoCommand } from './commands/demo.js'
import { describeCommand } from './commands/describe.js'
import { emulatorCommand } from './commands/emulator.js'
import { infoCommand } from './commands/info.js'
import { linkCommand } from './commands/link.js'
import { loginCommand } from './commands/login.js'
import { logoutCommand } from './commands/logout.js'
import { lsCommand } from './commands/ls.js'
import { mountCommand } from './commands/mount.js'
import { protectCommand } from './commands/protect.js'
import { remoteUploadCommand } from './commands/remote-upload.js'
import { statusCommand } from './commands/status.js'
import { trashCommand } from './commands/trash.js'
import { unmountCommand } from './commands/unmount.js'
import { uploadCommand } from './commands/upload.js'
import { verifyCommand } from './commands/verify.js'
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

async function main(): Promise<void> {
  const argv = hideBin(process.argv)
  refuseKeyArguments(argv)
  await yargs(argv)
    .scriptName('fichfs')
    // yargs calls middleware with the parser as a second argument (its types omit it).
    .middleware(lastValueWins as unknown as MiddlewareFunction, true)
    .usage('$0 <command> [options]\n\nUse a 1fichier.com account like a local folder.')
    .command(mountCommand)
    .command(unmountCommand)
    .command(statusCommand)
    .command(loginCommand)
    .command(logoutCommand)
    .command(infoCommand)
    .command(lsCommand)
    .command(linkCommand)
    .command(protectCommand)
    .command(describeCommand)
    .command(uploadCommand)
    .command(trashCommand)
    .command(remoteUploadCommand)
    .command(verifyCommand)
    .command(demoCommand)
    .command(emulatorCommand)
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
