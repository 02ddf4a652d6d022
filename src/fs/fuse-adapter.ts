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
 *   - the rebuilt addon (scripts/patch-fuse-native.mjs) gives utimens both times as {sec, nsec}
 *     (UTIME_NOW / UTIME_OMIT included), takes stat times with their sub-millisecond part, and
 *     passes a null path for an open file whose folder was removed: operations on a handle
 *     carry on with it, operations on a path answer ENOENT.
 *   - its unmount (used by `force` and by every unmount) ran `fusermount -uz "<path>"` through a
 *     shell, so a mountpoint holding `$(...)` ran a command: the patched one passes an argv, and
 *     mounting refuses an unpatched copy. Our own forced unmount runs fusermount directly.
 */
import { execFile } from 'node:child_process'
import Fuse from 'fuse-native'
import { childEnv } from '../child-env.js'
import { FichfsError } from '../errors.js'
import type { Logger } from '../log.js'
import { ERRNO, fsError, toErrno } from './errors.js'
import type { FichierFs, TimeChange } from './fichier-fs.js'

/** tv_nsec values of utimensat(2). */
const UTIME_NOW = (1 << 30) - 1
const UTIME_OMIT = (1 << 30) - 2

/** A time as the binding gives it: {sec, nsec} (patched addon) or milliseconds (prebuilt). */
type FuseTime = number | { sec: number; nsec: number }

export function toTimeChange(time: FuseTime): TimeChange {
  if (typeof time === 'number') return time
  if (time.nsec === UTIME_OMIT) return 'omit'
  if (time.nsec === UTIME_NOW) return 'now'
  // Whole microseconds first (exact integers), as a coarser filesystem truncates a finer time.
  return (time.sec * 1_000_000 + Math.floor(time.nsec / 1000)) / 1000
}

export interface FuseMountOptions {
  mountpoint: string
  allowOther?: boolean
  debug?: boolean
  /** How long listings are trusted (--dir-cache-time): the kernel's cache times stay within it. */
  dirCacheTimeMs?: number
  /** Per-operation limits in ms; 0 means none (uploads in fsync, a copy-up in write). */
  timeouts?: Partial<Record<string, number>>
}

