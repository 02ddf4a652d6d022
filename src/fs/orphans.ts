/**
 * Files unlinked while open (POSIX: the name goes at once, open descriptors keep working until
 * the last close, then the data is dropped). The same holds for a file replaced by a rename
 * while open.
 *
 * - A local file (being written or waiting to upload) loses its journal row and its spool file
 *   at once; its open descriptors keep the spool file's data (Linux keeps an unlinked file's
 *   data while it is open). Nothing is uploaded, and a crash cannot bring it back.
 * - An uploaded file leaves the view at once, but its deletion from 1fichier waits for the last
 *   close, since reads of blocks not cached yet need it there. The journal (unlinked_open)
 *   knows it is gone: a crash meanwhile deletes it at the next mount. Its first change through
 *   an open descriptor goes to an unlinked spool file, never uploaded.
 *
 * libfuse (without hard_remove) does not send unlink for an open file: it renames it to
 * `.fuse_hidden<node><counter>`, keeps sending operations under that name, and unlinks that
 * name after the last release. fichfs takes that rename as the unlink, so the hidden name is
 * never listed and never reaches 1fichier; the name only serves to find the orphan's
 * attributes (fstat goes through a path). hard_remove is not used: with it libfuse forgets the
 * path, and fstat of the open file (which `cat` does first) would fail with ENOENT.
 */
import type { MetadataStore } from '../cache/metadata-store.js'
import type { Logger } from '../log.js'
import type { Deletions } from './deletions.js'
import type { Entry } from './namespace.js'
import type { HandleTable, LocalHandle, RemoteHandle } from './handles.js'
import type { LocalFiles } from './local-files.js'
import type { Spool } from './spool.js'

export interface Orphan {
  folderId: number
  /** libfuse's name for it while it is open (`.fuse_hidden…`), if libfuse hid it. */
  hiddenName?: string
  size: number
  mtime: number
  mode: number | null
  /** The uploaded file it still reads from; deleted from 1fichier at the last close. */
  remoteUrl?: string
  /** Its download password, if fichfs knows one (for a reopen). */
  password?: string
  /** Its content, when it has a local copy: an unlinked spool file kept open. */
  local?: { localId: number; spoolPath: string; ownReference: boolean }
}

/** libfuse's names for hidden open files: `.fuse_hidden%08x%08x`. */
export function isFuseHiddenName(name: string): boolean {
  return /^\.fuse_hidden[0-9a-f]{16}$/.test(name)
}

export class Orphans {
  private readonly byHiddenName = new Map<string, Orphan>()
  /** Hidden names of orphans closed for good: libfuse unlinks that name next. */
  private readonly released = new Set<string>()

  constructor(
    private readonly store: MetadataStore,
    private readonly handles: HandleTable,
    private readonly locals: LocalFiles,
    private readonly deletions: Deletions,
    private readonly spool: Spool,
    private readonly log?: Logger,
  ) {}

  /** At mount: uploaded files unlinked while open when an earlier run stopped are deleted now. */
  async recover(): Promise<void> {
    for (const { url } of this.store.unlinkedOpen()) await this.removeRemote(url)
  }

  /** Handles open on an entry (a local file, or an uploaded one). */
  handlesOf(entry: Entry): Array<RemoteHandle | LocalHandle> {
    if (entry.kind === 'folder') return []
    return [...this.handles.values()].filter((handle): handle is RemoteHandle | LocalHandle => entry.kind === 'local'
      ? handle.kind === 'local' && handle.localId === entry.local.id
      : handle.kind === 'remote' && handle.file.url === entry.file.url)
  }

