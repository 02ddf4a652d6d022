/**
 * The filesystem core: POSIX operations on a 1fichier account, as plain async methods over
 * paths and handles. It knows nothing of fuse-native (fuse-adapter.ts translates), so it is
 * tested without a kernel. Every failure is thrown as an error carrying its errno.
 *
 * The contract it implements is docs/SEMANTICS.md. In short:
 *   - getattr/readdir/lookup come from the metadata cache (namespace.ts), never file/info;
 *   - reads of remote files are ranged GETs through the RemoteReader;
 *   - writes go to a local spool file and are uploaded after close (uploader.ts);
 *   - rename, unlink, mkdir, rmdir are server-side calls, and the cache is updated from their
 *     answers (nothing is re-listed to see one's own change);
 *   - mtimes and permission bits set by programs are kept locally (1fichier stores neither).
 */
import type { BlockCache } from '../cache/block-cache.js'
import { folderKey, type LocalFileRow, type MetadataStore } from '../cache/metadata-store.js'
import { LIMITS } from '../client/wire.js'
import { encodeForService } from '../client/names.js'
import { fileIdFromUrl } from '../client/ids.js'
import type { AccountInfo, FolderListing, RemoteFile, RemoteFolder } from '../client/types.js'
import type { Logger } from '../log.js'
import { CacheSpace } from './cache-space.js'
import { Deletions, type DeletionRemote } from './deletions.js'
import { fsError, isDiskFull } from './errors.js'
import { HandleTable } from './handles.js'
import { LocalFiles } from './local-files.js'
import { Namespace, type Entry } from './namespace.js'
import { RemoteReader, type DownloadSource, type ReaderOptions } from './reader.js'
import { Renames, type RenameRemote } from './renames.js'
import { Spool } from './spool.js'
import { Uploader, type UploaderOptions, type UploadRemote, type UploadStatus } from './uploader.js'
import { Xattrs, type XattrRemote } from './xattrs.js'

/** Everything the core needs from the 1fichier client. */
export interface FsRemote extends DownloadSource, UploadRemote, DeletionRemote, RenameRemote, XattrRemote {
  listFolder(folderId: number): Promise<FolderListing>
  listFiles(folderId: number): Promise<RemoteFile[]>
  mkdir(parentId: number, name: string): Promise<RemoteFolder>
  accountInfo(): Promise<AccountInfo>
  readonly pacer: { listingAllowedNow(folderId: number): boolean }
}

export interface Attr {
  mode: number
  size: number
  nlink: number
  uid: number
  gid: number
  mtime: Date
  atime: Date
  ctime: Date
  blocks: number
  blksize: number
}

export interface StatFs {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  namemax: number
}

export interface FsOptions {
  readOnly: boolean
  /** How long a folder listing is trusted (1fichier allows one listing per folder per 30 s). */
  dirCacheTimeMs: number
  /** How long the account's quota (user/info) is trusted (1fichier: once per 5 min per user). */
  quotaCacheTimeMs: number
  uid: number
  gid: number
  fileMode: number
  dirMode: number
  spoolDir: string
  /** The cache dir's disk: a reserve of this many bytes is kept there (0: none; cache-space.ts). */
  cacheSpace?: { dir: string; reserveBytes: number }
  reader?: Partial<ReaderOptions>
  uploader?: Partial<UploaderOptions>
}

export { XATTR } from './xattrs.js'

const O_ACCMODE = 3
const O_RDONLY = 0
const O_TRUNC = 0o1000

export class FichierFs {
  readonly namespace: Namespace
  readonly reader: RemoteReader
  readonly uploader: Uploader
  readonly spool: Spool
  readonly space: CacheSpace
  private readonly handles = new HandleTable()
  private readonly locals: LocalFiles
  private readonly deletions: Deletions
  private readonly renames: Renames
  private readonly xattrs: Xattrs
  private readonly writeCounters = { calls: 0, bytes: 0 }
  private readonly mountedAt = new Date()
  private quotaRefresh?: Promise<AccountInfo | undefined>

