/**
 * `fichfs verify LOCAL_DIR REMOTE_PATH`: is the backup intact? Compares a local tree with a
 * folder of the account by names, sizes and Whirlpool checksums, without downloading anything
 * (the comparison is ../verify.ts). REMOTE_PATH may be a folder inside a running mount: the
 * mount's account, cache and pacer budget are used, as for `fichfs ls`.
 *
 * Exit status, for scripts: 0 identical, 1 different, 2 when something could not be checked
 * (an error, an unreadable file, a file without a checksum on 1fichier).
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { LocalHashCache } from '../../cache/hash-cache.js'
import { whirlpoolOfFileStreamed } from '../../client/whirlpool.js'
import { FichfsError } from '../../errors.js'
import { formatBytes, formatError, printJson } from '../format.js'
import { DEFAULT_DIR_CACHE_TIME, openNamespace, resolveEntry, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs } from '../options.js'
import { fichfsMountpoints, mountContaining } from '../paths.js'
import { createProgress, type Progress } from '../progress.js'
import { verifyTrees, type Finding, type VerifyReport } from '../verify.js'

interface VerifyArgs extends AccountArgs {
  local: string
  remote: string
  'one-way': boolean
  json: boolean
  rehash: boolean
  'dir-cache-time': string
}

export const EXIT = { identical: 0, different: 1, error: 2 } as const

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <local> <remote>',
  describe: 'Compare a local folder with an account folder (Whirlpool, no download)',
  builder: (yargs) => accountOptions(yargs)
    .positional('local', { type: 'string', demandOption: true, describe: 'The local folder (the original)' })
    .positional('remote', { type: 'string', demandOption: true, describe: 'Account folder, or a folder inside a running mount' })
    .option('one-way', { type: 'boolean', default: false, describe: 'Only check that local files are on 1fichier (ignore extra files there)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
    .option('rehash', { type: 'boolean', default: false, describe: 'Hash every local file again (ignore the remembered hashes)' })
    .option('dir-cache-time', { type: 'string', default: DEFAULT_DIR_CACHE_TIME, describe: 'Trust a cached listing this long (as the mount does)' })
    .example('$0 verify ~/photos /backup/photos', 'exit 0 if /backup/photos holds exactly ~/photos')
    .example('$0 verify ~/photos ~/1fichier/backup/photos --one-way', 'the same through a running mount, ignoring extra files')
    .epilog('Exit status: 0 identical, 1 different, 2 something could not be checked.') as unknown as Argv<VerifyArgs>,
  handler: async (args) => {
    try {
      const report = await verify(args)
      if (args.json) printJson(report)
      else process.stdout.write(report.findings.map(formatFinding).join(''))
      process.stderr.write(`${summary(report)}\n`)
      process.exitCode = exitStatus(report)
    } catch (error) {
      process.stderr.write(formatError(error))
      process.exitCode = EXIT.error
    }
  },
}

async function verify(args: VerifyArgs): Promise<VerifyReport> {
  const localRoot = resolve(args.local)
  checkLocalRoot(localRoot)
  return withAccountAt(args, args.remote, async (session, located) => {
    const namespace = openNamespace(session, args['dir-cache-time'])
    const entry = await resolveEntry(namespace, located)
    if (entry.kind !== 'folder') throw new FichfsError('FICHFS_NOT_A_FOLDER', `${located.accountPath} is not a folder`, { hint: 'verify compares a local folder with a folder of the account.' })
    const display = process.stderr.isTTY ? new VerifyProgress() : undefined
    const note = (line: string) => (display ? display.note(line) : process.stderr.write(`${line}\n`))
    try {
      const report = await verifyTrees({
        localRoot,
        folderId: entry.folder.id,
        remote: namespace,
        hashes: new LocalHashCache(session.store.db),
        hashFile: whirlpoolOfFileStreamed,
        oneWay: args['one-way'],
        rehash: args.rehash,
        onListing: (folders) => display?.listing(folders),
        onHashing: (state) => display?.hashing(state),
        // A mount cannot hold symbolic links or special files: they are not part of a backup.
        onSkipped: (path) => note(`fichfs: skipped ${path} (not a file or folder)`),
      })
      session.log.info({ path: located.accountPath, listings: report.listings, hashedBytes: report.hashed.bytes }, 'verified')
      return report
    } finally {
      display?.finish()
    }
  })
}

function checkLocalRoot(localRoot: string): void {
  let isFolder = false
  try {
    isFolder = statSync(localRoot).isDirectory()
  } catch (error) {
    throw new FichfsError('FICHFS_NO_SUCH_FILE', `cannot read ${localRoot}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (!isFolder) throw new FichfsError('FICHFS_NOT_A_FOLDER', `${localRoot} is not a folder`)
  const mountpoint = mountContaining(localRoot, fichfsMountpoints())
  if (mountpoint) {
    // Hashing files through a mount would download all of them: the very thing verify avoids.
    throw new FichfsError('FICHFS_LOCAL_IN_MOUNT', `${localRoot} is inside the fichfs mount ${mountpoint}`, {
      hint: 'LOCAL is the original (on this machine); REMOTE is the copy on 1fichier (an account path or a folder inside the mount).',
    })
  }
}

/** The progress on a terminal: folders listed, then bytes hashed. */
class VerifyProgress {
  private current?: { kind: 'listing' | 'hashing'; display: Progress }