export interface FuseMount {
  unmount(): Promise<void>
  /** FUSE requests served so far, by op (`fichfs status`, bench:meta's requests per file). */
  ops(): Record<string, number>
  /** The kernel's entry and attribute cache times given at mount, in seconds. */
  readonly kernel: { entryTimeout: number; attrTimeout: number }
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

export function createFuseOps(fs: FichierFs, log: Logger, timeouts: Record<string, number>, counts: Record<string, number> = {}) {
  /** Await `work`, then reply once: a value, or the errno of the failure; our own time limit. */
  function run<T>(op: string, path: string, work: () => Promise<T>, reply: (value: T) => void, fail: (errno: number) => void): void {
    counts[op] = (counts[op] ?? 0) + 1
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
  /** Paths are null only for a file libfuse cannot name any more (its folder was removed). */
  type Path = string | null
  const named = <T>(path: Path, work: (path: string) => Promise<T>) => () =>
    path === null ? Promise.reject(fsError('ENOENT', 'no path: its folder was removed')) : work(path)
  const shown = (path: Path) => path ?? '(removed)'

  return {
    getattr: (path: Path, cb: Cb) => {
      // A cached answer (FichierFs.cachedAttr) costs no promise, no timer, no closure.
      const hit = path === null ? undefined : fs.cachedAttr(path)
      if (hit === undefined) return run('getattr', shown(path), named(path, (p) => fs.getattr(p)), value(cb), cb)
      counts.getattr = (counts.getattr ?? 0) + 1
      cb(0, hit)
    },
    readdir: (path: Path, cb: Cb) => run('readdir', shown(path), named(path, (p) => fs.readdir(p)), (r) => cb(0, r.names, r.attrs), cb),
    statfs: (path: Path, cb: Cb) => run('statfs', shown(path), () => fs.statfs(), value(cb), cb),
    open: (path: Path, flags: number, cb: Cb) => run('open', shown(path), named(path, (p) => fs.open(p, flags)), value(cb), cb),
    create: (path: Path, mode: number, cb: Cb) => run('create', shown(path), named(path, (p) => fs.create(p, mode)), value(cb), cb),
    // The bytes are copied into the kernel's buffer in the step that found the read's blocks
    // current (FichierFs.read's consume: the cache reuses a dropped block's buffer), unless the
    // read already answered ETIMEDOUT: then the buffer is libfuse's again and is not touched.
    read: (path: Path, fh: number, buf: Buffer, length: number, position: number, cb: Cb) => {
      let answered = false
      const fail = (errno: number) => {
        answered = true
        cb(errno)
      }
      run('read', shown(path), () => fs.read(fh, length, position, (parts) => (answered ? 0 : copyParts(parts, buf, length))), (n) => cb(n), fail)
    },
    // The buffer stays valid until the reply, and writes have no time limit, so the reply
    // always comes after the spool write finished with it: no copy needed.
    write: (path: Path, fh: number, buf: Buffer, length: number, position: number, cb: Cb) =>
      run('write', shown(path), () => fs.write(fh, buf.subarray(0, length), position), (n) => cb(n), cb),
    truncate: (path: Path, size: number, cb: Cb) => run('truncate', shown(path), named(path, (p) => fs.truncate(p, size)), ok(cb), cb),
    ftruncate: (path: Path, fh: number, size: number, cb: Cb) => run('ftruncate', shown(path), () => fs.ftruncate(fh, size), ok(cb), cb),
    flush: (path: Path, fh: number, cb: Cb) => run('flush', shown(path), () => fs.flush(fh), ok(cb), cb),
    fsync: (path: Path, _datasync: number, fh: number, cb: Cb) => run('fsync', shown(path), () => fs.fsync(fh), ok(cb), cb),
    release: (path: Path, fh: number, cb: Cb) => run('release', shown(path), () => fs.release(fh), ok(cb), cb),
    mkdir: (path: Path, mode: number, cb: Cb) => run('mkdir', shown(path), named(path, (p) => fs.mkdir(p, mode)), ok(cb), cb),
    rmdir: (path: Path, cb: Cb) => run('rmdir', shown(path), named(path, (p) => fs.rmdir(p)), ok(cb), cb),
    unlink: (path: Path, cb: Cb) => run('unlink', shown(path), named(path, (p) => fs.unlink(p)), ok(cb), cb),
    rename: (from: Path, to: string, cb: Cb) => run('rename', shown(from), named(from, (p) => fs.rename(p, to)), ok(cb), cb),
    utimens: (path: Path, _atime: FuseTime, mtime: FuseTime, cb: Cb) =>
      run('utimens', shown(path), named(path, (p) => fs.utimens(p, toTimeChange(mtime))), ok(cb), cb),
    chmod: (path: Path, mode: number, cb: Cb) => run('chmod', shown(path), named(path, (p) => fs.chmod(p, mode)), ok(cb), cb),
    chown: (path: Path, _uid: number, _gid: number, cb: Cb) => run('chown', shown(path), named(path, (p) => fs.chown(p)), ok(cb), cb),
    // Names outside `user.` (security.selinux, system.posix_acl_access, security.capability,
    // trusted.*) are not kept: ENOTSUP at once, no lookup. `ls -l` probes the first two on every
    // file, and remembers a device that does not support them (one probe per run, not two per
    // file); the kernel asks for security.capability before a write.
    getxattr: (path: Path, name: string, _position: number, cb: Cb) => {
      if (name.startsWith('user.')) return run('getxattr', shown(path), named(path, (p) => fs.getxattr(p, name)), value(cb), cb)
      counts.getxattr = (counts.getxattr ?? 0) + 1
      cb(-ERRNO.ENOTSUP)
    },
    listxattr: (path: Path, cb: Cb) => run('listxattr', shown(path), named(path, (p) => fs.listxattr(p)), value(cb), cb),
    setxattr: (path: Path, name: string, data: Buffer, _position: number, _flags: number, cb: Cb) => {
      const copy = Buffer.from(data)
      run('setxattr', shown(path), named(path, (p) => fs.setxattr(p, name, copy)), ok(cb), cb)
    },
    removexattr: (path: Path, name: string, cb: Cb) => run('removexattr', shown(path), named(path, (p) => fs.removexattr(p, name)), ok(cb), cb),
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

/**
 * How long the kernel trusts a name it looked up (entry) and the attributes it got (attr), in
 * seconds (docs/SEMANTICS.md, "Kernel caches"). Every change made through the mount goes
 * through the kernel, which updates or drops its entries itself; changes made elsewhere reach
 * fichfs only with a listing, at most once per `--dir-cache-time` (5 min by default), so a
 * name trusted for 10 s more hides nothing that could be seen sooner. Attributes stay at
 * libfuse's 1 s: a file being written shows its growing size, and an upload its final state.
 */
export const KERNEL_TIMEOUTS = { entryTimeout: 10, attrTimeout: 1 }

/** The kernel's cache times for a mount whose listings are trusted `dirCacheTimeMs`: never longer. */
export function kernelTimeouts(dirCacheTimeMs?: number): { entryTimeout: number; attrTimeout: number } {
  if (dirCacheTimeMs === undefined) return { ...KERNEL_TIMEOUTS }
  const cap = Math.max(0, dirCacheTimeMs) / 1000
  return { entryTimeout: Math.min(KERNEL_TIMEOUTS.entryTimeout, cap), attrTimeout: Math.min(KERNEL_TIMEOUTS.attrTimeout, cap) }
}

/** Mount; resolves once libfuse has called init (the kernel answers shortly after). */
export function mountFuse(fs: FichierFs, options: FuseMountOptions, log: Logger): Promise<FuseMount> {
  checkUnmountIsShellFree()
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts } as Record<string, number>
  const counts: Record<string, number> = {}
  const ops = createFuseOps(fs, log, timeouts, counts)
  const kernel = kernelTimeouts(options.dirCacheTimeMs)
  const extra = ['big_writes', 'default_permissions', `entry_timeout=${kernel.entryTimeout}`, `attr_timeout=${kernel.attrTimeout}`].join(',')
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
        ops: () => ({ ...counts }),
        kernel,
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
