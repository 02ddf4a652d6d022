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

const readAsync = promisify(nodeFs.read)
const writeAsync = promisify(nodeFs.write)
const ftruncateAsync = promisify(nodeFs.ftruncate)
const fdatasyncAsync = promisify(nodeFs.fdatasync)
const closeAsync = promisify(nodeFs.close)

interface OpenSpool {
  fd: number
  users: number
  size: number
}

export class Spool {
  private readonly open = new Map<string, OpenSpool>()

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
    this.open.set(path, { fd, users: 1, size: statSync(path).size })
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
    let written = 0
    while (written < data.length) {
      const { bytesWritten } = await writeAsync(entry.fd, data, written, data.length - written, position + written)
      written += bytesWritten
    }
    entry.size = Math.max(entry.size, position + data.length)
    return data.length
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
    await ftruncateAsync(entry.fd, size)
    entry.size = size
  }

  async sync(path: string): Promise<void> {
    const entry = this.open.get(path)
    if (entry) await fdatasyncAsync(entry.fd)
  }

  async remove(path: string): Promise<void> {
    // Open descriptors keep working on Linux after the unlink; they close on release.
    await rm(path, { force: true })
  }

  private entry(path: string): OpenSpool {
    const entry = this.open.get(path)
    if (!entry) throw fsError('EBADF', `spool file not open: ${path}`)
    return entry
  }
}
