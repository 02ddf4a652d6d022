/**
 * `fichfs trash list|restore|empty`: the account's trash (src/fs/trash.ts), with or without a
 * running mount. Like `fichfs ls`, these open the account's metadata database (the mount's own
 * when a PATH, or the current directory, lies inside a running mount) and share the mount's pacer
 * budget. A running mount reads the same database, so it shows a restore at once.
 */
import type { Argv, CommandModule } from 'yargs'
import type { TrashRow } from '../../cache/metadata-store.js'
import { FichfsError } from '../../errors.js'
import { Trash, TRASH_FOLDER_NAME } from '../../fs/trash.js'
import { parseDuration } from '../config.js'
import { formatBytes, printJson } from '../format.js'
import { DEFAULT_DIR_CACHE_TIME, openNamespace, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs, type AccountSession } from '../options.js'
import { locatePath } from '../paths.js'

interface ListArgs extends AccountArgs {
  path?: string
  json: boolean
}

interface RestoreArgs extends AccountArgs {
  paths?: string[]
  id?: number[]
  rename: boolean
  json: boolean
}

interface EmptyArgs extends AccountArgs {
  'older-than'?: string
  json: boolean
}

export interface TrashLine {
  id: number
  /** Where it was, in the account. */
  path: string
  type: 'file' | 'folder'
  size: number
  /** ISO 8601. */
  deleted: string
  reason: string
  /** trashed; moving (an old version on its way in); expunging (a desktop is deleting it for good). */
  state: string
  /** Its name in the mount's .Trash-<uid>/files. */
  trashName: string
  url?: string
  folderId?: number
}

function openTrash(session: AccountSession): Trash {
  return new Trash(session.client, session.store, openNamespace(session, DEFAULT_DIR_CACHE_TIME), { retentionMs: 0 }, session.log)
}

function lineOf(row: TrashRow): TrashLine {
  return {
    id: row.id, path: row.path, type: row.kind, size: row.size, deleted: new Date(row.deletedAt).toISOString(), reason: row.reason,
    state: row.state, trashName: row.viewName, ...(row.url ? { url: row.url } : {}), ...(row.folderId !== null ? { folderId: row.folderId } : {}),
  }
}

