/**
 * `.Trash-<uid>` at the root of the mount: the freedesktop trash that desktops use on a mount
 * that is not the home (GNOME's Delete, `gio trash`, Thunar, KDE), made a view of fichfs's own
 * trash (trash.ts). A desktop Delete is then the same undoable move as `rm`, for the same one
 * call, and nothing of it is made or uploaded on 1fichier but the move itself.
 *
 *   .Trash-<uid>/           always there (found by a lookup; not listed in the root)
 *     files/NAME            each trash entry: the file or folder itself, in the trash folder
 *     info/NAME.trashinfo   its .trashinfo, kept in the trash table on this machine, never uploaded
 *     expunged/N            entries a desktop is deleting for good
 *
 * What GLib's g_file_trash does on such a mount (gio/glocalfile.c): lstat `.Trash` (no) and
 * `.Trash-<uid>` (a folder of the user's: yes), mkdir `info` and `files` (they exist), create
 * `info/NAME.trashinfo` with O_EXCL (picking NAME.2, ... while that fails), write it through a
 * temporary file renamed over it (g_file_set_contents), then rename the file to `files/NAME`.
 * That rename is the one API call. gvfsd-trash (gvfs daemon/trashlib) empties the trash by
 * renaming `files/NAME` to `expunged/N`, unlinking the info file, then deleting everything under
 * `expunged/`: those unlinks delete for good, many per file/rm call (the deleter batches them).
 * A desktop's Restore renames `files/NAME` back to its path: a move out of the trash folder.
 */
import type { MetadataStore, TrashRow } from '../cache/metadata-store.js'
import type { Deletions } from './deletions.js'
import { fsError } from './errors.js'
import type { TrashInfoHandle } from './handles.js'
import type { LocalFiles } from './local-files.js'
import { splitPath, type Entry, type Namespace } from './namespace.js'
import type { Renames } from './renames.js'
import { trashInfoText, type Trash } from './trash.js'
import type { Uploader } from './uploader.js'

/** What the view needs of the filesystem core (fichier-fs.ts). */
export interface TrashViewHost<A> {
  attrOf(entry: Entry): A
  /** Times in ms since the epoch. */
  dirAttr(mode: number, mtime: number): A
  fileAttr(size: number, mode: number, mtime: number): A
  listFolder(folderId: number): Promise<{ names: string[]; attrs: A[] }>
}

export type TrashPath =
  | { kind: 'dir'; dir: 'top' | 'files' | 'info' | 'expunged' }
  | { kind: 'info'; name: string }
  | { kind: 'item'; area: 'files' | 'expunged'; name: string; rest: string[] }
  | { kind: 'other' }

/** An info file a desktop is writing, before its file is renamed into files/. */
interface PendingInfo {
  data: Buffer
  mtime: number
}

const INFO_SUFFIX = '.trashinfo'
/** Info files are a few hundred bytes; this bounds what a runaway writer can put in memory. */
const MAX_INFO_BYTES = 64 * 1024
const MAX_PENDING_INFOS = 10_000

export class TrashView<A> {
  /** `.Trash-<uid>`: the name GLib looks for on a mount that is not the home. */
  readonly dirName: string
  private readonly pending = new Map<string, PendingInfo>()
  private readonly createdAt = Date.now()

  constructor(
    uid: number,
    private readonly trash: Trash,
    private readonly store: MetadataStore,
    private readonly namespace: Namespace,
    private readonly deletions: Deletions,
    private readonly renames: Renames,
    private readonly locals: LocalFiles,
    private readonly uploader: Uploader,
    private readonly host: TrashViewHost<A>,
  ) {
    this.dirName = `.Trash-${uid}`
  }

  /** Where in the view a mount path is, or undefined for a path outside it. */
  match(path: string): TrashPath | undefined {
    const parts = splitPath(path)
    if (parts[0] !== this.dirName) return undefined
    const area = parts[1]
    if (area === undefined) return { kind: 'dir', dir: 'top' }
    if (area !== 'files' && area !== 'info' && area !== 'expunged') return { kind: 'other' }
    const name = parts[2]
    if (name === undefined) return { kind: 'dir', dir: area }
    if (area === 'info') return parts.length === 3 ? { kind: 'info', name } : { kind: 'other' }
    return { kind: 'item', area, name, rest: parts.slice(3) }
  }

