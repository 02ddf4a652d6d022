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
 *   - mtimes and permission bits set by programs are kept locally (1fichier stores neither);
 *   - a file unlinked while open keeps working through its open handles (orphans.ts).
 */
import type { BlockCache } from '../cache/block-cache.js'
import { folderKey, toStoredTime, type LocalFileRow, type MetadataStore } from '../cache/metadata-store.js'
import { LIMITS } from '../client/wire.js'
import { encodeForService } from '../client/names.js'
import { fileIdFromUrl } from '../client/ids.js'
import type { AccountInfo, FolderListing, RemoteFile, RemoteFolder } from '../client/types.js'
import type { Logger } from '../log.js'
import { Deletions, type DeletionRemote } from './deletions.js'
import { fsError } from './errors.js'
import { HandleTable } from './handles.js'
import { LocalFiles } from './local-files.js'
import { Namespace, splitPath, type Entry } from './namespace.js'
import { isFuseHiddenName, Orphans, type Orphan } from './orphans.js'
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
  /** Times in milliseconds since the epoch, with a fraction down to the microsecond. */
  mtime: number
  atime: number
  ctime: number
  blocks: number
  blksize: number
}

/** What utimens asks for the mtime: a time (ms, to the microsecond), now, or leave it. */
export type TimeChange = number | 'now' | 'omit'

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
  private readonly handles = new HandleTable()
  private readonly locals: LocalFiles
  private readonly deletions: Deletions
  private readonly renames: Renames
  private readonly xattrs: Xattrs
  private readonly orphans: Orphans
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
    this.deletions = new Deletions(remote, store, this.namespace, (url) => this.reader.forget(url))
    this.locals = new LocalFiles(store, this.spool, this.reader, this.namespace, this.handles, this.deletions)
    this.uploader = new Uploader(store, remote, this.spool, this.locals, (folderId, name) => store.pathOf(folderId, name), options.uploader, log)
    this.locals.attach(this.uploader)
    this.renames = new Renames(remote, store, this.namespace, this.locals, this.deletions, this.uploader)
    this.xattrs = new Xattrs(remote, store, this.namespace, () => this.checkWritable())
    this.orphans = new Orphans(store, this.handles, this.locals, this.deletions, this.spool, log)
  }

  /** Resume the upload queue left by an earlier run. Returns how many files are pending. */
  start(): number {
    // Files unlinked while open when an earlier run stopped: their deletion is due.
    void this.orphans.recover().catch((error: unknown) => this.log?.warn({ err: (error as Error).message }, 'could not finish deletions of files unlinked while open'))
    return this.uploader.recover()
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
    const orphan = this.orphanAt(path)
    if (orphan) return this.orphanAttr(orphan)
    return this.attrOf(await this.namespace.resolve(path))
  }

  async readdir(path: string): Promise<{ names: string[]; attrs: Attr[] }> {
    const folder = await this.namespace.resolveFolder(path)
    const view = await this.namespace.view(folder.id)
    // `.` and `..` first, as every Linux filesystem lists them.
    const parent = folder.parentId === null ? folder : this.store.folder(folder.parentId) ?? folder
    const names: string[] = ['.', '..']
    const attrs: Attr[] = [this.attrOf({ kind: 'folder', folder }), this.attrOf({ kind: 'folder', folder: parent })]
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
    const orphan = this.orphanAt(path)
    if (orphan) return this.handles.add(this.reopen(orphan, path, writable))
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
    this.checkName(lastName(path), 'file')
    const { parent, name } = await this.namespace.parentOf(path)
    const existing = this.namespace.entryIn(parent.id, name)
    if (existing?.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    if (existing?.kind === 'local') return this.open(path, 0o1002)
    const local = this.locals.create(parent.id, name, {
      replacesUrl: existing?.kind === 'remote' ? existing.file.url : null,
      mode: mode & 0o7777,
    })
    return this.handles.add(this.locals.handle(path, local, true))
  }

  /** The bytes at `position`, as a list of buffers (fewer than `length` bytes: end of file). */
  async read(fh: number, length: number, position: number): Promise<Buffer[]> {
    const handle = this.handles.get(fh)
    if (handle.kind === 'remote') {
      try {
        return await this.reader.read(handle.file, handle.stream, position, length)
      } catch (error) {
        // Deleted from 1fichier by someone else (a listing over the cap cannot show that): forget it.
        if ((error as { errno?: string }).errno === 'ENOENT' && !handle.orphan && this.store.fileByUrl(handle.file.url)) this.deletions.forgetFile(handle.file.url)
        throw error
      }
    }
    if (!handle.spoolPath) return []
    return [await this.spool.read(handle.spoolPath, position, length)]
  }

  async write(fh: number, data: Buffer, position: number): Promise<number> {
    const handle = await this.locals.writable(fh)
    if (position + data.length > LIMITS.maxFileSize) throw fsError('EFBIG', '1fichier takes files up to 300 GB')
    const written = await this.spool.write(handle.spoolPath as string, data, position)
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
    if (handle.orphan) await this.orphans.closed(handle.orphan)
  }

  // -------------------------------------------------------------------------------------------
  // Namespace changes

  async mkdir(path: string, mode: number): Promise<void> {
    this.checkWritable()
    this.checkName(lastName(path), 'folder')
    const { parent, name } = await this.namespace.parentOf(path)
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
    const view = await this.namespace.view(entry.folder.id)
    if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${path} is not empty`)
    // `rm -rf` of a folder with a file still open in it: 1fichier takes only an empty folder.
    await this.orphans.flushFolder(entry.folder.id)
    await this.deletions.removeFolder(entry.folder.id)
  }

  async unlink(path: string): Promise<void> {
    this.checkWritable()
    // libfuse unlinks its hidden name after the last close: the orphan is already dealt with.
    if (this.orphans.releasedHidden(lastName(path))) return
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    await this.orphans.unlink(entry)
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkWritable()
    const source = await this.namespace.resolve(from)
    if (source.kind !== 'folder' && isFuseHiddenName(lastName(to)) && this.orphans.handlesOf(source).length > 0) {
      // libfuse hides a file unlinked while open under this name: it is the unlink.
      return this.orphans.unlink(source, lastName(to))
    }
    if (source.kind !== 'folder') {
      // A file replaced by the rename while open keeps working through its handles.
      const { parent, name } = await this.namespace.parentOf(to)
      const target = this.namespace.entryIn(parent.id, name)
      if (target && target.kind !== 'folder' && !sameEntry(source, target) && this.orphans.handlesOf(target).length > 0) await this.orphans.unlink(target)
    }
    await this.renames.rename(from, to)
  }

  // -------------------------------------------------------------------------------------------
  // Attributes set by programs

  /** Only the mtime is kept (atime is shown equal to it); `omit` leaves it, as `touch -a` wants. */
  async utimens(path: string, mtime: TimeChange): Promise<void> {
    this.checkWritable()
    const orphan = this.orphanAt(path)
    const entry = orphan ? undefined : await this.namespace.resolve(path)
    if (mtime === 'omit') return
    const ms = toStoredTime(mtime === 'now' ? Date.now() : mtime)
    if (orphan) orphan.mtime = ms
    else if (entry?.kind === 'local') this.locals.setMtime(entry.local.id, ms)
    else if (entry) this.store.setAttrs(this.attrsKey(entry), { mtime: ms })
  }

  async chmod(path: string, mode: number): Promise<void> {
    this.checkWritable()
    const orphan = this.orphanAt(path)
    if (orphan) {
      orphan.mode = mode & 0o7777
      return
    }
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
      const time = stored.mtime ?? entry.folder.createdAt ?? this.mountedAt.getTime()
      return { mode: 0o40000 | (stored.mode ?? this.options.dirMode), size: 4096, nlink: this.folderLinks(entry.folder.id), uid, gid, mtime: time, atime: time, ctime: time, blocks: 8, blksize: 4096 }
    }
    if (entry.kind === 'remote') {
      const stored = this.store.attrs(entry.file.url)
      const time = stored.mtime ?? entry.file.uploadedAt ?? this.mountedAt.getTime()
      return fileAttr(entry.file.size, stored.mode ?? this.options.fileMode, time, uid, gid)
    }
    const local: LocalFileRow = entry.local
    const shown = this.locals.shown(local)
    return fileAttr(shown.size, local.mode ?? this.options.fileMode, shown.mtime, uid, gid)
  }

  /**
   * A folder's link count, as on ext4: 2 + its sub-folders. A folder never listed has an unknown
   * count, and answers 1, the usual "not counted" value (find and fts then do not assume that a
   * folder with nlink 2 has no sub-folder).
   */
  private folderLinks(folderId: number): number {
    const folder = this.store.folder(folderId)
    if (!folder || folder.listedAt === null) return 1
    return 2 + this.store.subFolders(folderId).length
  }

  /** The orphan libfuse knows under this path's hidden name, if it is one. */
  private orphanAt(path: string): Orphan | undefined {
    const name = lastName(path)
    return isFuseHiddenName(name) ? this.orphans.hidden(name) : undefined
  }

  private orphanAttr(orphan: Orphan): Attr {
    let size = orphan.size
    let mtime = orphan.mtime
    if (orphan.local) {
      try {
        size = this.spool.size(orphan.local.spoolPath)
      } catch {
        // Its last descriptor is closing.
      }
      mtime = this.locals.liveMtime(orphan.local.localId) ?? mtime
    }
    return fileAttr(size, orphan.mode ?? this.options.fileMode, mtime, this.options.uid, this.options.gid)
  }

  /** A new handle on an unlinked file that is still open (a reopen through /proc/PID/fd). */
  private reopen(orphan: Orphan, path: string, writable: boolean) {
    if (orphan.local) return this.locals.detachedHandle(path, orphan, writable)
    if (!orphan.remoteUrl) throw fsError('ENOENT', `${path} was unlinked`)
    return {
      kind: 'remote' as const, path, writable, folderId: orphan.folderId, name: lastName(path), orphan,
      file: { url: orphan.remoteUrl, id: fileIdFromUrl(orphan.remoteUrl), size: orphan.size, password: orphan.password },
      stream: this.reader.newStream(),
    }
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
  }

  /** Write requests the kernel sent, and their bytes (big_writes: up to 128 KiB each). */
  writeStats(): { calls: number; bytes: number } {
    return { ...this.writeCounters }
  }

  openHandles(): number {
    return this.handles.size
  }
}

function fileAttr(size: number, mode: number, time: number, uid: number, gid: number): Attr {
  return { mode: 0o100000 | mode, size, nlink: 1, uid, gid, mtime: time, atime: time, ctime: time, blocks: Math.ceil(size / 512), blksize: 131072 }
}

function lastName(path: string): string {
  return splitPath(path).at(-1) ?? ''
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.kind === 'local' && b.kind === 'local') return a.local.id === b.local.id
  if (a.kind === 'remote' && b.kind === 'remote') return a.file.url === b.file.url
  return false
}
