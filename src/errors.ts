/**
 * The one error family of fichfs. Every failure that reaches a user or the FUSE adapter is a
 * FichfsError with a stable `code` (tests and the CLI branch on it, never on message text), an
 * optional `errno` chosen where the failure is understood, and an optional `hint` that tells
 * the user what to do next.
 */
export interface FichfsErrorOptions {
  /** A POSIX errno name ('ENOENT', 'EIO', ...) for the filesystem layer. */
  errno?: ErrnoName
  hint?: string
  cause?: unknown
}

export type ErrnoName =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EAGAIN' | 'EACCES' | 'EBUSY' | 'EEXIST' | 'EXDEV'
  | 'ENOTDIR' | 'EISDIR' | 'EINVAL' | 'EFBIG' | 'ENOSPC' | 'EROFS' | 'ENAMETOOLONG'
  | 'ENOSYS' | 'ENOTEMPTY' | 'ENODATA' | 'ENOTSUP' | 'ETIMEDOUT' | 'ECONNREFUSED' | 'ENOTCONN'

export class FichfsError extends Error {
  readonly code: string
  readonly errno?: ErrnoName
  readonly hint?: string

  constructor(code: string, message: string, options: FichfsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FichfsError'
    this.code = code
    this.errno = options.errno
    this.hint = options.hint
  }
}

export function isFichfsError(error: unknown): error is FichfsError {
  return error instanceof FichfsError
}
