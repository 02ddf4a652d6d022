/**
 * `fichfs upload FILE... [--to PATH]`: send local files into a folder of the account, without a
 * mount, with a progress display. Up to 500 files go in one upload request. A name that already
 * exists there is refused unless `--replace` (then the old file goes to the trash once the new
 * one is confirmed, as an overwrite through the mount does; `--no-trash` deletes it). The
 * uploaded files enter the metadata cache, so a mount of the same account and `fichfs ls` show
 * them without a listing.
 */
import { closeSync, createReadStream, openSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { uploadMayHaveArrived } from '../../client/retry.js'
import { LIMITS } from '../../client/wire.js'
import type { UploadSource } from '../../client/types.js'
import { FichfsError } from '../../errors.js'
import { Trash } from '../../fs/trash.js'
import { openNamespace, resolveEntry, withAccountAt } from '../lookup.js'
import { accountOptions, type AccountArgs } from '../options.js'
import { joinAccountPath } from '../paths.js'
import { createProgress } from '../progress.js'
import { formatBytes, printJson } from '../format.js'

interface UploadArgs extends AccountArgs {
  files: string[]
  to: string
  replace: boolean
  trash: boolean
  json: boolean
}

interface UploadedLine {
  path: string
  url: string
  size: number
  whirlpool: string
}

export const uploadCommand: CommandModule<object, UploadArgs> = {
  command: 'upload <files..>',
  describe: 'Upload local files into a folder of the account (no mount needed)',
  builder: (yargs) => accountOptions(yargs)
    .positional('files', { type: 'string', array: true, describe: 'Local files to send' })
    .option('to', { type: 'string', default: '/', describe: 'Account folder to put them in (or a folder inside a running mount)' })
    .option('replace', { type: 'boolean', default: false, describe: 'Replace files of the same name (the old one goes to the trash after the upload)' })
    .option('trash', { type: 'boolean', default: true, describe: 'With --replace: --no-trash deletes the old files for good' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
    .example('$0 upload film.mkv notes.txt --to /backup', 'send two files into /backup') as unknown as Argv<UploadArgs>,
  handler: async (args) => {
    const sources = (args.files ?? []).map(String).map(localSource)
    const names = new Set<string>()
    for (const source of sources) {
      if (names.has(source.name)) throw new FichfsError('FICHFS_SAME_NAME', `two files are named ${source.name}`, { hint: 'Upload them into different folders.' })
      names.add(source.name)
    }
    await withAccountAt(args, args.to, async (session, located) => {
      const namespace = openNamespace(session)
      const entry = await resolveEntry(namespace, located)
      if (entry.kind !== 'folder') throw new FichfsError('FICHFS_NOT_A_FOLDER', `${located.accountPath} is not a folder`, { hint: '--to names the folder the files go into.' })
      const folderId = entry.folder.id
      await namespace.ensureListed(folderId)
      const replaced = new Map<string, string>()
      for (const source of sources) {
        const existing = namespace.entryIn(folderId, source.name)
        if (!existing) continue
        if (existing.kind !== 'remote' || !args.replace) {
          throw new FichfsError('FICHFS_EXISTS', `${joinAccountPath(located.accountPath, source.name)} already exists`, {
            hint: existing.kind === 'remote' ? 'Add --replace to replace it.' : 'A folder, or a file a mount has not uploaded yet, has that name.',
          })
        }
        replaced.set(source.name, existing.file.url)
      }

      const total = sources.reduce((sum, source) => sum + source.size, 0)
      const progress = createProgress({ label: `fichfs: uploading to ${located.accountPath}`, unit: 'bytes' })
      const uploaded: UploadedLine[] = []
      const failed: Array<{ name: string; error: string }> = []
      const obsolete: string[] = []
      let sentBefore = 0
      for (let first = 0; first < sources.length; first += LIMITS.maxFilesPerUpload) {
        const batch = sources.slice(first, first + LIMITS.maxFilesPerUpload)
        const result = await session.client.upload(folderId, batch, {
          onProgress: (bytes) => progress.update({ done: sentBefore + bytes, total, detail: `${sources.length - first} file(s) left` }),
        }).catch((error: unknown) => {
          // The client does not send such a batch again (it could make second copies): say so.
          if (!uploadMayHaveArrived(error)) throw error
          throw new FichfsError('FICHFS_UPLOAD_UNCONFIRMED', `1fichier may have stored ${batch.map((source) => source.name).join(', ')}, but never confirmed it: ${(error as Error).message}`, {
            hint: `Run \`fichfs ls ${located.accountPath}\` before sending them again: 1fichier keeps files of the same name side by side.`,
            cause: error,
          })
        })
        sentBefore += batch.reduce((sum, source) => sum + source.size, 0)
        for (const file of result.uploaded) {
          session.store.putFile(folderId, { url: file.url, name: file.name, size: file.size, uploadedAt: Date.now(), checksum: file.whirlpool })
          uploaded.push({ path: joinAccountPath(located.accountPath, file.name), url: file.url, size: file.size, whirlpool: file.whirlpool })
          const old = replaced.get(file.name)
          if (old) obsolete.push(old)
        }
        for (const failure of result.failed) failed.push({ name: failure.name, error: failure.error.message })
      }
      progress.finish(`fichfs: ${uploaded.length} file(s) uploaded (${formatBytes(uploaded.reduce((sum, file) => sum + file.size, 0))})`)

      // The old versions go only once their replacements are confirmed: into the trash (100 per
      // file/mv call), as an overwrite through the mount does, or for good with --no-trash.
      const kept = args.trash ? obsolete.map((url) => session.store.fileByUrl(url)).filter((file) => file !== undefined) : []
      if (kept.length > 0) {
        const trash = new Trash(session.client, session.store, namespace, { retentionMs: 0 }, session.log)
        session.store.db.transaction(() => {
          for (const file of kept) trash.queueFile(file, 'overwritten')
        })()
        await trash.moveQueued()
      }
      const gone = obsolete.filter((url) => !kept.some((file) => file.url === url))
      if (gone.length > 0) {
        await session.client.removeFiles(gone)
        for (const url of gone) {
          session.store.deleteFile(url)
          session.store.deleteAttrs(url)
        }
      }

      if (args.json) printJson({ uploaded, failed })
      else for (const file of uploaded) process.stdout.write(`${file.path}\t${file.url}\n`)
      if (failed.length > 0) {
        throw new FichfsError('FICHFS_UPLOAD_FAILED', failed.map((failure) => `upload failed for ${failure.name}: ${failure.error}`).join('; '), {
          hint: 'The other files were uploaded; run the same command again for these.',
        })
      }
    })
  },
}

/** A local regular file, checked before any API call. */
function localSource(path: string): UploadSource {
  let size: number
  try {
    const stat = statSync(path)
    if (stat.isDirectory()) {
      throw new FichfsError('FICHFS_IS_A_FOLDER', `${path} is a folder`, { hint: 'Upload files one by one, or copy the folder into a mount (cp -r, rsync -a).' })
    }
    if (!stat.isFile()) throw new FichfsError('FICHFS_NOT_A_FILE', `${path} is not a regular file`)
    size = stat.size
    // Readable by us? Found now, not as a "connection failed" once the upload has begun.
    closeSync(openSync(path, 'r'))
  } catch (error) {
    if (error instanceof FichfsError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM') {
      throw new FichfsError('FICHFS_UNREADABLE', `permission denied: cannot read ${path}`, { hint: 'Check its permissions (ls -l): fichfs reads it with your rights.' })
    }
    throw new FichfsError('FICHFS_NO_SUCH_FILE', `cannot read ${path}: ${code ?? (error as Error).message}`)
  }
  if (size === 0) throw new FichfsError('FICHFS_EMPTY_FILE', `${path} is empty, and 1fichier refuses empty files`)
  return { name: basename(path), size, path, open: () => createReadStream(path, { highWaterMark: 1 << 20 }) }
}
