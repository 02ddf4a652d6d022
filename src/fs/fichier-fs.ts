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
import { folderKey, type FolderRow, type LocalFileRow, type MetadataStore } from '../cache/metadata-store.js'
import { LIMITS } from '../client/wire.js'
import { encodeForService } from '../client/fichier-client.js'
import { fileIdFromUrl } from '../client/ids.js'
import type { AccountInfo, FileAttributes, FileDetails, FolderListing, RemoteFile, RemoteFolder } from '../client/types.js'
import type { Logger } from '../log.js'
import { fsError } from './errors.js'
import { Namespace, type Entry } from './namespace.js'
import { RemoteReader, type DownloadSource, type ReaderOptions, type ReadStream, type RemoteFileRef } from './reader.js'
import { Spool } from './spool.js'
import { Uploader, type LocalTracker, type UploaderOptions, type UploadRemote, type UploadStatus } from './uploader.js'

/** Everything the core needs from the 1fichier client. */
export interface FsRemote extends DownloadSource, UploadRemote {
  listFolder(folderId: number): Promise<FolderListing>
  listFiles(folderId: number): Promise<RemoteFile[]>
  mkdir(parentId: number, name: string): Promise<RemoteFolder>
  rmdir(folderId: number): Promise<void>
  moveFolder(folderId: number, destinationId: number, rename?: string): Promise<void>
  accountInfo(): Promise<AccountInfo>
  fileInfo(url: string): Promise<FileDetails>
  setAttributes(urls: string[], attributes: FileAttributes): Promise<number>
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
  reader?: Partial<ReaderOptions>
  uploader?: Partial<UploaderOptions>
}

const XATTR_PREFIX = 'user.fichfs.'
export const XATTR = {
  url: `${XATTR_PREFIX}url`,
  whirlpool: `${XATTR_PREFIX}whirlpool`,
  password: `${XATTR_PREFIX}password`,
  description: `${XATTR_PREFIX}description`,
} as const

const O_ACCMODE = 3
const O_RDONLY = 0
const O_TRUNC = 0o1000

interface RemoteHandle { kind: 'remote'; path: string; file: RemoteFileRef; stream: ReadStream; writable: boolean; folderId: number; name: string }
interface LocalHandle { kind: 'local'; path: string; localId: number; spoolPath: string | null; writable: boolean }
type Handle = RemoteHandle | LocalHandle

interface LiveLocal {
  writers: number
  seq: number
  /** The journal says 'writing' (checked once per write session). */
  writing?: boolean
  mtime?: number
  uploaded?: { seq: number; url: string }
}

