/**
 * Local files: the files that exist on this machine only, being written or waiting to upload
 * (rows of MetadataStore.local_files, each with a spool file).
 *
 * What the journal does not hold lives here, in memory: how many handles write to a file, a
 * change counter (equal counters mean equal content, which the uploader compares), and the
 * mtime of a file being written. A remote file opened for writing becomes a local file at its
 * first change; after the last close the file is queued for the uploader.
 */
import type { LocalFileRow, MetadataStore } from '../cache/metadata-store.js'
import { fileIdFromUrl } from '../client/ids.js'
import type { Deletions } from './deletions.js'
import { fsError } from './errors.js'
import type { HandleTable, LocalHandle, RemoteHandle } from './handles.js'
import type { Namespace } from './namespace.js'
import type { Orphan } from './orphans.js'
import type { RemoteReader } from './reader.js'
import type { Spool } from './spool.js'
import type { TrashReason } from './trash.js'
import type { LocalTracker, Uploader } from './uploader.js'

interface LiveLocal {
  writers: number
  seq: number
  /** The journal says 'writing' (checked once per write session). */
  writing?: boolean
  mtime?: number
  uploaded?: { seq: number; url: string }
}

export class LocalFiles implements LocalTracker {
  private readonly live = new Map<number, LiveLocal>()
  private uploader!: Uploader
  /** Ids of local copies of unlinked files: negative, so never a journal row's. */
  private nextDetachedId = -1

  constructor(
    private readonly store: MetadataStore,
    private readonly spool: Spool,
    private readonly reader: RemoteReader,
    private readonly namespace: Namespace,
    private readonly handles: HandleTable,
    private readonly deletions: Deletions,
  ) {}

  /** The uploader is built with this object as its tracker, then attached. */
  attach(uploader: Uploader): void {
    this.uploader = uploader
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
    this.liveOf(localId).uploaded = { seq, url }
  }

  async keepUploaded(url: string, spoolPath: string, size: number): Promise<void> {
    try {
      this.spool.acquire(spoolPath)
    } catch {
      return
    }
    try {
      await this.reader.adoptUploaded(fileIdFromUrl(url), size, (offset, length) => this.spool.read(spoolPath, offset, length))
    } catch {
      // Only a cache: the first read will fetch what is not kept.
    } finally {
      await this.spool.release(spoolPath)
    }
  }

  // -------------------------------------------------------------------------------------------
  // Creating and opening

  create(folderId: number, name: string, options: { replacesUrl: string | null; mode: number | null }): LocalFileRow {
    const now = Date.now()
    return this.store.addLocalFile({
      folderId, name, spoolPath: this.spool.create(), size: 0, mtime: now, mode: options.mode, state: 'writing',
      replacesUrl: options.replacesUrl, readyAt: null, createdAt: now,
    })
  }

  /** A handle on a local file (counting it as a writer, with a spool file, when writable). */
  handle(path: string, local: LocalFileRow, writable: boolean): LocalHandle {
    let spoolPath = local.spoolPath
    if (writable) {
      if (!spoolPath) {
        // An empty file gets content: it needs a spool file now.
        spoolPath = this.spool.create()
        this.store.updateLocalFile(local.id, { spoolPath })
      }
      this.liveOf(local.id).writers++
      if (local.state !== 'writing') {
        // Reopened before or during its upload: an upload in flight is now of an old version.
        this.store.updateLocalFile(local.id, { state: 'writing' })
      }
    }
    if (spoolPath) this.spool.acquire(spoolPath)
    return { kind: 'local', path, localId: local.id, spoolPath, writable }
  }

  /** The size and mtime to show: while a file is being written, its live values. */
  shown(local: LocalFileRow): { size: number; mtime: number } {
    const live = this.live.get(local.id)
    const size = local.spoolPath && live && live.writers > 0 ? this.spool.size(local.spoolPath) : local.size
    return { size, mtime: live?.mtime ?? local.mtime }
  }

  /** The mtime of a file being written (its last change), if it has changed since it was opened. */
  liveMtime(localId: number): number | undefined {
    return this.live.get(localId)?.mtime
  }

  /** One more handle on the local copy of an unlinked file (a reopen through /proc/PID/fd). */
  detachedHandle(path: string, orphan: Orphan, writable: boolean): LocalHandle {
    const { localId, spoolPath } = orphan.local as NonNullable<Orphan['local']>
    this.spool.acquire(spoolPath)
    if (writable) this.liveOf(localId).writers++
    return { kind: 'local', path, localId, spoolPath, writable, orphan }
  }

