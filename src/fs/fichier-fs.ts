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
 *   - with the trash on, what is deleted goes to the trash folder (trash.ts), and `.Trash-<uid>`
 *     at the root is the desktop's view of it (trash-view.ts);
 *   - a file unlinked while open keeps working through its open handles (orphans.ts).
 */
import type { BlockCache } from '../cache/block-cache.js'
import { folderKey, toStoredTime, type LocalFileRow, type MetadataStore } from '../cache/metadata-store.js'
import { LIMITS } from '../client/wire.js'
import { encodeForService } from '../client/names.js'
import { fileIdFromUrl } from '../client/ids.js'
import type { AccountInfo, FolderListing, RemoteFile, RemoteFolder } from '../client/types.js'
import type { Logger } from '../log.js'
import { CacheSpace } from './cache-space.js'
import { Deleter } from './deleter.js'
import { Deletions, type DeletionRemote } from './deletions.js'
import { fsError, isDiskFull } from './errors.js'
import { HandleTable, type RemoteHandle } from './handles.js'
import { LocalFiles } from './local-files.js'
import { Namespace, splitPath, type Entry } from './namespace.js'
import { isFuseHiddenName, Orphans, type Orphan } from './orphans.js'
import { RemoteReader, type DownloadSource, type ReaderOptions } from './reader.js'
import { Renames, type RenameRemote } from './renames.js'
import { Spool } from './spool.js'
import { Trash, TRASH_FOLDER_NAME, type TrashOptions, type TrashRemote } from './trash.js'
import { TrashView, type TrashPath } from './trash-view.js'
import { Uploader, type UploaderOptions, type UploadRemote, type UploadStatus } from './uploader.js'
import { Xattrs, type XattrRemote } from './xattrs.js'

