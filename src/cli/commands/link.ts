/**
 * `fichfs link PATH`: the 1fichier URL of a file (`https://1fichier.com/?<id>`), the link to
 * share. Read from the metadata cache: no API call when the folder was listed recently.
 */
import type { Argv, CommandModule } from 'yargs'
import { openNamespace, resolveRemoteFile, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs } from '../options.js'

interface LinkArgs extends AccountArgs {
  path: string
}

export const linkCommand: CommandModule<object, LinkArgs> = {
  command: 'link <path>',
  describe: 'Print the 1fichier URL of a file',
  builder: (yargs) => accountOptions(yargs)
    .positional('path', { type: 'string', demandOption: true, describe: 'Account path, or a path inside a running mount' }) as unknown as Argv<LinkArgs>,
  handler: async (args) => {
    const url = await withAccountAt(args, args.path, async (session, located) => {
      const { file } = await resolveRemoteFile(openNamespace(session), located)
      return file.url
    })
    process.stdout.write(`${url}\n`)
  },
}
