/**
 * Finding account entries for commands, through the same metadata cache as the mount: a
 * folder listed less than `--dir-cache-time` ago (by the mount or an earlier command) costs
 * no API call, and a listing is paced by the gates the mount shares.
 */
import { FichfsError, isFichfsError } from '../errors.js'
import type { FileRow } from '../cache/metadata-store.js'
import { Namespace, type Entry } from '../fs/namespace.js'
import { parseDuration } from './config.js'
import { withAccount, type AccountArgs, type AccountSession } from './options.js'
import { locatePath, type LocatedPath } from './paths.js'

export const DEFAULT_DIR_CACHE_TIME = '5m'

export function openNamespace(session: AccountSession, dirCacheTime: string = DEFAULT_DIR_CACHE_TIME): Namespace {
  return new Namespace(session.store, session.client, parseDuration(dirCacheTime), session.log)
}

/** The entry at a located path, with errors that say which path and what it means. */
export async function resolveEntry(namespace: Namespace, located: LocatedPath): Promise<Entry> {
  try {
    return await namespace.resolve(located.accountPath)
  } catch (error) {
    if (isFichfsError(error) && error.errno === 'ENOENT') {
      throw new FichfsError('FICHFS_NOT_FOUND', `no such file or folder in the account: ${located.accountPath}`, {
        cause: error,
        hint: located.mount ? undefined : 'PATH is a path in the 1fichier account (see `fichfs ls /`), or a path inside a running fichfs mount.',
      })
    }
    if (isFichfsError(error) && error.errno === 'ENOTDIR') {
      throw new FichfsError('FICHFS_NOT_A_FOLDER', `${located.accountPath}: a part of this path is a file, not a folder`, { cause: error })
    }
    throw error
  }
}

/** The uploaded file at a path: refuses folders and files still waiting for their upload. */
export async function resolveRemoteFile(namespace: Namespace, located: LocatedPath): Promise<{ file: FileRow; parentId: number }> {
  const entry = await resolveEntry(namespace, located)
  if (entry.kind === 'folder') {
    throw new FichfsError('FICHFS_IS_A_FOLDER', `${located.accountPath} is a folder`, { hint: '1fichier links, passwords and descriptions belong to files.' })
  }
  if (entry.kind === 'local') {
    throw new FichfsError('FICHFS_NOT_UPLOADED', `${located.accountPath} is not uploaded yet (the mount still holds it)`, {
      hint: 'Wait for the upload (`fichfs status` shows what is pending), then try again.',
    })
  }
  return { file: entry.file, parentId: entry.parentId }
}

/** Locate PATH (mapping a path inside a running mount), then open the account it belongs to. */
export async function withAccountAt<T>(args: AccountArgs, input: string | undefined, work: (session: AccountSession, located: LocatedPath) => Promise<T>): Promise<T> {
  const located = await locatePath(input)
  return withAccount(args, (session) => work(session, located), { endpoint: located.mount?.endpoint, cacheDir: located.mount?.cacheDir })
}
