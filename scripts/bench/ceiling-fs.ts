/**
 * The binding's ceiling: a minimal in-memory filesystem on fuse-native, mounted with the same
 * kernel options as fichfs, so that a benchmark can read the same bytes or walk the same tree
 * through it in the same run. Whatever the mount loses beyond this filesystem is fichfs's own
 * work (HTTP, caches, JS per request); what this one loses against tmpfs is the binding's.
 *
 *   node dist-bench/scripts/bench/ceiling-fs.js MOUNTPOINT [--file-size 1G] [--folders 10 --files 1000]
 *       [--entry-timeout S] [--attr-timeout S]
 *
 * Serves `/big.bin` (--file-size bytes of a repeating pattern, each read one Buffer copy) and,
 * with --folders/--files, `/dNN/fNNNN.bin` files of 1 KiB. Prints `ceiling mounted` once the
 * kernel answers, unmounts on SIGTERM/SIGINT. Started by `startCeiling` in harness.ts.
 */
import Fuse from 'fuse-native'
import { parseArgs } from 'node:util'
import { parseSize } from '../../src/cli/config.js'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'file-size': { type: 'string', default: '0' },
    folders: { type: 'string', default: '0' },
    files: { type: 'string', default: '0' },
    'entry-timeout': { type: 'string' },
    'attr-timeout': { type: 'string' },
  },
})
const mountpoint = positionals[0]
if (!mountpoint) throw new Error('usage: ceiling-fs MOUNTPOINT [--file-size N] [--folders N --files N]')

const bigSize = parseSize(opts['file-size'] ?? '0')
const folderCount = Number(opts.folders)
const filesPerFolder = Number(opts.files)
const SMALL = 1024
// One 1 MiB pattern, copied from for every read: the cost of a read is one copy, as in a
// filesystem whose data is already in memory.
const pattern = Buffer.alloc(1 << 20)
for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 31 + (i >> 12)) & 0xff

const now = new Date()
const dirStat = () => ({ mtime: now, atime: now, ctime: now, size: 4096, mode: 0o40755, nlink: 2, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 })
const fileStat = (size: number) => ({ mtime: now, atime: now, ctime: now, size, mode: 0o100644, nlink: 1, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 })

const pad = (n: number, width: number) => String(n).padStart(width, '0')
const folders = Array.from({ length: folderCount }, (_, i) => `d${pad(i, 2)}`)
const files = Array.from({ length: filesPerFolder }, (_, i) => `f${pad(i, 4)}.bin`)
const folderSet = new Set(folders)
const fileSet = new Set(files)

/** 'root' | 'big' | 'dir' | 'small' | null, from the path alone (no map of 10,000 entries). */
function kind(path: string): 'root' | 'big' | 'dir' | 'small' | null {
  if (path === '/') return 'root'
  if (path === '/big.bin') return bigSize > 0 ? 'big' : null
  const parts = path.split('/')
  if (parts.length === 2) return folderSet.has(parts[1] as string) ? 'dir' : null
  if (parts.length === 3) return folderSet.has(parts[1] as string) && fileSet.has(parts[2] as string) ? 'small' : null
  return null
}

const ENOENT = -2
const EACCES = -13
const ENODATA = -61
const ENOTSUP = -95
/** Files created through the mount (writes are forgotten): path -> size. */
const created = new Map<string, number>()

const ops = {
  getattr(path: string, cb: (code: number, stat?: unknown) => void) {
    const written = created.get(path)
    if (written !== undefined) return cb(0, fileStat(written))
    const k = kind(path)
    if (k === 'root' || k === 'dir') return cb(0, dirStat())
    if (k === 'big') return cb(0, fileStat(bigSize))
    if (k === 'small') return cb(0, fileStat(SMALL))
    return cb(ENOENT)
  },
  readdir(path: string, cb: (code: number, names?: string[]) => void) {
    const k = kind(path)
    if (k === 'root') return cb(0, [...(bigSize > 0 ? ['big.bin'] : []), ...folders])
    if (k === 'dir') return cb(0, files)
    return cb(ENOENT)
  },
  open(path: string, _flags: number, cb: (code: number, fd?: number) => void) {
    if (created.has(path)) return cb(0, 2)
    const k = kind(path)
    if (k === 'big' || k === 'small') return cb(0, 1)
    return cb(ENOENT)
  },
  read(path: string, _fd: number, buffer: Buffer, length: number, position: number, cb: (bytes: number) => void) {
    const size = path === '/big.bin' ? bigSize : SMALL
    const end = Math.min(size, position + length)
    let copied = 0
    while (position + copied < end) {
      const offset = (position + copied) % pattern.length
      copied += pattern.copy(buffer, copied, offset, Math.min(pattern.length, offset + end - position - copied))
    }
    cb(copied)
  },
  release(_path: string, _fd: number, cb: (code: number) => void) {
    cb(0)
  },
  // Writes: any new file in the root takes writes and forgets them (only its size is kept), so
  // `dd of=MNT/new bs=1M conv=fsync` measures the binding's write path (the write ceiling).
  create(path: string, _mode: number, cb: (code: number, fd?: number) => void) {
    if (path.split('/').length !== 2 || kind(path) !== null) return cb(EACCES)
    created.set(path, 0)
    cb(0, 2)
  },
  write(path: string, _fd: number, _buffer: Buffer, length: number, position: number, cb: (bytes: number) => void) {
    if (created.has(path)) created.set(path, Math.max(created.get(path) ?? 0, position + length))
    cb(length)
  },
  truncate(path: string, size: number, cb: (code: number) => void) {
    if (created.has(path)) created.set(path, size)
    cb(0)
  },
  ftruncate(path: string, _fd: number, size: number, cb: (code: number) => void) {
    if (created.has(path)) created.set(path, size)
    cb(0)
  },
  fsync(_path: string, _fd: number, _datasync: boolean, cb: (code: number) => void) {
    cb(0)
  },
  flush(_path: string, _fd: number, cb: (code: number) => void) {
    cb(0)
  },
  unlink(path: string, cb: (code: number) => void) {
    cb(created.delete(path) ? 0 : ENOENT)
  },
  // As fichfs answers: ENOTSUP outside `user.`, which tells ls to stop probing this
  // filesystem's ACL and SELinux labels (ENODATA would have it ask again for every file).
  getxattr(_path: string, name: string, _position: number, cb: (code: number) => void) {
    cb(name.startsWith('user.') ? ENODATA : ENOTSUP)
  },
}

// The kernel options fichfs's fuse-adapter.ts passes, so the two differ only in the JS behind them.
const extra = ['big_writes', 'default_permissions']
if (opts['entry-timeout']) extra.push(`entry_timeout=${opts['entry-timeout']}`)
if (opts['attr-timeout']) extra.push(`attr_timeout=${opts['attr-timeout']}`)
const fuse = new Fuse(mountpoint, ops, { force: true, autoCache: true, subtype: 'ceiling', fsname: `ceiling,${extra.join(',')}`, timeout: false })

fuse.mount((error: Error | null) => {
  if (error) {
    process.stderr.write(`ceiling-fs: mount failed: ${error.message}\n`)
    process.exit(1)
  }
  process.stdout.write('ceiling mounted\n')
})

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  fuse.unmount(() => process.exit(0))
  setTimeout(() => process.exit(0), 5000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
