/**
 * Filesystem errors, and the one place where any failure becomes an errno for FUSE.
 *
 * The errno is chosen where a failure is understood (the client marks "not found" as ENOENT,
 * the core marks "not empty" as ENOTEMPTY, ...). Anything else is logged and answered EIO:
 * never a silent ENOENT for an error nobody understood.
 */
import { FichfsError, type ErrnoName } from '../errors.js'
import type { Logger } from '../log.js'

export class FsError extends FichfsError {
  constructor(errno: ErrnoName, message: string, cause?: unknown) {
    super(`FICHFS_FS_${errno}`, message, { errno, cause })
    this.name = 'FsError'
  }
}

export function fsError(errno: ErrnoName, message: string, cause?: unknown): FsError {
  return new FsError(errno, message, cause)
}

/** Linux errno numbers (the adapter answers their negatives). */
export const ERRNO: Record<ErrnoName, number> = {
  EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, EACCES: 13, EBUSY: 16, EEXIST: 17, EXDEV: 18,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27, ENOSPC: 28, EROFS: 30, ENAMETOOLONG: 36,
  ENOSYS: 38, ENOTEMPTY: 39, ENODATA: 61, ENOTSUP: 95, ETIMEDOUT: 110, ECONNREFUSED: 111, ENOTCONN: 107,
}

/** Errnos that are an ordinary answer, not a failure worth a warning (a lookup miss). */
const QUIET = new Set<ErrnoName>(['ENOENT', 'EEXIST', 'ENOTEMPTY', 'ENODATA', 'ENOTDIR', 'EISDIR'])

/**
 * The disk under the cache is full: SQLite's "database or disk is full" (SQLITE_FULL), a
 * spool write's ENOSPC (or EDQUOT, a quota), or our own ENOSPC.
 */
export function isDiskFull(error: unknown): boolean {
  if (error instanceof FichfsError) return error.errno === 'ENOSPC'
  const code = (error as { code?: unknown } | undefined)?.code
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT'
}

/** The errno to answer for any error; logs what deserves it. */
export function toErrno(error: unknown, op: string, path: string, log?: Logger): number {
  if (!(error instanceof FichfsError) && isDiskFull(error)) {
    // Understood, not unexpected: the cache disk is full (cache-space.ts says where).
    log?.warn({ op, path, err: (error as Error).message }, `${op}: no space left on the cache disk, answering ENOSPC`)
    return ERRNO.ENOSPC
  }
  if (error instanceof FichfsError && error.errno) {
    const details = { op, path, code: error.code, errno: error.errno, err: error.message }
    if (QUIET.has(error.errno)) log?.debug(details, `${op}: ${error.errno}`)
    else log?.warn(details, `${op} failed`)
    return ERRNO[error.errno]
  }
  log?.error({ op, path, err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, `${op}: unexpected failure, answering EIO`)
  return ERRNO.EIO
}