  constructor(
    private readonly remote: FsRemote,
    private readonly store: MetadataStore,
    private readonly blockCache: BlockCache,
    private readonly options: FsOptions,
    private readonly log?: Logger,
  ) {
    this.namespace = new Namespace(store, remote, options.dirCacheTimeMs, log)
    this.reader = new RemoteReader(remote, blockCache, options.reader)
    this.spool = new Spool(options.spoolDir)
    this.space = new CacheSpace(options.cacheSpace?.dir ?? options.spoolDir, options.cacheSpace?.reserveBytes ?? 0, log)
    this.deletions = new Deletions(remote, store, this.namespace, (url) => this.reader.forget(url))
    this.locals = new LocalFiles(store, this.spool, this.reader, this.namespace, this.handles, this.deletions)
    this.uploader = new Uploader(store, remote, this.spool, this.locals, (folderId, name) => store.pathOf(folderId, name), options.uploader, log)
    this.locals.attach(this.uploader)
    this.renames = new Renames(remote, store, this.namespace, this.locals, this.deletions, this.uploader)
    this.xattrs = new Xattrs(remote, store, this.namespace, () => this.checkWritable())
  }

  /** Resume the upload queue left by an earlier run. Returns how many files are pending. */
  start(): number {
    this.space.start()
    return this.uploader.recover()
  }

  /** Every failed operation passes here (the FUSE adapter): a full cache disk is noticed at once. */
  noteFailure(error: unknown): void {
    this.space.check(error)
  }

  /**
   * Stop: with `wait`, upload everything pending first (progress through `onProgress`);
   * without, leave it journaled for the next mount.
   */
  async shutdown(options: { wait: boolean; onProgress?: (status: UploadStatus) => void; signal?: AbortSignal }): Promise<UploadStatus> {
    let status = this.uploader.status()
    if (options.wait) status = await this.uploader.drain(options.onProgress, options.signal)
    this.uploader.stop()
    this.reader.close()
    await this.blockCache.flush()
    return status
  }

  // -------------------------------------------------------------------------------------------
  // Attributes and listings

  async getattr(path: string): Promise<Attr> {
    return this.attrOf(await this.namespace.resolve(path))
  }

  async readdir(path: string): Promise<{ names: string[]; attrs: Attr[] }> {
    const folder = await this.namespace.resolveFolder(path)
    const view = await this.namespace.view(folder.id)
    const names: string[] = []
    const attrs: Attr[] = []
    for (const sub of view.folders) {
      names.push(sub.name)
      attrs.push(this.attrOf({ kind: 'folder', folder: sub }))
    }
    for (const file of view.remote) {
      names.push(file.displayName)
      attrs.push(this.attrOf({ kind: 'remote', parentId: folder.id, file }))
    }
    for (const local of view.local) {
      names.push(local.name)
      attrs.push(this.attrOf({ kind: 'local', parentId: folder.id, local }))
    }
    return { names, attrs }
  }

  async statfs(): Promise<StatFs> {
    const frsize = 1 << 20
    const info = await this.accountInfo()
    const quota = info?.quotaBytes ?? 0
    const free = info?.freeBytes ?? 0
    const blocks = Math.min(0xffffffff, Math.ceil(quota / frsize))
    const bfree = Math.min(blocks, Math.floor(free / frsize))
    return { bsize: frsize, frsize, blocks, bfree, bavail: bfree, files: 1_000_000, ffree: 1_000_000, favail: 1_000_000, namemax: 255 }
  }

  /** user/info, cached in the store for quotaCacheTimeMs (shared with other fichfs processes). */
  async accountInfo(): Promise<AccountInfo | undefined> {
    const cached = this.store.getFact<AccountInfo>('account')
    if (cached && Date.now() - cached.updatedAt < this.options.quotaCacheTimeMs) return cached.value
    // A stale value answers at once while a refresh runs in the background.
    this.quotaRefresh ??= this.remote.accountInfo()
      .then((info) => {
        this.store.setFact('account', info)
        return info
      })
      .catch((error: unknown) => {
        this.log?.warn({ err: (error as Error).message }, 'could not read the account quota')
        return undefined
      })
      .finally(() => {
        this.quotaRefresh = undefined
      })
    if (cached) return cached.value
    return this.quotaRefresh
  }

  // -------------------------------------------------------------------------------------------
  // Open, read, write, close

  async open(path: string, flags: number): Promise<number> {
    const writable = (flags & O_ACCMODE) !== O_RDONLY
    if (writable) this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    if (entry.kind === 'remote') {
      if (writable && flags & O_TRUNC) {
        const local = this.locals.create(entry.parentId, entry.file.displayName, { replacesUrl: entry.file.url, mode: this.store.attrs(entry.file.url).mode ?? null })
        return this.handles.add(this.locals.handle(path, local, true))
      }
      return this.handles.add({
        kind: 'remote', path, writable, folderId: entry.parentId, name: entry.file.displayName,
        file: { url: entry.file.url, id: fileIdFromUrl(entry.file.url), size: entry.file.size, password: this.store.fileMeta(entry.file.url).password },
        stream: this.reader.newStream(),
      })
    }
    const fh = this.handles.add(this.locals.handle(path, entry.local, writable))
    if (writable && flags & O_TRUNC) await this.truncateHandle(fh, 0)
    return fh
  }