/** Everything the core needs from the 1fichier client. */
export interface FsRemote extends DownloadSource, UploadRemote, DeletionRemote, RenameRemote, XattrRemote, TrashRemote {
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
  /** The cache dir's disk: a reserve of this many bytes is kept there (0: none; cache-space.ts). */
  cacheSpace?: { dir: string; reserveBytes: number }
  reader?: Partial<ReaderOptions>
  uploader?: Partial<UploaderOptions>
  /** Deleted things go to the account's trash folder (trash.ts); absent: deletions are for good. */
  trash?: Omit<TrashOptions, 'onFileGone'>
  /** Deletions for good from the trash wait this long for more to batch (default 1 s). */
  deleteBatchDelayMs?: number
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
  readonly trash?: Trash
  private readonly trashView?: TrashView<Attr>
  private readonly deleter: Deleter
  private trashTimer?: NodeJS.Timeout
  private purging = false
  readonly space: CacheSpace
  private readonly handles = new HandleTable()
  private readonly locals: LocalFiles
  private readonly deletions: Deletions
  private readonly renames: Renames
  private readonly xattrs: Xattrs
  private readonly orphans: Orphans
  private readonly writeCounters = { calls: 0, bytes: 0 }
  private readonly mountedAt = new Date()
  private quotaRefresh?: Promise<AccountInfo | undefined>
  /** cachedAttr(): attributes by path, valid for one store change stamp and until `until`. */
  private readonly attrCache = new Map<string, { attr: Attr; until: number }>()
  private readonly attrMisses = new Map<number, number>()
  /** readdir answers of folders without local files, valid like attrCache's entries. */
  private readonly dirCache = new Map<string, { result: { names: string[]; attrs: Attr[] }; until: number }>()
  private attrStamp = -1
  /** cachedAttr() answers (hits), look-ups that were not (misses), emptyings, folder fills. */
  readonly attrCounters = { hits: 0, misses: 0, resets: 0, fills: 0 }

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
    const forgetLink = (url: string) => this.reader.forget(url)
    if (options.trash) this.trash = new Trash(remote, store, this.namespace, { ...options.trash, onFileGone: forgetLink }, log)
    this.deleter = new Deleter(store, remote, this.trash, options.deleteBatchDelayMs ?? 1000, log)
    this.deletions = new Deletions(remote, store, this.namespace, forgetLink, this.deleter, this.trash)
    this.locals = new LocalFiles(store, this.spool, this.reader, this.namespace, this.handles, this.deletions)
    this.uploader = new Uploader(store, remote, this.spool, this.deleter, this.locals, (folderId, name) => store.pathOf(folderId, name), options.uploader, log)
    this.locals.attach(this.uploader)
    this.renames = new Renames(remote, store, this.namespace, this.locals, this.deletions, this.uploader)
    this.xattrs = new Xattrs(remote, store, this.namespace, () => this.checkWritable())
    this.orphans = new Orphans(store, this.handles, this.locals, this.deletions, this.spool, log)
    if (this.trash) {
      this.trashView = new TrashView<Attr>(options.uid, this.trash, store, this.namespace, this.deletions, this.renames, this.locals, this.uploader, {
        attrOf: (entry) => this.attrOf(entry),
        dirAttr: (mode, mtime) => this.folderAttr(mode, mtime),
        fileAttr: (size, mode, mtime) => fileAttr(size, mode, mtime, options.uid, options.gid),
        listFolder: (folderId) => this.listFolder(folderId),
      })
    }
  }

  /**
   * Resume the upload queue left by an earlier run, and start emptying the trash of what is
   * older than its retention time (now, then every tenth of it, at most hourly). Returns how
   * many files are pending.
   */
  start(): number {
    // Files unlinked while open when an earlier run stopped: their deletion is due.
    void this.orphans.recover().catch((error: unknown) => this.log?.warn({ err: (error as Error).message }, 'could not finish deletions of files unlinked while open'))
    this.space.start()
    const pending = this.uploader.recover()
    // A read-only mount changes nothing on the account, old trash entries included.
    const retentionMs = this.options.readOnly ? 0 : (this.trash?.options.retentionMs ?? 0)
    if (retentionMs > 0) {
      void this.purgeTrash()
      this.trashTimer = setInterval(() => void this.purgeTrash(), Math.min(3_600_000, Math.max(1000, Math.round(retentionMs / 10))))
      this.trashTimer.unref()
    }
    return pending
  }

  private async purgeTrash(): Promise<void> {
    if (this.purging || !this.trash) return
    this.purging = true
    try {
      await this.trash.purgeExpired()
    } catch (error) {
      this.log?.warn({ err: (error as Error).message }, 'could not empty old entries from the trash yet; will retry')
    } finally {
      this.purging = false
    }
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
    if (this.trashTimer) clearInterval(this.trashTimer)
    let status = this.uploader.status()
    if (options.wait) status = await this.uploader.drain(options.onProgress, options.signal)
    this.uploader.stop()
    this.deleter.stop()
    this.reader.close()
    await this.blockCache.flush()
    return status
  }

  // -------------------------------------------------------------------------------------------
  // Attributes and listings

  async getattr(path: string): Promise<Attr> {
    const cached = this.cachedAttr(path)
    if (cached) return cached
    const trash = this.inTrashView(path)
    if (trash) return trash.view.getattr(trash.at)
    const orphan = this.orphanAt(path)
    if (orphan) return this.orphanAttr(orphan)
    const epoch = this.attrEpoch()
    const entry = await this.namespace.resolve(path)
    const attr = this.attrOf(entry)
    if (entry.kind === 'local' || isFuseHiddenName(lastName(path))) return attr
    // Cached only if nothing changed while it was resolved (a listing, another op's write).
    if (this.attrEpoch() !== epoch) return attr
    // A folder's own attributes depend on its parent's listing (the root's on none).
    const parentId = entry.kind === 'remote' ? entry.parentId : entry.folder.parentId
    const until = parentId === null ? Number.POSITIVE_INFINITY : this.namespace.freshUntil(parentId)
    if (until <= Date.now()) return attr
    this.attrCache.set(path, { attr, until })
    // A walk of a folder (stat of every file, ls -l): fill in the rest of it at once, from the
    // fresh listing (never a listing of its own).
    if (parentId !== null) {
      const misses = (this.attrMisses.get(parentId) ?? 0) + 1
      this.attrMisses.set(parentId, misses)
      if (misses === ATTR_FILL_AFTER_MISSES) {
        const listed = await this.listFolder(parentId)
        this.cacheListed(parentPath(path), parentId, listed, epoch)
      }
    }
    return attr
  }

  /**
   * Attributes answered before without a look-up, while nothing in the store changed since
   * (its change stamp: any write by this process or a commit by another), and while the
   * listings they came from are fresh (past `--dir-cache-time`, the look-up lists again).
   * Local files (being written, waiting to upload) are never cached: their size and mtime live
   * in the spool. Neither are the trash view or libfuse's hidden names (answered before this).
   * Synchronous, so the FUSE adapter can answer a hit without a promise.
   */
  cachedAttr(path: string): Attr | undefined {
    this.attrEpoch()
    const hit = this.attrCache.get(path)
    if (hit === undefined || Date.now() >= hit.until) {
      if (hit) this.attrCache.delete(path)
      this.attrCounters.misses++
      return undefined
    }
    this.attrCounters.hits++
    return hit.attr
  }

  /** The store's change stamp; the attribute cache is emptied when it moved. */
  private attrEpoch(): number {
    const stamp = this.store.changeStamp()
    if (stamp !== this.attrStamp) {
      this.attrStamp = stamp
      if (this.attrCache.size > 0) this.attrCounters.resets++
      this.attrCache.clear()
      this.attrMisses.clear()
      this.dirCache.clear()
    }
    return stamp
  }

  /**
   * Cache what a listing of `path` gave (listFolder: folders and remote files first, local
   * last), if the store did not change since `epoch`, taken before the listing was read.
   */
  private cacheListed(path: string, folderId: number, listed: { names: string[]; attrs: Attr[]; shared: number }, epoch: number): void {
    if (this.attrEpoch() !== epoch) return
    const until = this.namespace.freshUntil(folderId)
    if (until <= Date.now()) return
    if (this.attrCache.size + listed.shared > ATTR_CACHE_MAX) this.attrCache.clear()
    this.attrCounters.fills++
    const prefix = path === '/' ? '/' : `${path}/`
    for (let i = 0; i < listed.shared; i++) {
      const name = listed.names[i] as string
      const child = prefix + name
      if (isFuseHiddenName(name) || this.inTrashView(child)) continue
      this.attrCache.set(child, { attr: listed.attrs[i] as Attr, until })
    }
  }

  async readdir(path: string): Promise<{ names: string[]; attrs: Attr[] }> {
    const trash = this.inTrashView(path)
    if (trash) {
      const listed = await trash.view.readdir(trash.at)
      const self = await trash.view.getattr(trash.at)
      return { names: ['.', '..', ...listed.names], attrs: [self, self, ...listed.attrs] }
    }
    const epoch = this.attrEpoch()
    const hit = this.dirCache.get(path)
    if (hit && Date.now() < hit.until) return hit.result
    const folder = await this.namespace.resolveFolder(path)
    const listed = await this.listFolder(folder.id)
    // `ls -l`, `find -ls`, a file manager: the look-ups of every name come right after.
    this.cacheListed(path, folder.id, listed, epoch)
    // `.` and `..` first, as every Linux filesystem lists them.
    const parent = folder.parentId === null ? folder : this.store.folder(folder.parentId) ?? folder
    const result = {
      names: ['.', '..', ...listed.names],
      attrs: [this.attrOf({ kind: 'folder', folder }), this.attrOf({ kind: 'folder', folder: parent }), ...listed.attrs],
    }
    // Kept like the attributes (same stamp, same freshness), when no local file is in it.
    if (listed.shared === listed.names.length && this.attrEpoch() === epoch) {
      const until = this.namespace.freshUntil(folder.id)
      if (until > Date.now() && this.dirCache.size < DIR_CACHE_MAX) this.dirCache.set(path, { result, until })
    }
    return result
  }

  /** A folder's entries with their attributes (also a folder in the trash, for the trash view). */
  private async listFolder(folderId: number): Promise<{ names: string[]; attrs: Attr[]; shared: number }> {
    const view = await this.namespace.view(folderId)
    const names: string[] = []
    const attrs: Attr[] = []
    for (const sub of view.folders) {
      names.push(sub.name)
      attrs.push(this.attrOf({ kind: 'folder', folder: sub }))
    }
    for (const file of view.remote) {
      names.push(file.displayName)
      attrs.push(this.attrOf({ kind: 'remote', parentId: folderId, file }))
    }
    // Sub-folders and remote files: attributes from the store alone (cacheable).
    const shared = names.length
    for (const local of view.local) {
      names.push(local.name)
      attrs.push(this.attrOf({ kind: 'local', parentId: folderId, local }))
    }
    return { names, attrs, shared }
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
    const trash = this.inTrashView(path)
    if (trash) {
      const opened = await trash.view.open(trash.at, path, flags)
      if ('handle' in opened) return this.handles.add(opened.handle)
      if (opened.entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
      if (opened.entry.kind === 'remote') return this.handles.add(this.remoteHandle(path, opened.entry, false))
      return this.handles.add(this.locals.handle(path, opened.entry.local, false))
    }
    const orphan = this.orphanAt(path)
    if (orphan) return this.handles.add(this.reopen(orphan, path, writable))
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    if (entry.kind === 'remote') {
      if (writable && flags & O_TRUNC) {
        const local = this.locals.create(entry.parentId, entry.file.displayName, { replacesUrl: entry.file.url, mode: this.store.attrs(entry.file.url).mode ?? null })
        return this.handles.add(this.locals.handle(path, local, true))
      }
      return this.handles.add(this.remoteHandle(path, entry, writable))
    }
    const fh = this.handles.add(this.locals.handle(path, entry.local, writable))
    if (writable && flags & O_TRUNC) await this.truncateHandle(fh, 0)
    return fh
  }

  private remoteHandle(path: string, entry: Extract<Entry, { kind: 'remote' }>, writable: boolean): RemoteHandle {
    return {
      kind: 'remote', path, writable, folderId: entry.parentId, name: entry.file.displayName,
      file: { url: entry.file.url, id: fileIdFromUrl(entry.file.url), size: entry.file.size, password: this.store.fileMeta(entry.file.url).password },
      stream: this.reader.newStream(),
    }
  }

  async create(path: string, mode: number): Promise<number> {
    this.checkWritable()
    const trash = this.inTrashView(path)
    if (trash) return this.handles.add(trash.view.create(trash.at, path))
    this.checkName(lastName(path), 'file')
    const { parent, name } = await this.namespace.parentOf(path)
    this.checkNotReserved(parent.id, name)
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

  /**
   * The bytes at `position` (fewer than `length`: end of file), handed to `consume` as a list
   * of buffers it must be done with when it returns (a remote file's are the cache's own
   * blocks, used again after the read: reader.ts); without `consume`, a copy comes back.
   */
  read(fh: number, length: number, position: number): Promise<Buffer>
  read<T>(fh: number, length: number, position: number, consume: (parts: Buffer[]) => T): Promise<T>
  async read<T>(fh: number, length: number, position: number, consume?: (parts: Buffer[]) => T): Promise<T | Buffer> {
    const use: (parts: Buffer[]) => T | Buffer = consume ?? ((parts) => Buffer.concat(parts))
    const handle = this.handles.get(fh)
    if (handle.kind === 'remote') {
      try {
        return await this.reader.read(handle.file, handle.stream, position, length, use)
      } catch (error) {
        // Deleted from 1fichier by someone else (a listing over the cap cannot show that): forget it.
        if ((error as { errno?: string }).errno === 'ENOENT' && !handle.orphan && this.store.fileByUrl(handle.file.url)) this.deletions.forgetFile(handle.file.url)
        throw error
      }
    }
    if (handle.kind === 'trash-info') return use((this.trashView as TrashView<Attr>).read(handle, length, position))
    if (!handle.spoolPath) return use([])
    return use([await this.spool.read(handle.spoolPath, position, length)])
  }

  async write(fh: number, data: Buffer, position: number): Promise<number> {
    const info = this.handles.get(fh)
    if (info.kind === 'trash-info') return (this.trashView as TrashView<Attr>).write(info, data, position)
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
    if (handle.kind === 'remote') this.reader.endStream(handle.stream)
    if (handle.kind === 'trash-info') return this.trashView?.release(handle)
    if (handle.kind === 'local') await this.locals.release(handle)
    if (handle.orphan) await this.orphans.closed(handle.orphan)
  }

  // -------------------------------------------------------------------------------------------
  // Namespace changes

  async mkdir(path: string, mode: number): Promise<void> {
    this.checkWritable()
    const trash = this.inTrashView(path)
    if (trash) return trash.view.mkdir(trash.at)
    this.checkName(lastName(path), 'folder')
    const { parent, name } = await this.namespace.parentOf(path)
    this.checkNotReserved(parent.id, name)
    if (this.namespace.entryIn(parent.id, name)) throw fsError('EEXIST', `${path} exists`)
    const folder = await this.remote.mkdir(parent.id, name)
    this.store.addFolder(parent.id, { id: folder.id, name, createdAt: Date.now() }, Date.now())
    this.namespace.touch(folderKey(folder.id))
    if ((mode & 0o7777) !== 0 && (mode & 0o7777) !== this.options.dirMode) this.store.setAttrs(folderKey(folder.id), { mode: mode & 0o7777 })
  }

  async rmdir(path: string): Promise<void> {
    this.checkWritable()
    const trash = this.inTrashView(path)
    if (trash) return trash.view.rmdir(trash.at)
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'folder') throw fsError('ENOTDIR', `${path} is not a folder`)
    if (entry.folder.id === 0) throw fsError('EBUSY', 'the root of the mount cannot be removed')
    this.space.beforeFreeing()
    const view = await this.namespace.view(entry.folder.id)
    if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${path} is not empty`)
    // `rm -rf` of a folder with a file still open in it: 1fichier takes only an empty folder.
    await this.orphans.flushFolder(entry.folder.id)
    await this.deletions.removeFolder(entry.folder.id)
  }

  async unlink(path: string): Promise<void> {
    this.checkWritable()
    const trash = this.inTrashView(path)
    if (trash) return trash.view.unlink(trash.at)
    // libfuse unlinks its hidden name after the last close: the orphan is already dealt with.
    if (this.orphans.releasedHidden(lastName(path))) return
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    this.space.beforeFreeing()
    await this.orphans.unlink(entry)
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkWritable()
    const source = this.inTrashView(from)
    const target = this.inTrashView(to)
    if (source || target) return (this.trashView as TrashView<Attr>).rename(from, source?.at, to, target?.at)
    const { parent, name } = await this.namespace.parentOf(to)
    this.checkNotReserved(parent.id, name)
    const entry = await this.namespace.resolve(from)
    if (entry.kind !== 'folder' && isFuseHiddenName(name) && this.orphans.handlesOf(entry).length > 0) {
      // libfuse hides a file unlinked while open under this name: it is the unlink.
      return this.orphans.unlink(entry, name)
    }
    if (entry.kind !== 'folder') {
      // A file replaced by the rename while open keeps working through its handles.
      const replaced = this.namespace.entryIn(parent.id, name)
      if (replaced && replaced.kind !== 'folder' && !sameEntry(entry, replaced) && this.orphans.handlesOf(replaced).length > 0) await this.orphans.unlink(replaced)
    }
    await this.renames.rename(from, to)
  }

  // -------------------------------------------------------------------------------------------
  // Attributes set by programs

  /** Only the mtime is kept (atime is shown equal to it); `omit` leaves it, as `touch -a` wants. */
  async utimens(path: string, mtime: TimeChange): Promise<void> {
    this.checkWritable()
    const trash = this.inTrashView(path)
    if (trash) return trash.view.touchAttrs(trash.at)
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
    const trash = this.inTrashView(path)
    if (trash) return trash.view.touchAttrs(trash.at)
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
    const trash = this.inTrashView(path)
    if (trash) return trash.view.touchAttrs(trash.at)
    await this.namespace.resolve(path)
  }

  // -------------------------------------------------------------------------------------------
  // Extended attributes (xattrs.ts)

  // The trash view has no extended attributes: what is in it cannot be changed.

  async listxattr(path: string): Promise<string[]> {
    return this.inTrashView(path) ? [] : this.xattrs.list(path)
  }

  async getxattr(path: string, name: string): Promise<Buffer | null> {
    return this.inTrashView(path) ? null : this.xattrs.get(path, name)
  }

  async setxattr(path: string, name: string, value: Buffer): Promise<void> {
    if (this.inTrashView(path)) throw fsError('EPERM', 'what is in the trash cannot be changed; restore it first')
    return this.xattrs.set(path, name, value)
  }

  async removexattr(path: string, name: string): Promise<void> {
    if (this.inTrashView(path)) throw fsError('EPERM', 'what is in the trash cannot be changed; restore it first')
    return this.xattrs.remove(path, name)
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  /** Where a path is in the desktop's trash view, if it is in it. */
  private inTrashView(path: string): { view: TrashView<Attr>; at: TrashPath } | undefined {
    const at = this.trashView?.match(path)
    return at && this.trashView ? { view: this.trashView, at } : undefined
  }

  /** The trash folder's name is fichfs's at the root (the trash view is where its content shows). */
  private checkNotReserved(parentId: number, name: string): void {
    if (parentId === 0 && name === TRASH_FOLDER_NAME) throw fsError('EPERM', `/${TRASH_FOLDER_NAME} is the name of fichfs's trash folder`)
  }

  private attrOf(entry: Entry): Attr {
    const { uid, gid } = this.options
    if (entry.kind === 'folder') {
      const stored = this.store.attrs(folderKey(entry.folder.id))
      const time = stored.mtime ?? entry.folder.createdAt ?? this.mountedAt.getTime()
      return this.folderAttr(stored.mode ?? this.options.dirMode, time, this.folderLinks(entry.folder.id))
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

  /** A folder's attributes; `nlink` 2 unless its link count is known (folderLinks). */
  private folderAttr(mode: number, time: number, nlink = 2): Attr {
    const { uid, gid } = this.options
    return { mode: 0o40000 | mode, size: 4096, nlink, uid, gid, mtime: time, atime: time, ctime: time, blocks: 8, blksize: 4096 }
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
    const handle = this.handles.get(fh)
    if (handle.kind === 'trash-info') return (this.trashView as TrashView<Attr>).truncate(handle, size)
    if (size > LIMITS.maxFileSize) throw fsError('EFBIG', '1fichier takes files up to 300 GB')
    await this.locals.truncate(fh, size)
    // Cut to zero, the file is written again from the start: an earlier failed write is gone.
    const now = this.handles.get(fh)
    if (size === 0 && now.kind === 'local') this.store.clearWriteFailure(now.localId)
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

function fileAttr(size: number, mode: number, time: number, uid: number, gid: number): Attr {
  return { mode: 0o100000 | mode, size, nlink: 1, uid, gid, mtime: time, atime: time, ctime: time, blocks: Math.ceil(size / 512), blksize: 131072 }
}

/** The attribute cache fills a whole folder after this many look-up misses in it (a walk). */
const ATTR_FILL_AFTER_MISSES = 8
/** Paths the attribute cache holds at most (about 200 bytes each). */
const ATTR_CACHE_MAX = 200_000
/** Folders whose readdir answer is kept at most. */
const DIR_CACHE_MAX = 1000

function parentPath(path: string): string {
  const cut = path.lastIndexOf('/')
  return cut <= 0 ? '/' : path.slice(0, cut)
}

function lastName(path: string): string {
  return splitPath(path).at(-1) ?? ''
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.kind === 'local' && b.kind === 'local') return a.local.id === b.local.id
  if (a.kind === 'remote' && b.kind === 'remote') return a.file.url === b.file.url
  return false
}