  // -------------------------------------------------------------------------------------------
  // Looking

  async getattr(at: TrashPath): Promise<A> {
    switch (at.kind) {
      case 'dir':
        return this.host.dirAttr(0o700, this.createdAt)
      case 'info': {
        const info = this.info(at.name)
        if (!info) throw fsError('ENOENT', `no such info file: ${at.name}`)
        return this.host.fileAttr(info.data.length, 0o600, info.mtime)
      }
      case 'item':
        return this.host.attrOf((await this.item(at)).entry)
      case 'other':
        throw fsError('ENOENT', 'not part of the trash')
    }
  }

  async readdir(at: TrashPath): Promise<{ names: string[]; attrs: A[] }> {
    if (at.kind === 'item') {
      const { entry } = await this.item(at)
      if (entry.kind !== 'folder') throw fsError('ENOTDIR', `${at.name} is a file`)
      return this.host.listFolder(entry.folder.id)
    }
    if (at.kind !== 'dir') throw fsError(at.kind === 'other' ? 'ENOENT' : 'ENOTDIR', 'not a folder of the trash')
    const names: string[] = []
    const attrs: A[] = []
    if (at.dir === 'top') {
      for (const name of ['files', 'info', 'expunged']) {
        names.push(name)
        attrs.push(this.host.dirAttr(0o700, this.createdAt))
      }
    } else if (at.dir === 'info') {
      for (const name of this.infoNames()) {
        const info = this.info(name) as PendingInfo
        names.push(name)
        attrs.push(this.host.fileAttr(info.data.length, 0o600, info.mtime))
      }
    } else {
      for (const row of this.rows(at.dir)) {
        names.push(at.dir === 'files' ? row.viewName : (row.expungeName as string))
        attrs.push(this.host.attrOf(this.trash.entryOf(row)))
      }
    }
    return { names, attrs }
  }

  /** The real file or folder at an item path (a trash entry, or something inside a trashed folder). */
  async item(at: Extract<TrashPath, { kind: 'item' }>): Promise<{ row: TrashRow; entry: Entry }> {
    const row = this.rows(at.area).find((candidate) => (at.area === 'files' ? candidate.viewName : candidate.expungeName) === at.name)
    if (!row) throw fsError('ENOENT', `not in the trash: ${at.name}`)
    const top = this.trash.entryOf(row)
    if (at.rest.length === 0) return { row, entry: top }
    if (top.kind !== 'folder') throw fsError('ENOTDIR', `${at.name} is a file`)
    return { row, entry: await this.namespace.resolveFrom(top.folder, at.rest) }
  }

  private rows(area: 'files' | 'expunged'): TrashRow[] {
    return this.trash.entries().filter((row) => (area === 'files' ? row.state !== 'expunging' : row.state === 'expunging'))
  }

  private info(name: string): PendingInfo | undefined {
    const pending = this.pending.get(name)
    if (pending) return pending
    const row = this.rowOfInfo(name)
    return row ? { data: Buffer.from(row.info ?? trashInfoText(row)), mtime: row.deletedAt } : undefined
  }

  private rowOfInfo(name: string): TrashRow | undefined {
    if (!name.endsWith(INFO_SUFFIX)) return undefined
    const viewName = name.slice(0, -INFO_SUFFIX.length)
    return this.rows('files').find((row) => row.viewName === viewName)
  }

  private infoNames(): string[] {
    const names = new Set(this.rows('files').map((row) => `${row.viewName}${INFO_SUFFIX}`))
    for (const name of this.pending.keys()) names.add(name)
    return [...names]
  }

  // -------------------------------------------------------------------------------------------
  // Info files: in memory while a desktop writes them, then in the trash table

  /** Open: an info file gives a handle; an item gives the entry to open read-only. */
  async open(at: TrashPath, path: string, flags: number): Promise<{ handle: TrashInfoHandle } | { entry: Entry }> {
    const writable = (flags & 3) !== 0
    if (at.kind === 'info') {
      const info = this.info(at.name)
      if (!info) throw fsError('ENOENT', `no such info file: ${at.name}`)
      const truncate = writable && (flags & 0o1000) !== 0
      return { handle: { kind: 'trash-info', path, name: at.name, writable, data: truncate ? Buffer.alloc(0) : Buffer.from(info.data), dirty: truncate } }
    }
    if (at.kind === 'item') {
      if (writable) throw fsError('EPERM', 'what is in the trash cannot be changed; restore it first')
      return { entry: (await this.item(at)).entry }
    }
    throw fsError(at.kind === 'dir' ? 'EISDIR' : 'ENOENT', 'not a file of the trash')
  }