  listing(folders: number): void {
    this.use('listing').update({ done: folders, detail: 'folder(s) compared' })
  }

  hashing(state: { done: number; total: number; path: string }): void {
    this.use('hashing').update({ done: state.done, total: state.total, detail: state.path })
  }

  note(line: string): void {
    if (this.current) this.current.display.log(line)
    else process.stderr.write(`${line}\n`)
  }

  finish(): void {
    this.current?.display.finish()
    this.current = undefined
  }

  private use(kind: 'listing' | 'hashing'): Progress {
    if (this.current?.kind !== kind) {
      this.current?.display.finish()
      this.current = { kind, display: createProgress({ label: kind === 'listing' ? 'fichfs: listing' : 'fichfs: hashing', unit: kind === 'listing' ? 'items' : 'bytes' }) }
    }
    return this.current.display
  }
}

export function exitStatus(report: VerifyReport): number {
  if (report.counts.error > 0 || report.counts.unchecked > 0) return EXIT.error
  return report.identical ? EXIT.identical : EXIT.different
}

/** One line per finding: a word scripts can match, the path (folders end in /), the detail. */
export function formatFinding(finding: Finding): string {
  const path = `${finding.path}${finding.type === 'folder' ? '/' : ''}`
  return `${finding.kind.padEnd(9)} ${path}${detail(finding)}\n`
}

function detail(finding: Finding): string {
  switch (finding.kind) {
    case 'missing':
      return finding.type === 'folder' ? ` (not on 1fichier, ${finding.files ?? 0} file(s) in it)` : ' (not on 1fichier)'
    case 'extra':
      if (finding.pending) return ' (only in the mount, not uploaded yet)'
      return finding.type === 'folder' ? ' (only on 1fichier)' : ` (only on 1fichier${finding.copies ? `, ${finding.copies} files of this name` : ''})`
    case 'differ':
      return finding.reason === 'size'
        ? ` (size: ${finding.localSize} bytes here, ${finding.remoteSize} on 1fichier)`
        : ' (same size, different Whirlpool checksum)'
    case 'duplicate':
      return ` (${finding.copies} files of this name on 1fichier, ${finding.identicalCopies} identical to this one)`
    case 'pending':
      return ' (the mount has not uploaded it yet)'
    case 'unchecked':
    case 'error':
      return finding.message ? ` (${finding.message})` : ''
  }
}

export function summary(report: VerifyReport): string {
  const c = report.counts
  const parts = [`${c.identical} identical`]
  for (const [kind, label] of [['missing', 'missing'], ['extra', 'extra'], ['differ', 'different'], ['duplicate', 'duplicate'], ['pending', 'pending'], ['unchecked', 'unchecked'], ['error', 'error(s)']] as const) {
    if (c[kind] > 0) parts.push(`${c[kind]} ${label}`)
  }
  const verdict = exitStatus(report) === EXIT.identical ? 'identical' : exitStatus(report) === EXIT.different ? 'differences found' : 'not everything could be checked'
  const hashed = `hashed ${report.hashed.files} file(s), ${formatBytes(report.hashed.bytes)}; ${report.hashed.fromCache} from the hash cache`
  return `fichfs: ${verdict}: ${parts.join(', ')} (${report.local.files} local file(s), ${formatBytes(report.local.bytes)}; ${hashed}; ${report.listings} listing(s))`
}