  /**
   * Unlink a file: at once if nothing has it open, else keeping its open handles working.
   * `hiddenName` is libfuse's name for it from now on, if libfuse hid it.
   */
  async unlink(entry: Exclude<Entry, { kind: 'folder' }>, hiddenName?: string): Promise<void> {
    const open = this.handlesOf(entry)
    if (entry.kind === 'remote') {
      if (open.length === 0) return this.deletions.removeFile(entry.file.url)
      const attrs = this.store.attrs(entry.file.url)
      const orphan: Orphan = {
        folderId: entry.parentId, size: entry.file.size, mtime: attrs.mtime ?? entry.file.uploadedAt ?? Date.now(), mode: attrs.mode ?? null,
        remoteUrl: entry.file.url, password: this.store.fileMeta(entry.file.url).password,
      }
      this.adopt(orphan, open, hiddenName)
      this.store.db.transaction(() => {
        this.store.addUnlinkedOpen(entry.file.url, entry.parentId)
        this.store.deleteFile(entry.file.url)
        this.store.deleteAttrs(entry.file.url)
      })()
      return
    }
    const local = entry.local
    if (open.length > 0) {
      const shown = this.locals.shown(local)
      const orphan: Orphan = { folderId: local.folderId, size: shown.size, mtime: shown.mtime, mode: local.mode }
      if (local.spoolPath) orphan.local = { localId: local.id, spoolPath: local.spoolPath, ownReference: false }
      this.adopt(orphan, open, hiddenName)
    }
    // The row and the spool file go now (open descriptors keep the data); nothing is uploaded.
    const replaced = await this.locals.discard(local)
    if (!replaced) return
    // The version it replaced goes too, unless a handle opened before still reads it.
    const replacedEntry = this.store.fileByUrl(replaced)
    if (replacedEntry) await this.unlink({ kind: 'remote', parentId: replacedEntry.folderId, file: replacedEntry })
    else await this.deletions.removeFile(replaced)
  }

  /** The orphan libfuse knows under this hidden name, if any. */
  hidden(name: string): Orphan | undefined {
    return this.byHiddenName.get(name)
  }

  /** True once for the hidden name of an orphan closed for good (libfuse's own unlink of it). */
  releasedHidden(name: string): boolean {
    return this.released.delete(name)
  }

  /** A handle of an orphan was closed; after the last one, the orphan's data goes. */
  async closed(orphan: Orphan): Promise<void> {
    for (const handle of this.handles.values()) if (handle.kind !== 'trash-info' && handle.orphan === orphan) return
    if (orphan.hiddenName && this.byHiddenName.get(orphan.hiddenName) === orphan) {
      this.byHiddenName.delete(orphan.hiddenName)
      this.released.add(orphan.hiddenName)
      if (this.released.size > 1000) this.released.delete(this.released.values().next().value as string)
    }
    if (orphan.local?.ownReference) await this.spool.release(orphan.local.spoolPath)
    if (orphan.remoteUrl) await this.removeRemote(orphan.remoteUrl)
  }

  /**
   * A folder is about to be removed from 1fichier, which refuses a folder that still holds
   * files: uploaded files unlinked in it while open are deleted now. Their open handles keep
   * what is cached or copied locally; reads of other parts fail from now on.
   */
  async flushFolder(folderId: number): Promise<void> {
    for (const row of this.store.unlinkedOpen()) {
      if (row.folderId !== folderId) continue
      this.log?.info({ url: row.url }, 'a file unlinked while open is deleted now: its folder is being removed')
      await this.removeRemote(row.url)
    }
  }

  // -------------------------------------------------------------------------------------------

  private adopt(orphan: Orphan, open: Array<RemoteHandle | LocalHandle>, hiddenName: string | undefined): void {
    for (const handle of open) handle.orphan = orphan
    if (hiddenName) {
      orphan.hiddenName = hiddenName
      this.byHiddenName.set(hiddenName, orphan)
    }
  }

  /** Delete an uploaded orphan from 1fichier; if that fails, the next mount tries again. */
  private async removeRemote(url: string): Promise<void> {
    if (!this.store.isUnlinkedOpen(url)) return
    try {
      await this.deletions.removeFile(url)
    } catch (error) {
      if ((error as { errno?: string }).errno !== 'ENOENT') {
        this.log?.warn({ url, err: (error as Error).message }, 'could not delete a file unlinked while open; the next mount tries again')
        return
      }
      this.deletions.forgetFile(url)
    }
    this.store.removeUnlinkedOpen(url)
  }
}