  setMtime(localId: number, mtime: number): void {
    this.store.updateLocalFile(localId, { mtime })
    const live = this.live.get(localId)
    if (live) live.mtime = mtime
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /** The local handle to write through (a remote handle becomes local at its first change). */
  async writable(fh: number): Promise<LocalHandle> {
    const handle = this.handles.get(fh)
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
    if (handle.kind !== 'remote') throw fsError('EBADF', 'not a file of the account')
    return this.becomeLocal(fh, handle, true)
  }

  /** Content changed: bump the counter that uploads compare, and the mtime. */
  changed(localId: number): void {
    const live = this.liveOf(localId)
    live.seq++
    live.mtime = Date.now()
  }

  async truncate(fh: number, size: number): Promise<void> {
    const handle = this.handles.get(fh)
    // Cutting a remote file to zero needs nothing of its content: no download.
    const local = handle.kind === 'remote' && size === 0 && handle.writable
      ? await this.becomeLocal(fh, handle, false)
      : await this.writable(fh)
    await this.spool.truncate(local.spoolPath as string, size)
    this.changed(local.localId)
  }

  /** fsync: the file's current content is on 1fichier when this returns. */
  async fsync(handle: LocalHandle): Promise<void> {
    if (!handle.spoolPath) return
    const row = this.store.localFileById(handle.localId)
    const live = this.live.get(handle.localId)
    if (!row || row.state === 'empty' || (live?.uploaded && live.uploaded.seq === live.seq)) {
      await this.spool.sync(handle.spoolPath)
      return
    }
    if (row.state === 'writing') this.persist(handle.localId, handle.spoolPath)
    // The local copy's fdatasync (seconds for a big file) and the upload (which reads the page
    // cache) run side by side; fsync returns once both are done, and fails if either fails.
    const [synced, uploaded] = await Promise.allSettled([this.spool.sync(handle.spoolPath), this.uploader.flush(handle.localId)])
    if (uploaded.status === 'rejected') throw uploaded.reason
    if (synced.status === 'rejected') throw synced.reason
  }

  /** A handle closed; after the last writer, the file is queued. */
  async release(handle: LocalHandle): Promise<void> {
    if (handle.spoolPath) await this.spool.release(handle.spoolPath)
    if (!handle.writable) return
    const live = this.liveOf(handle.localId)
    live.writers = Math.max(0, live.writers - 1)
    if (live.writers > 0) return
    this.closed(handle.localId)
  }

  // -------------------------------------------------------------------------------------------
  // Removing

  /**
   * Drop a local file (row, spool file, any upload in flight). Returns the remote version it
   * replaced, which the caller deletes or hands on.
   */
  async discard(local: LocalFileRow): Promise<string | null> {
    this.uploader.abort(local.id)
    this.store.deleteLocalFile(local.id)
    this.live.delete(local.id)
    if (local.spoolPath) await this.spool.remove(local.spoolPath)
    return local.replacesUrl
  }

  /** Delete a local file and, if it replaced a remote version, that version too. */
  async drop(local: LocalFileRow, reason: TrashReason = 'rm'): Promise<void> {
    const replaced = await this.discard(local)
    if (replaced) await this.deletions.removeFile(replaced, reason)
  }

  // -------------------------------------------------------------------------------------------

  private liveOf(localId: number): LiveLocal {
    let live = this.live.get(localId)
    if (!live) {
      live = { writers: 0, seq: 0 }
      this.live.set(localId, live)
    }
    return live
  }

  /** The last writer closed: journal size and mtime, then queue the upload (or keep it empty). */
  private closed(localId: number): void {
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

  private persist(localId: number, spoolPath: string): void {
    const live = this.liveOf(localId)
    live.writing = false
    this.store.updateLocalFile(localId, { state: 'queued', size: this.spool.size(spoolPath), ...(live.mtime ? { mtime: live.mtime } : {}), readyAt: Date.now() })
  }

  /**
   * A remote file opened for writing gets its first change: from now on it is a local file (the
   * one already replacing it, or a new one), under the same handle number. With `download`
   * (a write, or a truncate to a non-zero size) editing starts from the current content.
   */
  private async becomeLocal(fh: number, handle: RemoteHandle, download: boolean): Promise<LocalHandle> {
    if (handle.orphan) return this.becomeDetached(fh, handle, download)
    const existing = this.store.localReplacing(handle.file.url)
    const local = existing ?? this.create(handle.folderId, handle.name, { replacesUrl: handle.file.url, mode: this.store.attrs(handle.file.url).mode ?? null })
    if (!existing && download) {
      const spoolPath = local.spoolPath as string
      this.spool.acquire(spoolPath)
      try {
        await this.copyInto(handle, spoolPath)
      } catch (error) {
        await this.spool.release(spoolPath)
        this.store.deleteLocalFile(local.id)
        await this.spool.remove(spoolPath)
        throw error
      }
      await this.spool.release(spoolPath)
    }
    const swapped = this.handle(handle.path, this.store.localFileById(local.id) as LocalFileRow, true)
    this.handles.replace(fh, swapped)
    return swapped
  }

  /**
   * An uploaded file unlinked while open gets its first change: its content goes to a spool
   * file that is unlinked at once (open descriptors keep it) and has no journal row, so it is
   * never uploaded and nothing of it survives a crash. Every handle of the orphan shares it; the
   * orphan holds one reference of its own until its last close (orphans.ts).
   */
  private async becomeDetached(fh: number, handle: RemoteHandle, download: boolean): Promise<LocalHandle> {
    const orphan = handle.orphan as Orphan
    if (!orphan.local) {
      const spoolPath = this.spool.create()
      this.spool.acquire(spoolPath)
      await this.spool.remove(spoolPath)
      try {
        if (download) await this.copyInto(handle, spoolPath)
      } catch (error) {
        await this.spool.release(spoolPath)
        throw error
      }
      orphan.local ??= { localId: this.nextDetachedId--, spoolPath, ownReference: true }
      if (orphan.local.spoolPath !== spoolPath) await this.spool.release(spoolPath)
    }
    const { localId, spoolPath } = orphan.local
    this.spool.acquire(spoolPath)
    this.liveOf(localId).writers++
    const swapped: LocalHandle = { kind: 'local', path: handle.path, localId, spoolPath, writable: true, orphan }
    this.handles.replace(fh, swapped)
    return swapped
  }

  private async copyInto(handle: RemoteHandle, spoolPath: string): Promise<void> {
    const stream = this.reader.newStream()
    const chunk = 8 << 20
    for (let offset = 0; offset < handle.file.size; offset += chunk) {
      // A copy: the spool write outlives the read, and the cache reuses a dropped block's buffer.
      await this.spool.write(spoolPath, await this.reader.read(handle.file, stream, offset, chunk), offset)
    }
  }
}