  create(at: TrashPath, path: string): TrashInfoHandle {
    if (at.kind !== 'info') throw fsError('EPERM', 'files go into the trash by a rename (a desktop Delete), not by writing')
    if (this.info(at.name)) throw fsError('EEXIST', `${at.name} exists`)
    if (this.pending.size >= MAX_PENDING_INFOS) throw fsError('ENOSPC', 'too many trash info files waiting for their files')
    this.pending.set(at.name, { data: Buffer.alloc(0), mtime: Date.now() })
    return { kind: 'trash-info', path, name: at.name, writable: true, data: Buffer.alloc(0), dirty: false }
  }

  read(handle: TrashInfoHandle, length: number, position: number): Buffer[] {
    return [handle.data.subarray(position, position + length)]
  }

  write(handle: TrashInfoHandle, data: Buffer, position: number): number {
    if (!handle.writable) throw fsError('EBADF', 'not open for writing')
    const end = position + data.length
    if (end > MAX_INFO_BYTES) throw fsError('EFBIG', 'a trash info file is a few lines')
    if (end > handle.data.length) handle.data = Buffer.concat([handle.data, Buffer.alloc(end - handle.data.length)])
    data.copy(handle.data, position)
    handle.dirty = true
    return data.length
  }

  truncate(handle: TrashInfoHandle, size: number): void {
    if (size > MAX_INFO_BYTES) throw fsError('EFBIG', 'a trash info file is a few lines')
    handle.data = size <= handle.data.length ? handle.data.subarray(0, size) : Buffer.concat([handle.data, Buffer.alloc(size - handle.data.length)])
    handle.dirty = true
  }

  release(handle: TrashInfoHandle): void {
    if (handle.dirty) this.saveInfo(handle.name, handle.data)
  }

  private saveInfo(name: string, data: Buffer): void {
    const row = this.pending.has(name) ? undefined : this.rowOfInfo(name)
    if (row) this.store.updateTrashEntry(row.id, { info: data.toString('utf8') })
    else this.pending.set(name, { data: Buffer.from(data), mtime: Date.now() })
  }

  /** The info a desktop wrote for a file it is about to rename into files/NAME. */
  private takeInfo(viewName: string): string | null {
    const name = `${viewName}${INFO_SUFFIX}`
    const pending = this.pending.get(name)
    this.pending.delete(name)
    return pending && pending.data.length > 0 ? pending.data.toString('utf8') : null
  }

  // -------------------------------------------------------------------------------------------
  // Changes

  async unlink(at: TrashPath): Promise<void> {
    if (at.kind === 'info') {
      if (this.pending.delete(at.name)) return
      const row = this.rowOfInfo(at.name)
      if (!row) throw fsError('ENOENT', `no such info file: ${at.name}`)
      // Its entry is still in files/: the info fichfs writes for it shows again.
      this.store.updateTrashEntry(row.id, { info: null })
      return
    }
    if (at.kind !== 'item') throw fsError(at.kind === 'dir' ? 'EISDIR' : 'ENOENT', 'not a file of the trash')
    const { row, entry } = await this.item(at)
    if (entry.kind === 'folder') throw fsError('EISDIR', `${at.name} is a folder`)
    if (entry.kind === 'local') return this.locals.drop(entry.local)
    if (at.rest.length > 0) return this.deletions.removeFile(entry.file.url)
    // A trash entry deleted from the trash: for good.
    this.store.deleteTrashEntry(row.id)
    this.deletions.removeForGood(entry.file.url)
  }

