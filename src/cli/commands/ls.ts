/**
 * `fichfs ls [PATH]`: a folder of the account without mounting, read through the mount's
 * metadata cache (a folder listed recently costs no API call). Files the mount has not
 * uploaded yet are shown too, marked pending.
 */
import type { Argv, CommandModule } from 'yargs'
import type { Entry, FolderView } from '../../fs/namespace.js'
import { printJson } from '../format.js'
import { DEFAULT_DIR_CACHE_TIME, openNamespace, resolveEntry, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs } from '../options.js'

interface LsArgs extends AccountArgs {
  path?: string
  long: boolean
  json: boolean
  'dir-cache-time': string
}

export interface ListedEntry {
  name: string
  type: 'folder' | 'file'
  /** Folders: the 1fichier folder id. */
  id?: number
  /** Files: the 1fichier URL (absent while the upload is pending). */
  url?: string
  size?: number
  /** ISO 8601; upload date of a file, creation date of a folder. */
  date?: string
  whirlpool?: string
  passwordProtected?: boolean
  /** Written in the mount, not uploaded yet. */
  pending?: boolean
}

export const lsCommand: CommandModule<object, LsArgs> = {
  command: 'ls [path]',
  describe: 'List a folder of the account (without mounting)',
  builder: (yargs) => accountOptions(yargs)
    .positional('path', { type: 'string', describe: 'Account path (default /), or a path inside a running mount' })
    .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'Size, date and flags (p: password, u: upload pending)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON (URLs, sizes, Whirlpool checksums)' })
    .option('dir-cache-time', { type: 'string', default: DEFAULT_DIR_CACHE_TIME, describe: 'Trust a cached listing this long (as the mount does)' }) as unknown as Argv<LsArgs>,
  handler: async (args) => {
    const entries = await withAccountAt(args, args.path, async (session, located) => {
      const namespace = openNamespace(session, args['dir-cache-time'])
      const entry = await resolveEntry(namespace, located)
      const listed = entry.kind === 'folder' ? fromView(await namespace.view(entry.folder.id)) : [fromEntry(entry)]
      session.log.info({ path: located.accountPath, listings: namespace.listingCalls }, namespace.listingCalls > 0 ? 'listed' : 'served from the cache')
      return listed
    })
    if (args.json) printJson(entries)
    else if (args.long) process.stdout.write(formatLong(entries))
    else process.stdout.write(entries.map((entry) => `${entry.name}${entry.type === 'folder' ? '/' : ''}\n`).join(''))
  },
}

function iso(ms: number | null | undefined): string | undefined {
  return ms === null || ms === undefined ? undefined : new Date(ms).toISOString()
}

function fromEntry(entry: Entry): ListedEntry {
  if (entry.kind === 'folder') return { name: entry.folder.name, type: 'folder', id: entry.folder.id, date: iso(entry.folder.createdAt) }
  if (entry.kind === 'remote') {
    const file = entry.file
    return {
      name: file.displayName, type: 'file', url: file.url, size: file.size, date: iso(file.uploadedAt),
      whirlpool: file.checksum ?? undefined, passwordProtected: file.passwordProtected,
    }
  }
  return { name: entry.local.name, type: 'file', size: entry.local.size, date: iso(entry.local.mtime), pending: true }
}

function fromView(view: FolderView): ListedEntry[] {
  const entries = [
    ...view.folders.map((folder) => fromEntry({ kind: 'folder', folder })),
    ...view.remote.map((file) => fromEntry({ kind: 'remote', parentId: file.folderId, file })),
    ...view.local.map((local) => fromEntry({ kind: 'local', parentId: local.folderId, local })),
  ]
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** ls -l style: flags, size in bytes, local date, name (folders end in /). */
export function formatLong(entries: ListedEntry[]): string {
  const sizes = entries.map((entry) => (entry.type === 'folder' ? '-' : String(entry.size ?? 0)))
  const width = Math.max(1, ...sizes.map((size) => size.length))
  return entries.map((entry, index) => {
    const flags = `${entry.type === 'folder' ? 'd' : '-'}${entry.passwordProtected ? 'p' : '-'}${entry.pending ? 'u' : '-'}`
    const date = entry.date ? localDate(new Date(entry.date)) : '                '
    return `${flags} ${(sizes[index] as string).padStart(width)} ${date} ${entry.name}${entry.type === 'folder' ? '/' : ''}\n`
  }).join('')
}

function localDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`
}
