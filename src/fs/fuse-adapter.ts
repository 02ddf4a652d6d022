/**
 * The only importer of fuse-native: translates FUSE callbacks to FichierFs calls and errors
 * to errnos. No decisions live here.
 *
 * fuse-native pitfalls handled (shared/fuse-native.md):
 *   - its 15 s per-op timeout replies ETIMEDOUT and crashes the process on a late reply into a
 *     detached buffer: it is off (`timeout: false`); `run` applies our own per-op limits and
 *     ignores late results, so a read buffer is never touched after its reply;
 *   - mount options it lacks (big_writes, ...) ride in `fsname`, which it passes unescaped;
 *   - `force: true` clears a stale mount ("Transport endpoint is not connected") first;
 *   - utimens gets the right mtime only with the rebuilt addon (scripts/patch-fuse-native.mjs);
 *   - its unmount (used by `force` and by every unmount) ran `fusermount -uz "<path>"` through a
 *     shell, so a mountpoint holding `$(...)` ran a command: the patched one passes an argv, and
 *     mounting refuses an unpatched copy. Our own forced unmount runs fusermount directly.
 */
import { execFile } from 'node:child_process'
import Fuse from 'fuse-native'
import { childEnv } from '../child-env.js'
import { FichfsError } from '../errors.js'
import type { Logger } from '../log.js'
import { ERRNO, toErrno } from './errors.js'
import type { FichierFs } from './fichier-fs.js'

export interface FuseMountOptions {
  mountpoint: string
  allowOther?: boolean
  debug?: boolean
  /** Per-operation limits in ms; 0 means none (uploads in fsync, a copy-up in write). */
  timeouts?: Partial<Record<string, number>>
}

export interface FuseMount {
  unmount(): Promise<void>
}

const DEFAULT_TIMEOUTS: Record<string, number> = {
  default: 120_000,
  read: 180_000,
  write: 0,
  create: 0,
  open: 0,
  truncate: 0,
  ftruncate: 0,
  fsync: 0,
  flush: 0,
  release: 0,
  rename: 0,
  unlink: 0,
}

export function createFuseOps(fs: FichierFs, log: Logger, timeouts: Record<string, number>) {
  /** Await `work`, then reply once: a value, or the errno of the failure; our own time limit. */
  function run<T>(op: string, path: string, work: () => Promise<T>, reply: (value: T) => void, fail: (errno: number) => void): void {
    let done = false
    const limit = timeouts[op] ?? timeouts.default ?? 0
    const timer = limit > 0
      ? setTimeout(() => {
        if (done) return
        done = true
        log.warn({ op, path, limitMs: limit }, `${op} took too long, answering ETIMEDOUT`)
        fail(-ERRNO.ETIMEDOUT)
      }, limit)
      : undefined
    work().then(
      (value) => {
        if (done) return
        done = true
        if (timer) clearTimeout(timer)
        reply(value)
      },
      (error: unknown) => {
        fs.noteFailure(error)
        if (done) return
        done = true
        if (timer) clearTimeout(timer)
        fail(-toErrno(error, op, path, log))
      },
    )
  }
  type Cb = (code: number, ...values: unknown[]) => void
  const ok = (cb: Cb) => () => cb(0)
  const value = (cb: Cb) => (result: unknown) => cb(0, result)

  return {
    getattr: (path: string, cb: Cb) => run('getattr', path, () => fs.getattr(path), value(cb), cb),
    readdir: (path: string, cb: Cb) => run('readdir', path, () => fs.readdir(path), (r) => cb(0, r.names, r.attrs), cb),
    statfs: (path: string, cb: Cb) => run('statfs', path, () => fs.statfs(), value(cb), cb),
    open: (path: string, flags: number, cb: Cb) => run('open', path, () => fs.open(path, flags), value(cb), cb),
    create: (path: string, mode: number, cb: Cb) => run('create', path, () => fs.create(path, mode), value(cb), cb),
    read: (path: string, fh: number, buf: Buffer, length: number, position: number, cb: Cb) =>
      run('read', path, () => fs.read(fh, length, position), (parts) => cb(copyParts(parts, buf, length)), cb),
    // The buffer stays valid until the reply, and writes have no time limit, so the reply
    // always comes after the spool write finished with it: no copy needed.
    write: (path: string, fh: number, buf: Buffer, length: number, position: number, cb: Cb) =>
      run('write', path, () => fs.write(fh, buf.subarray(0, length), position), (n) => cb(n), cb),
    truncate: (path: string, size: number, cb: Cb) => run('truncate', path, () => fs.truncate(path, size), ok(cb), cb),
    ftruncate: (path: string, fh: number, size: number, cb: Cb) => run('ftruncate', path, () => fs.ftruncate(fh, size), ok(cb), cb),
    flush: (path: string, fh: number, cb: Cb) => run('flush', path, () => fs.flush(fh), ok(cb), cb),
    fsync: (path: string, _datasync: number, fh: number, cb: Cb) => run('fsync', path, () => fs.fsync(fh), ok(cb), cb),
    release: (path: string, fh: number, cb: Cb) => run('release', path, () => fs.release(fh), ok(cb), cb),
    mkdir: (path: string, mode: number, cb: Cb) => run('mkdir', path, () => fs.mkdir(path, mode), ok(cb), cb),
    rmdir: (path: string, cb: Cb) => run('rmdir', path, () => fs.rmdir(path), ok(cb), cb),
    unlink: (path: string, cb: Cb) => run('unlink', path, () => fs.unlink(path), ok(cb), cb),
    rename: (from: string, to: string, cb: Cb) => run('rename', from, () => fs.rename(from, to), ok(cb), cb),
    utimens: (path: string, _atime: number, mtime: number, cb: Cb) => run('utimens', path, () => fs.utimens(path, new Date(mtime)), ok(cb), cb),
    chmod: (path: string, mode: number, cb: Cb) => run('chmod', path, () => fs.chmod(path, mode), ok(cb), cb),
    chown: (path: string, _uid: number, _gid: number, cb: Cb) => run('chown', path, () => fs.chown(path), ok(cb), cb),
    // The kernel asks for security.capability before every write: answered at once, no lookup.
    getxattr: (path: string, name: string, _position: number, cb: Cb) =>
      name.startsWith('user.') ? run('getxattr', path, () => fs.getxattr(path, name), value(cb), cb) : cb(0, null),
    listxattr: (path: string, cb: Cb) => run('listxattr', path, () => fs.listxattr(path), value(cb), cb),
    setxattr: (path: string, name: string, data: Buffer, _position: number, _flags: number, cb: Cb) => {
      const copy = Buffer.from(data)
      run('setxattr', path, () => fs.setxattr(path, name, copy), ok(cb), cb)
    },
    removexattr: (path: string, name: string, cb: Cb) => run('removexattr', path, () => fs.removexattr(path, name), ok(cb), cb),
  }
}

