/**
 * The spool: local files holding the content of files that 1fichier does not have yet.
 *
 * Each local file (a row of MetadataStore.local_files) has one spool file under the cache
 * dir, named by `tmp` so names never collide, kept until its upload is confirmed. All handles
 * of a file share one descriptor; the current size is tracked in memory and written to the
 * journal when the last writer closes (a crash is recovered from the spool file's own size).
 */
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { promisify } from 'node:util'
import { fileSync } from 'tmp'
import * as nodeFs from 'node:fs'
import { fsError } from './errors.js'
import { SpoolHash } from './spool-hash.js'

const readAsync = promisify(nodeFs.read)
const writeAsync = promisify(nodeFs.write)
const ftruncateAsync = promisify(nodeFs.ftruncate)
const fdatasyncAsync = promisify(nodeFs.fdatasync)
const closeAsync = promisify(nodeFs.close)

/** A write in the daemon's thread slower than this... */
const SLOW_WRITE_MS = 5
/** ...sends writes to the thread pool for this long. */
const ASYNC_SPELL_MS = 2_000

interface OpenSpool {
  fd: number
  users: number
  size: number
}

export class Spool {
  private readonly open = new Map<string, OpenSpool>()
  /** Until then, writes go through the thread pool (a write in this thread was slow). */
  private asyncUntil = 0
  /** Whirlpool computed as the writes come (spool-hash.ts), kept until the file is removed. */
  private readonly hashes = new Map<string, SpoolHash>()

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  /** A new, empty spool file; returns its path. */
  create(): string {
    // `tmpdir`, not `dir`: tmp only accepts a `dir` inside the system temp dir, and the spool
    // lives under the user's cache dir.
    const file = fileSync({ tmpdir: this.dir, prefix: 'spool-', postfix: '.data', keep: true, mode: 0o600 })
    closeSync(file.fd)
    return file.name
  }

  exists(path: string): boolean {
    return existsSync(path)
  }

  sizeOnDisk(path: string): number {
    return statSync(path).size
  }

  /** Open (or share) the descriptor of a spool file. Pair with release(). */
  acquire(path: string): void {
    const entry = this.open.get(path)
    if (entry) {
      entry.users++
      return
    }
    let fd: number
    try {
      fd = openSync(path, 'r+')
    } catch (error) {
      throw fsError('EIO', `spool file missing: ${path}`, error)
    }
    const size = statSync(path).size
    this.open.set(path, { fd, users: 1, size })
    if (!this.hashes.has(path)) this.hashes.set(path, new SpoolHash(path, size))
  }

  async release(path: string): Promise<void> {
    const entry = this.open.get(path)
    if (!entry) return
    if (--entry.users > 0) return
    this.open.delete(path)
    await closeAsync(entry.fd)
  }

  /** Current size (in memory while open, else on disk). */
  size(path: string): number {
    return this.open.get(path)?.size ?? this.sizeOnDisk(path)
  }

  async write(path: string, data: Buffer, position: number): Promise<number> {
    const entry = this.entry(path)
    const hash = this.hashes.get(path)
    const token = hash?.begin(position, data.length)
    let written = 0
    try {
      if (performance.now() >= this.asyncUntil) {
        // In this thread: a write into the page cache takes tens of microseconds, less than
        // handing it to the thread pool and back, and each FUSE write waits for it (the kernel
        // sends a file's writes one at a time). Should one take long (the kernel throttling
        // dirty pages), writes go to the thread pool for a while, so that other operations
        // are not held up behind them.
        const start = performance.now()
        while (written < data.length) written += nodeFs.writeSync(entry.fd, data, written, data.length - written, position + written)
        if (performance.now() - start > SLOW_WRITE_MS) this.asyncUntil = performance.now() + ASYNC_SPELL_MS
      }
      while (written < data.length) {
        const { bytesWritten } = await writeAsync(entry.fd, data, written, data.length - written, position + written)
        written += bytesWritten
      }
    } catch (error) {
      hash?.done(token, false)
      throw error
    }
    hash?.done(token, true)
    entry.size = Math.max(entry.size, position + data.length)
    return data.length
  }

  /**
   * The Whirlpool of the spool file's `size` bytes, computed while they were written
   * (spool-hash.ts); undefined when that was not possible (the caller hashes the file).
   */
  whirlpool(path: string, size: number): Promise<string> | undefined {
    return this.hashes.get(path)?.digest(size)
  }

  async read(path: string, position: number, length: number): Promise<Buffer> {
    const entry = this.entry(path)
    const want = Math.max(0, Math.min(length, entry.size - position))
    const buffer = Buffer.allocUnsafe(want)
    let got = 0
    while (got < want) {
      const { bytesRead } = await readAsync(entry.fd, buffer, got, want - got, position + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    return buffer.subarray(0, got)
  }

  async truncate(path: string, size: number): Promise<void> {
    const entry = this.entry(path)
    this.hashes.get(path)?.truncated(size)
    await ftruncateAsync(entry.fd, size)
    entry.size = size
  }

  async sync(path: string): Promise<void> {
    const entry = this.open.get(path)
    if (entry) await fdatasyncAsync(entry.fd)
  }

  async remove(path: string): Promise<void> {
    // Open descriptors keep working on Linux after the unlink; they close on release.
    this.hashes.get(path)?.close()
    this.hashes.delete(path)
    await rm(path, { force: true })
  }

  private entry(path: string): OpenSpool {
    const entry = this.open.get(path)
    if (!entry) throw fsError('EBADF', `spool file not open: ${path}`)
    return entry
  }
}