  async rmdir(at: TrashPath): Promise<void> {
    if (at.kind === 'dir') {
      // The view's own folders stay (they are views): rm -r of the trash deletes what is in them.
      const { names } = await this.readdir(at)
      if (names.length > 0 && at.dir !== 'top') throw fsError('ENOTEMPTY', 'not empty')
      return
    }
    if (at.kind !== 'item') throw fsError(at.kind === 'info' ? 'ENOTDIR' : 'ENOENT', 'not a folder of the trash')
    const { row, entry } = await this.item(at)
    if (entry.kind !== 'folder') throw fsError('ENOTDIR', `${at.name} is a file`)
    const view = await this.namespace.view(entry.folder.id)
    if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${at.name} is not empty`)
    await this.deletions.removeFolder(entry.folder.id)
    if (at.rest.length === 0) this.store.deleteTrashEntry(row.id)
  }

  mkdir(at: TrashPath): void {
    if (at.kind === 'dir') throw fsError('EEXIST', 'exists')
    throw fsError('EPERM', 'folders go into the trash by a rename (a desktop Delete), not by mkdir')
  }

  /** chmod, utimens, chown: accepted without effect (gvfsd-trash makes expunged/ 0700 first). */
  async touchAttrs(at: TrashPath): Promise<void> {
    await this.getattr(at)
  }

  /**
   * rename(2) with either end in the view: into files/NAME puts a file or folder of the mount in
   * the trash; out of it (to a path of the mount) restores; files/ to expunged/ and back, and
   * between names of info/, only change the view.
   */
  async rename(from: string, source: TrashPath | undefined, to: string, target: TrashPath | undefined): Promise<void> {
    if (!source) {
      if (target?.kind === 'item' && target.area === 'files' && target.rest.length === 0) return this.putIn(from, target.name)
      throw fsError('EPERM', 'things go into the trash as files/NAME only')
    }
    if (!target) {
      if (source.kind !== 'item') throw fsError('EPERM', 'only what is in files/ can leave the trash')
      const { row, entry } = await this.item(source)
      await this.renames.move(entry, to)
      if (source.rest.length === 0) this.trash.forgetEntry(row)
      return
    }
    if (source.kind === 'info' && target.kind === 'info') return this.renameInfo(source.name, target.name)
    if (source.kind === 'item' && target.kind === 'item' && source.rest.length === 0 && target.rest.length === 0) {
      const { row } = await this.item(source)
      if (this.rows(target.area).some((other) => (target.area === 'files' ? other.viewName : other.expungeName) === target.name)) {
        throw fsError('EEXIST', `${target.name} is taken in the trash`)
      }
      if (target.area === 'expunged') this.store.updateTrashEntry(row.id, { state: 'expunging', expungeName: target.name })
      else this.store.updateTrashEntry(row.id, { state: row.state === 'expunging' ? 'trashed' : row.state, viewName: target.name })
      return
    }
    throw fsError('EPERM', 'not a move the trash takes')
  }

  /** A desktop Delete: the file or folder at `from` goes to the trash as files/NAME. */
  private async putIn(from: string, viewName: string): Promise<void> {
    if (this.rows('files').some((row) => row.viewName === viewName)) throw fsError('EEXIST', `${viewName} is taken in the trash`)
    let entry = await this.namespace.resolve(from)
    if (entry.kind === 'folder') {
      if (entry.folder.id === 0) throw fsError('EBUSY', 'the root of the mount cannot go to the trash')
      await this.trash.putFolder(entry.folder, 'desktop', { viewName, info: this.takeInfo(viewName) })
      return
    }
    if (entry.kind === 'local') {
      const local = entry.local
      if (local.state === 'empty' || !local.spoolPath) {
        // Nothing of it is on 1fichier (1fichier keeps no empty file): it goes, and the version
        // it replaced (if any) is what the trash keeps.
        const replaced = await this.locals.discard(local)
        const file = replaced ? this.store.fileByUrl(replaced) : undefined
        if (file) await this.trash.putFile(file, 'desktop', { viewName, info: this.takeInfo(viewName) })
        else this.takeInfo(viewName)
        return
      }
      // Not uploaded yet: it goes up first, so that the trash holds it like any other file.
      await this.uploader.flush(local.id)
      entry = await this.namespace.resolve(from)
      if (entry.kind !== 'remote') throw fsError('EIO', `${from} could not be uploaded to go to the trash`)
    }
    await this.trash.putFile(entry.file, 'desktop', { viewName, info: this.takeInfo(viewName) })
  }

  private renameInfo(from: string, to: string): void {
    const info = this.info(from)
    if (!info) throw fsError('ENOENT', `no such info file: ${from}`)
    if (!this.pending.delete(from)) throw fsError('EPERM', 'the info of an entry in files/ keeps its name')
    this.pending.delete(to)
    this.saveInfo(to, info.data)
  }
}