/** Copy the parts of a read into the kernel's buffer (the one copy of the read path). */
function copyParts(parts: Buffer[], buf: Buffer, length: number): number {
  let copied = 0
  for (const part of parts) {
    if (copied >= length) break
    copied += part.copy(buf, copied, 0, Math.min(part.length, length - copied))
  }
  return copied
}

/** Mount; resolves once libfuse has called init (the kernel answers shortly after). */
export function mountFuse(fs: FichierFs, options: FuseMountOptions, log: Logger): Promise<FuseMount> {
  checkUnmountIsShellFree()
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts } as Record<string, number>
  const ops = createFuseOps(fs, log, timeouts)
  const extra = ['big_writes', 'default_permissions'].join(',')
  const fuse = new Fuse(options.mountpoint, ops, {
    force: true,
    mkdir: false,
    debug: options.debug,
    allowOther: options.allowOther,
    autoCache: true,
    subtype: 'fichfs',
    fsname: `fichfs,${extra}`,
    timeout: false,
  })
  return new Promise((resolve, reject) => {
    fuse.mount((error) => {
      if (error) return reject(error)
      resolve({
        unmount: () => new Promise<void>((done, fail) => fuse.unmount((err) => (err ? fail(err) : done()))),
      })
    })
  })
}

/**
 * Lazy unmount of a mountpoint (also a stale one), without a running filesystem. The path is
 * one argv entry after `--`: no shell ever sees it, whatever characters it holds.
 */
export function forceUnmount(mountpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('fusermount', ['-uz', '--', mountpoint], { env: childEnv() }, (error, _stdout, stderr) => {
      if (!error) return resolve()
      reject(new FichfsError('FICHFS_UNMOUNT', `fusermount could not unmount ${mountpoint}: ${String(stderr).trim() || error.message}`, { cause: error }))
    })
  })
}

/** fuse-native as published runs its unmount through a shell; only the patched copy is safe. */
function checkUnmountIsShellFree(): void {
  if (/\bexec\(/.test(String(Fuse.unmount))) {
    throw new FichfsError('FICHFS_FUSE_NATIVE_UNPATCHED', 'fuse-native is not patched: its unmount would pass the mountpoint through a shell', {
      hint: 'Run `node scripts/patch-fuse-native.mjs` in the fichfs directory (npm install runs it).',
    })
  }
}
