/**
 * `fichfs describe PATH [TEXT]`: set a file's description at 1fichier (file/chattr
 * `description`; an empty TEXT clears it), or print it when TEXT is left out (file/info).
 */
import type { Argv, CommandModule } from 'yargs'
import { openNamespace, resolveRemoteFile, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs } from '../options.js'

interface DescribeArgs extends AccountArgs {
  path: string
  text?: string
}

export const describeCommand: CommandModule<object, DescribeArgs> = {
  command: 'describe <path> [text]',
  describe: 'Set (or show) the description of a file',
  builder: (yargs) => accountOptions(yargs)
    .positional('path', { type: 'string', demandOption: true, describe: 'Account path, or a path inside a running mount' })
    .positional('text', { type: 'string', describe: 'The description; "" clears it; leave it out to print the current one' }) as unknown as Argv<DescribeArgs>,
  handler: async (args) => {
    await withAccountAt(args, args.path, async (session, located) => {
      const { file } = await resolveRemoteFile(openNamespace(session), located)
      if (args.text === undefined) {
        const details = await session.client.fileInfo(file.url)
        process.stdout.write(`${details.description ?? ''}\n`)
        return
      }
      const text = String(args.text)
      await session.client.setAttributes([file.url], { description: text })
      process.stdout.write(text ? `fichfs: description of ${located.accountPath} set\n` : `fichfs: description of ${located.accountPath} cleared\n`)
    })
  },
}