  async create(path: string, mode: number): Promise<number> {
    this.checkWritable()
    const { parent, name } = await this.namespace.parentOf(path)
    this.checkName(name, 'file')
    const existing = this.namespace.entryIn(parent.id, name)
    if (existing?.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    if (existing?.kind === 'local') return this.open(path, 0o1002)
    this.space.admit()
    const local = this.locals.create(parent.id, name, {
      replacesUrl: existing?.kind === 'remote' ? existing.file.url : null,
      mode: mode & 0o7777,
    })
    return this.handles.add(this.locals.handle(path, local, true))
  }

  /** The bytes at `position`, as a list of buffers (fewer than `length` bytes: end of file). */
  async read(fh: number, length: number, position: number): Promise<Buffer[]> {
    const handle = this.handles.get(fh)
    if (handle.kind === 'remote') return this.reader.read(handle.file, handle.stream, position, length)
    if (!handle.spoolPath) return []
    return [await this.spool.read(handle.spoolPath, position, length)]
  }

  async write(fh: number, data: Buffer, position: number): Promise<number> {
    const handle = await this.locals.writable(fh)
    if (position + data.length > LIMITS.maxFileSize) throw fsError('EFBIG', '1fichier takes files up to 300 GB')
    let written: number
    try {
      this.space.admit()
      written = await this.spool.write(handle.spoolPath as string, data, position)
    } catch (error) {
      throw this.writeFailed(handle.localId, error)
    }
    this.locals.changed(handle.localId)
    this.writeCounters.calls++
    this.writeCounters.bytes += written
    return written
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    await this.truncateHandle(fh, size)
  }

  async truncate(path: string, size: number): Promise<void> {
    this.checkWritable()
    const fh = await this.open(path, 1)
    try {
      await this.truncateHandle(fh, size)
    } finally {
      await this.release(fh)
    }
  }

  async flush(fh: number): Promise<void> {
    this.handles.get(fh)
  }

  /** fsync: the file's current content is on 1fichier when this returns. */
  async fsync(fh: number): Promise<void> {
    const handle = this.handles.get(fh)
    if (handle.kind === 'local') await this.locals.fsync(handle)
  }

  async release(fh: number): Promise<void> {
    const handle = this.handles.find(fh)
    if (!handle) return
    this.handles.delete(fh)
    if (handle.kind === 'local') await this.locals.release(handle)
  }

  // -------------------------------------------------------------------------------------------
  // Namespace changes

  async mkdir(path: string, mode: number): Promise<void> {
    this.checkWritable()
    const { parent, name } = await this.namespace.parentOf(path)
    this.checkName(name, 'folder')
    if (this.namespace.entryIn(parent.id, name)) throw fsError('EEXIST', `${path} exists`)
    const folder = await this.remote.mkdir(parent.id, name)
    this.store.addFolder(parent.id, { id: folder.id, name, createdAt: Date.now() }, Date.now())
    this.namespace.touch(folderKey(folder.id))
    if ((mode & 0o7777) !== 0 && (mode & 0o7777) !== this.options.dirMode) this.store.setAttrs(folderKey(folder.id), { mode: mode & 0o7777 })
  }

  async rmdir(path: string): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'folder') throw fsError('ENOTDIR', `${path} is not a folder`)
    if (entry.folder.id === 0) throw fsError('EBUSY', 'the root of the mount cannot be removed')
    this.space.beforeFreeing()
    const view = await this.namespace.view(entry.folder.id)
    if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${path} is not empty`)
    await this.deletions.removeFolder(entry.folder.id)
  }

  async unlink(path: string): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    this.space.beforeFreeing()
    if (entry.kind === 'remote') return this.deletions.removeFile(entry.file.url)
    await this.locals.drop(entry.local)
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkWritable()
    await this.renames.rename(from, to)
  }

  // -------------------------------------------------------------------------------------------
  // Attributes set by programs

  async utimens(path: string, mtime: Date): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    const ms = mtime.getTime()
    if (entry.kind === 'local') this.locals.setMtime(entry.local.id, ms)
    else this.store.setAttrs(this.attrsKey(entry), { mtime: ms })
  }

  async chmod(path: string, mode: number): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'local') this.store.updateLocalFile(entry.local.id, { mode: mode & 0o7777 })
    else this.store.setAttrs(this.attrsKey(entry), { mode: mode & 0o7777 })
  }

  /** Ownership is always the mounting user's; chown succeeds without effect so rsync -a works. */
  async chown(path: string): Promise<void> {
    await this.namespace.resolve(path)
  }

  // -------------------------------------------------------------------------------------------
  // Extended attributes (xattrs.ts)

  listxattr(path: string): Promise<string[]> {
    return this.xattrs.list(path)
  }

  getxattr(path: string, name: string): Promise<Buffer | null> {
    return this.xattrs.get(path, name)
  }

  setxattr(path: string, name: string, value: Buffer): Promise<void> {
    return this.xattrs.set(path, name, value)
  }

  removexattr(path: string, name: string): Promise<void> {
    return this.xattrs.remove(path, name)
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private attrOf(entry: Entry): Attr {
    const { uid, gid } = this.options
    if (entry.kind === 'folder') {
      const stored = this.store.attrs(folderKey(entry.folder.id))
      const time = new Date(stored.mtime ?? entry.folder.createdAt ?? this.mountedAt.getTime())
      return { mode: 0o40000 | (stored.mode ?? this.options.dirMode), size: 4096, nlink: 2, uid, gid, mtime: time, atime: time, ctime: time, blocks: 8, blksize: 4096 }
    }
    if (entry.kind === 'remote') {
      const stored = this.store.attrs(entry.file.url)
      const time = new Date(stored.mtime ?? entry.file.uploadedAt ?? this.mountedAt.getTime())
      return fileAttr(entry.file.size, stored.mode ?? this.options.fileMode, time, uid, gid)
    }
    const local: LocalFileRow = entry.local
    const shown = this.locals.shown(local)
    return fileAttr(shown.size, local.mode ?? this.options.fileMode, new Date(shown.mtime), uid, gid)
  }

  private attrsKey(entry: Entry): string {
    if (entry.kind === 'folder') return folderKey(entry.folder.id)
    if (entry.kind === 'remote') return entry.file.url
    throw fsError('EINVAL', 'local files keep their attributes in the journal')
  }

  private checkWritable(): void {
    if (this.options.readOnly) throw fsError('EROFS', 'mounted read-only')
  }

  /** Names the service cannot take fail at once, not after a transfer. */
  private checkName(name: string, kind: 'file' | 'folder'): void {
    encodeForService(name, kind)
  }

  private async truncateHandle(fh: number, size: number): Promise<void> {
    if (size > LIMITS.maxFileSize) throw fsError('EFBIG', '1fichier takes files up to 300 GB')
    await this.locals.truncate(fh, size)
    // Cut to zero, the file is written again from the start: an earlier failed write is gone.
    const handle = this.handles.get(fh)
    if (size === 0 && handle.kind === 'local') this.store.clearWriteFailure(handle.localId)
  }

  /**
   * A write into the spool failed: the file is incomplete. It is marked so in the journal (on a
   * full disk, with the room the reserve gives back), and the uploader never sends it as is.
   */
  private writeFailed(localId: number, error: unknown): Error {
    const full = isDiskFull(error)
    if (full) this.space.noteFull()
    const reason = full ? `no space left on the cache disk ${this.space.dir}` : `writing the local copy failed: ${(error as Error).message}`
    try {
      this.store.markWriteFailed(localId, `a write failed (${reason}): the file is incomplete; it stays local and is not uploaded (delete it, or write it again from the start)`)
    } catch (markError) {
      this.log?.error({ localId, err: (markError as Error).message }, 'could not journal a failed write')
    }
    return full ? fsError('ENOSPC', this.space.fullMessage(), error) : fsError('EIO', reason, error)
  }

  /** Write requests the kernel sent, and their bytes (big_writes: up to 128 KiB each). */
  writeStats(): { calls: number; bytes: number } {
    return { ...this.writeCounters }
  }

  openHandles(): number {
    return this.handles.size
  }
}

function fileAttr(size: number, mode: number, time: Date, uid: number, gid: number): Attr {
  return { mode: 0o100000 | mode, size, nlink: 1, uid, gid, mtime: time, atime: time, ctime: time, blocks: Math.ceil(size / 512), blksize: 131072 }
}