const listCommand: CommandModule<object, ListArgs> = {
  command: 'list [path]',
  describe: 'What is in the trash: where each entry was, when and why it was deleted',
  builder: (yargs) => accountOptions(yargs)
    .positional('path', { type: 'string', describe: 'Only what was at or under this path (an account path, or one inside a running mount)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as unknown as Argv<ListArgs>,
  handler: async (args) => {
    const lines = await withAccountAt(args, args.path, async (session, located) => {
      const prefix = located.accountPath === '/' ? '/' : `${located.accountPath}/`
      return session.store.trashEntries()
        .filter((row) => row.path === located.accountPath || row.path.startsWith(prefix))
        .map(lineOf)
    })
    if (args.json) return printJson(lines)
    if (lines.length === 0) {
      process.stdout.write('The trash is empty.\n')
      return
    }
    process.stdout.write(formatList(lines))
  },
}

/** One line per entry, oldest first, then a total. */
export function formatList(lines: TrashLine[]): string {
  const sizes = lines.map((line) => (line.type === 'folder' ? '-' : formatBytes(line.size)))
  const ids = lines.map((line) => `#${line.id}`)
  const reasons = lines.map((line) => line.reason)
  const width = (values: string[]) => Math.max(...values.map((value) => value.length))
  const rows = lines.map((line, index) => [
    (ids[index] as string).padStart(width(ids)), localDate(new Date(line.deleted)), (sizes[index] as string).padStart(width(sizes)),
    (reasons[index] as string).padEnd(width(reasons)),
    `${line.path}${line.type === 'folder' ? '/' : ''}${line.state === 'expunging' ? '  (being deleted for good)' : ''}`,
  ].join('  '))
  const bytes = lines.reduce((sum, line) => sum + line.size, 0)
  return `${rows.join('\n')}\n${lines.length} item(s), ${formatBytes(bytes)} in /${TRASH_FOLDER_NAME} (it counts in the account's used space)\n`
}

const restoreCommand: CommandModule<object, RestoreArgs> = {
  command: 'restore [paths..]',
  describe: 'Put deleted files and folders back where they were',
  builder: (yargs) => accountOptions(yargs)
    .positional('paths', { type: 'string', array: true, describe: 'Where they were (account paths, or paths inside a running mount); a folder brings back what was under it' })
    .option('id', { type: 'number', array: true, describe: 'Entries by their number in `fichfs trash list` (another version of a path)' })
    .option('rename', { type: 'boolean', default: false, describe: 'Restore beside a file of the same name as "name (restored)" instead of refusing' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
    .example('$0 trash restore ~/1fichier/photos', 'bring back /photos and everything deleted under it')
    .example('$0 trash restore --rename /notes.txt', 'bring back the version an overwrite replaced, beside the new one') as unknown as Argv<RestoreArgs>,
  handler: async (args) => {
    const paths = (args.paths ?? []).map(String)
    const ids = (args.id ?? []).map(Number)
    if (paths.length === 0 && ids.length === 0) throw new FichfsError('FICHFS_NOTHING_TO_RESTORE', 'name what to restore', { hint: 'Give the path it had, or --id N from `fichfs trash list`.' })
    const restored = await withAccountAt(args, paths[0], async (session, first) => {
      const trash = openTrash(session)
      const rows = new Map<number, TrashRow>()
      for (const [index, path] of paths.entries()) {
        const located = index === 0 ? first : await locatePath(path)
        if (located.mount?.mountpoint !== first.mount?.mountpoint) throw new FichfsError('FICHFS_TWO_ACCOUNTS', 'these paths are in different mounts', { hint: 'Restore them one mount at a time.' })
        const selected = trash.select(located.accountPath)
        if (selected.length === 0) {
          throw new FichfsError('FICHFS_NOT_IN_TRASH', `nothing deleted at ${located.accountPath} is in the trash`, { hint: '`fichfs trash list` shows what is.' })
        }
        for (const row of selected) rows.set(row.id, row)
      }
      for (const id of ids) {
        const row = session.store.trashEntry(id)
        if (!row || row.state !== 'trashed') throw new FichfsError('FICHFS_NOT_IN_TRASH', `no trash entry #${id}`, { hint: '`fichfs trash list` shows the numbers.' })
        rows.set(row.id, row)
      }
      return trash.restore([...rows.values()], { rename: args.rename })
    })
    if (args.json) return printJson(restored.map((item) => ({ ...lineOf(item.entry), restoredTo: item.path })))
    for (const item of restored.sort((a, b) => a.path.localeCompare(b.path))) {
      process.stdout.write(item.path === item.entry.path ? `restored ${item.path}\n` : `restored ${item.entry.path} as ${item.path}\n`)
    }
  },
}

const emptyCommand: CommandModule<object, EmptyArgs> = {
  command: 'empty',
  describe: 'Delete what is in the trash for good (frees the space it takes)',
  builder: (yargs) => accountOptions(yargs)
    .option('older-than', { type: 'string', describe: 'Only entries deleted longer ago than this (30d, 12h, ...)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as unknown as Argv<EmptyArgs>,
  handler: async (args) => {
    const olderThanMs = args['older-than'] === undefined ? undefined : parseDuration(args['older-than'])
    const count = await withAccountAt(args, undefined, (session) => openTrash(session).empty({ olderThanMs }))
    if (args.json) return printJson(count)
    process.stdout.write(`deleted for good: ${count.files} file(s), ${count.folders} folder(s), ${formatBytes(count.bytes)}\n`)
  },
}

export const trashCommand: CommandModule<object, object> = {
  command: 'trash',
  describe: 'List, restore or empty what the mount deleted (kept in the account\'s trash folder)',
  builder: (yargs) => yargs
    .command(listCommand)
    .command(restoreCommand)
    .command(emptyCommand)
    .demandCommand(1, 'Name a trash command: list, restore or empty.'),
  handler: () => undefined,
}

function localDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`
}