export class FichierFs implements LocalTracker {
  readonly namespace: Namespace
  readonly reader: RemoteReader
  readonly uploader: Uploader
  readonly spool: Spool
  private readonly handles = new Map<number, Handle>()
  private nextHandle = 1
  private readonly live = new Map<number, LiveLocal>()
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
    this.uploader = new Uploader(store, remote, this.spool, this, (folderId, name) => store.pathOf(folderId, name), options.uploader, log)
  }

  /** Resume the upload queue left by an earlier run. Returns how many files are pending. */
  start(): number {
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
  // LocalTracker (for the uploader)

  writers(localId: number): number {
    return this.live.get(localId)?.writers ?? 0
  }

  seq(localId: number): number {
    return this.live.get(localId)?.seq ?? 0
  }

  async listedSince(folderId: number, since: number): Promise<void> {
    const listedAt = this.store.folder(folderId)?.listedAt ?? null
    if (listedAt !== null && listedAt >= since) return
    this.namespace.invalidate(folderId)
    await this.namespace.ensureListed(folderId)
  }

  noteUploaded(localId: number, seq: number, url: string): void {
    const live = this.liveOf(localId)
    live.uploaded = { seq, url }
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
        const local = this.createLocal(entry.parentId, entry.file.displayName, { replacesUrl: entry.file.url, mode: this.store.attrs(entry.file.url).mode ?? null })
        return this.openLocal(path, local, true)
      }
      return this.addHandle({
        kind: 'remote', path, writable, folderId: entry.parentId, name: entry.file.displayName,
        file: { url: entry.file.url, id: fileIdFromUrl(entry.file.url), size: entry.file.size, password: this.store.fileMeta(entry.file.url).password },
        stream: this.reader.newStream(),
      })
    }
    const fh = this.openLocal(path, entry.local, writable)
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
    const local = this.createLocal(parent.id, name, {
      replacesUrl: existing?.kind === 'remote' ? existing.file.url : null,
      mode: mode & 0o7777,
    })
    return this.openLocal(path, local, true)
  }

  /** The bytes at `position`, as a list of buffers (fewer than `length` bytes: end of file). */
  async read(fh: number, length: number, position: number): Promise<Buffer[]> {
    const handle = this.handle(fh)
    if (handle.kind === 'remote') return this.reader.read(handle.file, handle.stream, position, length)
    if (!handle.spoolPath) return []
    return [await this.spool.read(handle.spoolPath, position, length)]
  }

  async write(fh: number, data: Buffer, position: number): Promise<number> {
    const handle = await this.writableLocal(fh)
    if (position + data.length > LIMITS.maxFileSize) throw fsError('EFBIG', '1fichier takes files up to 300 GB')
    const written = await this.spool.write(handle.spoolPath as string, data, position)
    this.changed(handle.localId)
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
    this.handle(fh)
  }

  /** fsync: the file's current content is on 1fichier when this returns. */
  async fsync(fh: number): Promise<void> {
    const handle = this.handle(fh)
    if (handle.kind !== 'local' || !handle.spoolPath) return
    await this.spool.sync(handle.spoolPath)
    const row = this.store.localFileById(handle.localId)
    if (!row || row.state === 'empty') return
    const live = this.live.get(handle.localId)
    if (live?.uploaded && live.uploaded.seq === live.seq) return
    if (row.state === 'writing') this.persistLocal(handle.localId, handle.spoolPath)
    await this.uploader.flush(handle.localId)
  }

  async release(fh: number): Promise<void> {
    const handle = this.handles.get(fh)
    if (!handle) return
    this.handles.delete(fh)
    if (handle.kind !== 'local') return
    if (handle.spoolPath) await this.spool.release(handle.spoolPath)
    if (!handle.writable) return
    const live = this.liveOf(handle.localId)
    live.writers = Math.max(0, live.writers - 1)
    if (live.writers > 0) return
    this.closeLocal(handle.localId)
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
    const view = await this.namespace.view(entry.folder.id)
    if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${path} is not empty`)
    await this.remote.rmdir(entry.folder.id)
    this.store.forgetFolderTree(entry.folder.id)
    this.store.deleteAttrs(folderKey(entry.folder.id))
    this.namespace.touch(folderKey(entry.folder.id))
  }

  async unlink(path: string): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${path} is a folder`)
    if (entry.kind === 'remote') {
      await this.remote.removeFiles([entry.file.url])
      this.forgetRemote(entry.file.url)
      return
    }
    await this.dropLocal(entry.local)
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkWritable()
    const source = await this.namespace.resolve(from)
    const { parent, name } = await this.namespace.parentOf(to)
    const target = this.namespace.entryIn(parent.id, name)
    if (source.kind === 'folder') return this.renameFolder(source.folder, parent, name, target)
    this.checkName(name, 'file')
    if (target?.kind === 'folder') throw fsError('EISDIR', `${to} is a folder`)
    if (source.kind === 'remote') return this.renameRemote(source, parent, name, target)
    return this.renameLocal(source.local, parent, name, target)
  }

  // -------------------------------------------------------------------------------------------
  // Attributes set by programs

  async utimens(path: string, mtime: Date): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    const ms = mtime.getTime()
    if (entry.kind === 'local') {
      this.store.updateLocalFile(entry.local.id, { mtime: ms })
      const live = this.live.get(entry.local.id)
      if (live) live.mtime = ms
    } else {
      this.store.setAttrs(this.attrsKey(entry), { mtime: ms })
    }
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
  // Extended attributes: what 1fichier knows of a file, under user.fichfs.*

  async listxattr(path: string): Promise<string[]> {
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote') return []
    const names: string[] = [XATTR.url, XATTR.description]
    if (entry.file.checksum) names.push(XATTR.whirlpool)
    if (entry.file.passwordProtected) names.push(XATTR.password)
    return names
  }

  /** The value, or null for "no such attribute" (ENODATA). The kernel's own probes cost nothing. */
  async getxattr(path: string, name: string): Promise<Buffer | null> {
    if (!name.startsWith(XATTR_PREFIX)) return null
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote') return null
    const file = entry.file
    switch (name) {
      case XATTR.url:
        return Buffer.from(file.url)
      case XATTR.whirlpool:
        return file.checksum ? Buffer.from(file.checksum) : null
      case XATTR.password: {
        if (!file.passwordProtected) return null
        // 1fichier never gives a password back: only one set through fichfs is known.
        return Buffer.from(this.store.fileMeta(file.url).password ?? '(set)')
      }
      case XATTR.description: {
        let description = this.store.fileMeta(file.url).description
        if (description === undefined) {
          description = (await this.remote.fileInfo(file.url)).description ?? ''
          this.store.setFileMeta(file.url, { description })
        }
        return description ? Buffer.from(description) : null
      }
      default:
        return null
    }
  }

  async setxattr(path: string, name: string, value: Buffer): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote' || (name !== XATTR.password && name !== XATTR.description)) {
      throw fsError('ENOTSUP', `only ${XATTR.password} and ${XATTR.description} can be set, on uploaded files`)
    }
    const text = value.toString('utf8')
    if (name === XATTR.password) {
      if (text.length < 6) throw fsError('EINVAL', 'a 1fichier download password needs at least 6 characters')
      await this.remote.setAttributes([entry.file.url], { password: text })
      this.store.setFileMeta(entry.file.url, { password: text })
      this.store.setPasswordProtected(entry.file.url, true)
    } else {
      await this.remote.setAttributes([entry.file.url], { description: text })
      this.store.setFileMeta(entry.file.url, { description: text })
    }
  }

  async removexattr(path: string, name: string): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote' || (name !== XATTR.password && name !== XATTR.description)) throw fsError('ENODATA', `no ${name}`)
    if (name === XATTR.password) {
      if (!entry.file.passwordProtected) throw fsError('ENODATA', 'no password is set')
      await this.remote.setAttributes([entry.file.url], { password: '' })
      this.store.setFileMeta(entry.file.url, { password: null })
      this.store.setPasswordProtected(entry.file.url, false)
    } else {
      await this.remote.setAttributes([entry.file.url], { description: '' })
      this.store.setFileMeta(entry.file.url, { description: '' })
    }
  }

  // -------------------------------------------------------------------------------------------
  // Internals: entries

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
    const local = entry.local
    const live = this.live.get(local.id)
    const size = local.spoolPath && live && live.writers > 0 ? this.spool.size(local.spoolPath) : local.size
    const time = new Date(live?.mtime ?? local.mtime)
    return fileAttr(size, local.mode ?? this.options.fileMode, time, uid, gid)
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

  private forgetRemote(url: string): void {
    this.store.deleteFile(url)
    this.store.deleteAttrs(url)
    this.reader.forget(url)
    this.namespace.touch(url)
  }

  // -------------------------------------------------------------------------------------------
  // Internals: local files

  private liveOf(localId: number): LiveLocal {
    let live = this.live.get(localId)
    if (!live) {
      live = { writers: 0, seq: 0 }
      this.live.set(localId, live)
    }
    return live
  }

  private createLocal(folderId: number, name: string, options: { replacesUrl: string | null; mode: number | null }): LocalFileRow {
    const now = Date.now()
    return this.store.addLocalFile({
      folderId, name, spoolPath: this.spool.create(), size: 0, mtime: now, mode: options.mode, state: 'writing',
      replacesUrl: options.replacesUrl, readyAt: null, createdAt: now,
    })
  }

  private openLocal(path: string, local: LocalFileRow, writable: boolean): number {
    return this.addHandle(this.localHandle(path, local, writable))
  }

  /** A handle on a local file (counting it as a writer, with a spool file, when writable). */
  private localHandle(path: string, local: LocalFileRow, writable: boolean): LocalHandle {
    let spoolPath = local.spoolPath
    if (writable) {
      if (!spoolPath) {
        // An empty file gets content: it needs a spool file now.
        spoolPath = this.spool.create()
        this.store.updateLocalFile(local.id, { spoolPath })
      }
      const live = this.liveOf(local.id)
      live.writers++
      if (local.state !== 'writing') {
        // Reopened before or during its upload: an upload in flight is now of an old version.
        this.store.updateLocalFile(local.id, { state: 'writing' })
      }
    }
    if (spoolPath) this.spool.acquire(spoolPath)
    return { kind: 'local', path, localId: local.id, spoolPath, writable }
  }

  /** Content changed: bump the counter that uploads compare, and the mtime. */
  private changed(localId: number): void {
    const live = this.liveOf(localId)
    live.seq++
    live.mtime = Date.now()
  }

  /** The last writer closed: journal size and mtime, then queue the upload (or keep it empty). */
  private closeLocal(localId: number): void {
    const row = this.store.localFileById(localId)
    if (!row || !row.spoolPath) return
    const live = this.liveOf(localId)
    const size = this.spool.sizeOnDisk(row.spoolPath)
    const mtime = live.mtime ?? row.mtime
    if (size === 0) {
      // 1fichier refuses empty files: an empty file lives in the journal only. The version it
      // replaced is deleted by the uploader after the write-back delay (a `cp` over an
      // existing file truncates it first, then writes: that must not delete anything).
      void this.spool.remove(row.spoolPath)
      this.store.updateLocalFile(localId, { state: 'empty', size: 0, mtime, spoolPath: null, readyAt: Date.now() })
      this.live.delete(localId)
      if (row.replacesUrl) this.uploader.kick()
      return
    }
    if (live.uploaded && live.uploaded.seq === live.seq && live.uploaded.url === row.replacesUrl) {
      // Already uploaded by an fsync and unchanged since: that upload is the file.
      this.store.db.transaction(() => {
        this.store.setAttrs(row.replacesUrl as string, { mtime, mode: row.mode ?? undefined })
        this.store.deleteLocalFile(localId)
      })()
      void this.spool.remove(row.spoolPath)
      this.live.delete(localId)
      return
    }
    this.store.updateLocalFile(localId, { state: 'queued', size, mtime, readyAt: Date.now() })
    live.mtime = undefined
    live.writing = false
    this.uploader.kick()
  }

  private persistLocal(localId: number, spoolPath: string): void {
    const live = this.liveOf(localId)
    live.writing = false
    this.store.updateLocalFile(localId, { state: 'queued', size: this.spool.size(spoolPath), ...(live.mtime ? { mtime: live.mtime } : {}), readyAt: Date.now() })
  }

  /** Delete a local file and, if it replaced a remote version, that version too. */
  private async dropLocal(local: LocalFileRow): Promise<void> {
    this.uploader.abort(local.id)
    this.store.deleteLocalFile(local.id)
    this.live.delete(local.id)
    if (local.spoolPath) await this.spool.remove(local.spoolPath)
    if (local.replacesUrl) {
      await this.remote.removeFiles([local.replacesUrl])
      this.forgetRemote(local.replacesUrl)
    }
  }

  private async writableLocal(fh: number): Promise<LocalHandle> {
    const handle = this.handle(fh)
    if (!handle.writable) throw fsError('EBADF', 'file not open for writing')
    if (handle.kind === 'local') {
      if (!handle.spoolPath) throw fsError('EBADF', 'file has no local copy')
      const live = this.liveOf(handle.localId)
      if (!live.writing) {
        // Once per write session, not per write: an fsync or a finished upload may have moved
        // the journal state on since the file was opened.
        const row = this.store.localFileById(handle.localId)
        if (row && row.state !== 'writing') this.store.updateLocalFile(row.id, { state: 'writing' })
        live.writing = true
      }
      return handle
    }
    return this.becomeLocal(fh, handle, true)
  }

  /**
   * A remote file opened for writing gets its first change: from now on it is a local file (the
   * one already replacing it, or a new one), under the same handle number. With `download`
   * (a write, or a truncate to a non-zero size) editing starts from the current content.
   */
  private async becomeLocal(fh: number, handle: RemoteHandle, download: boolean): Promise<LocalHandle> {
    const existing = this.store.localReplacing(handle.file.url)
    const local = existing ?? this.createLocal(handle.folderId, handle.name, { replacesUrl: handle.file.url, mode: this.store.attrs(handle.file.url).mode ?? null })
    if (!existing && download) {
      const spoolPath = local.spoolPath as string
      this.spool.acquire(spoolPath)
      try {
        const stream = this.reader.newStream()
        const chunk = 8 << 20
        for (let offset = 0; offset < handle.file.size; offset += chunk) {
          let at = offset
          for (const part of await this.reader.read(handle.file, stream, offset, chunk)) {
            await this.spool.write(spoolPath, part, at)
            at += part.length
          }
        }
      } catch (error) {
        await this.spool.release(spoolPath)
        this.store.deleteLocalFile(local.id)
        await this.spool.remove(spoolPath)
        throw error
      }
      await this.spool.release(spoolPath)
    }
    const swapped = this.localHandle(handle.path, this.store.localFileById(local.id) as LocalFileRow, true)
    this.handles.set(fh, swapped)
    return swapped
  }

  private async truncateHandle(fh: number, size: number): Promise<void> {
    if (size > LIMITS.maxFileSize) throw fsError('EFBIG', '1fichier takes files up to 300 GB')
    const handle = this.handle(fh)
    // Cutting a remote file to zero needs nothing of its content: no download.
    const local = handle.kind === 'remote' && size === 0 && handle.writable
      ? await this.becomeLocal(fh, handle, false)
      : await this.writableLocal(fh)
    await this.spool.truncate(local.spoolPath as string, size)
    this.changed(local.localId)
  }


  // -------------------------------------------------------------------------------------------
  // Internals: renames

  private async renameFolder(folder: FolderRow, parent: FolderRow, name: string, target: Entry | undefined): Promise<void> {
    if (folder.id === 0) throw fsError('EBUSY', 'the root of the mount cannot be moved')
    this.checkName(name, 'folder')
    if (folder.parentId === parent.id && folder.name === name) return
    for (let up: FolderRow | undefined = parent; up; up = up.parentId === null ? undefined : this.store.folder(up.parentId)) {
      if (up.id === folder.id) throw fsError('EINVAL', 'cannot move a folder into itself')
    }
    if (target) {
      if (target.kind !== 'folder') throw fsError('ENOTDIR', `${name} is not a folder`)
      const view = await this.namespace.view(target.folder.id)
      if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${name} is not empty`)
      await this.remote.rmdir(target.folder.id)
      this.store.forgetFolderTree(target.folder.id)
    }
    await this.remote.moveFolder(folder.id, parent.id, name !== folder.name ? name : undefined)
    this.store.moveFolder(folder.id, parent.id, name)
    this.namespace.touch(folderKey(folder.id))
  }

  private async renameRemote(source: Extract<Entry, { kind: 'remote' }>, parent: FolderRow, name: string, target: Entry | undefined): Promise<void> {
    const file = source.file
    if (source.parentId === parent.id && file.displayName === name) return
    let url = file.url
    if (source.parentId === parent.id) {
      if (name !== file.name) url = await this.remote.renameFile(file.url, name)
    } else {
      url = await this.remote.moveFile(file.url, parent.id, name !== file.name ? name : undefined)
    }
    this.store.db.transaction(() => {
      this.store.deleteFile(file.url)
      this.store.putFile(parent.id, { url, name, size: file.size, uploadedAt: file.uploadedAt ?? undefined, checksum: file.checksum ?? undefined, contentType: file.contentType ?? undefined, passwordProtected: file.passwordProtected })
      this.store.moveAttrs(file.url, url)
    })()
    this.namespace.touch(file.url)
    this.namespace.touch(url)
    // POSIX: a rename onto an existing file replaces it.
    if (target?.kind === 'remote') {
      await this.remote.removeFiles([target.file.url])
      this.forgetRemote(target.file.url)
    } else if (target?.kind === 'local') {
      await this.dropLocal(target.local)
    }
  }

  private async renameLocal(local: LocalFileRow, parent: FolderRow, name: string, target: Entry | undefined): Promise<void> {
    if (local.folderId === parent.id && local.name === name) return
    let replacesUrl = local.replacesUrl
    if (target?.kind === 'remote') {
      // The upload will replace it; until then it is hidden behind the local file.
      if (replacesUrl) {
        // The version this file replaced at its old name goes too.
        await this.remote.removeFiles([replacesUrl])
        this.forgetRemote(replacesUrl)
      }
      replacesUrl = target.file.url
    } else if (target?.kind === 'local') {
      const inherited = target.local.replacesUrl
      this.uploader.abort(target.local.id)
      this.store.deleteLocalFile(target.local.id)
      this.live.delete(target.local.id)
      if (target.local.spoolPath) await this.spool.remove(target.local.spoolPath)
      if (inherited) {
        if (replacesUrl) {
          await this.remote.removeFiles([replacesUrl])
          this.forgetRemote(replacesUrl)
        }
        replacesUrl = inherited
      }
    } else if (replacesUrl) {
      // Moving away from the name it replaced: that old version must not stay behind.
      await this.remote.removeFiles([replacesUrl])
      this.forgetRemote(replacesUrl)
      replacesUrl = null
    }
    this.store.updateLocalFile(local.id, { folderId: parent.id, name, replacesUrl })
    // A queued upload waits again: renames right after close (rsync) must land before it starts.
    const row = this.store.localFileById(local.id)
    if (row?.state === 'queued') this.store.updateLocalFile(local.id, { readyAt: Date.now() })
    this.uploader.kick()
  }

  // -------------------------------------------------------------------------------------------
  // Internals: handles

  private addHandle(handle: Handle): number {
    while (this.handles.has(this.nextHandle) || this.nextHandle === 0) this.nextHandle = (this.nextHandle % 0x7ffffff0) + 1
    const fh = this.nextHandle++
    this.handles.set(fh, handle)
    return fh
  }

  private handle(fh: number): Handle {
    const handle = this.handles.get(fh)
    if (!handle) throw fsError('EBADF', `no open file ${fh}`)
    return handle
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

