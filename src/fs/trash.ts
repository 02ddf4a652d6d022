/**
 * The trash. 1fichier has none, so a mistaken `rm -rf` on a mount would be final: instead,
 * what fichfs deletes goes into one folder of the account, `/.fichfs-trash` (made with one
 * folder/mkdir the first time it is needed, never shown in the mount's folders), and the
 * metadata store's trash table remembers, per entry, where it came from, when and why.
 *
 * - A file is moved there with one file/mv (the same call count as its file/rm would be);
 *   replaced versions (an overwrite's old file) are queued and moved 100 per file/mv call.
 *   Files keep their names in the trash folder: 1fichier allows duplicate file names.
 * - A folder is moved there with one folder/mv. Whether 1fichier allows two folders of one name
 *   is unknown (shared/1fichier-api.md §10), so a folder whose name is taken there gets a unique
 *   name (`name (id)`) in the same call.
 * - restore() puts entries back where they were (their original folder if it still exists, else
 *   the folder at their original path, brought back from the trash or made again); empty()
 *   deletes for good, 100 URLs per file/rm call.
 *
 * Everything here works from the metadata store and the client alone, so the CLI (`fichfs
 * trash`, without a mount) and a mount share it; a running mount reads the same store, so it
 * sees a restore made by the CLI at once.
 */
import { fileInputOf, folderKey, type FileInput, type FileRow, type FolderRow, type MetadataStore, type TrashRow } from '../cache/metadata-store.js'
import { ApiErrorCodes, FichierApiError } from '../client/errors.js'
import type { RemoteFolder } from '../client/types.js'
import { FichfsError } from '../errors.js'
import type { Logger } from '../log.js'
import { splitPath, type Entry, type Namespace } from './namespace.js'

export const TRASH_FOLDER_NAME = '.fichfs-trash'

/** Why something went to the trash (shown by `fichfs trash list`). */
export type TrashReason = 'rm' | 'rmdir' | 'replaced by a rename' | 'overwritten' | 'desktop'

export interface TrashRemote {
  mkdir(parentId: number, name: string): Promise<RemoteFolder>
  moveFile(url: string, destinationId: number, rename?: string): Promise<string>
  moveFiles(urls: string[], destinationId: number): Promise<string[]>
  moveFolder(folderId: number, destinationId: number, rename?: string): Promise<void>
  removeFiles(urls: string[]): Promise<number>
  rmdir(folderId: number): Promise<void>
}

export interface TrashOptions {
  /** Entries deleted longer ago than this are deleted for good by a mount; 0: kept until emptied. */
  retentionMs: number
  /** A file is gone for good: forget what else is kept about it (its download link). */
  onFileGone?: (url: string) => void
}

export interface TrashSummary {
  entries: number
  bytes: number
  /** When the oldest entry was deleted (ms), if any. */
  oldest?: number
  retentionMs: number
}

export interface RestoredEntry {
  entry: TrashRow
  /** The account path it is back at. */
  path: string
}

export interface EmptiedCount {
  files: number
  folders: number
  bytes: number
}

/** URLs per file/mv and file/rm call. */
const BATCH = 100
const MAX_FOLDER_NAME = 250

export class Trash {
  private creating?: Promise<number>

  constructor(
    private readonly remote: TrashRemote,
    private readonly store: MetadataStore,
    private readonly namespace: Namespace,
    readonly options: TrashOptions,
    private readonly log?: Logger,
  ) {}

  // -------------------------------------------------------------------------------------------
  // The trash folder

  /** The trash folder's id, if known (from the root's listing, or because we made it). */
  folderId(): number | undefined {
    return this.store.subFolder(0, TRASH_FOLDER_NAME)?.id
  }

  /** Whether a folder is the trash folder or lies inside it. */
  contains(folderId: number): boolean {
    const trashId = this.folderId()
    if (trashId === undefined) return false
    let id: number | null = folderId
    for (let depth = 0; id !== null && depth < 1000; depth++) {
      if (id === trashId) return true
      if (id === 0) return false
      id = this.store.folder(id)?.parentId ?? null
    }
    return false
  }

  /** The trash folder's id, making the folder on first use (one folder/mkdir). */
  async ensureFolder(): Promise<number> {
    const known = this.folderId()
    if (known !== undefined) return known
    this.creating ??= this.createFolder().finally(() => {
      this.creating = undefined
    })
    return this.creating
  }

  private async createFolder(): Promise<number> {
    await this.namespace.ensureListed(0)
    const listed = this.folderId()
    if (listed !== undefined) return listed
    let folder: RemoteFolder
    try {
      folder = await this.remote.mkdir(0, TRASH_FOLDER_NAME)
    } catch (error) {
      // Another fichfs (another machine) may have made it since our listing of the root.
      this.namespace.invalidate(0)
      await this.namespace.ensureListed(0)
      const found = this.folderId()
      if (found !== undefined) return found
      throw error
    }
    this.store.addFolder(0, { id: folder.id, name: TRASH_FOLDER_NAME, createdAt: Date.now() }, Date.now())
    this.namespace.touch(folderKey(folder.id))
    this.log?.info({ folderId: folder.id }, `made the trash folder /${TRASH_FOLDER_NAME}`)
    return folder.id
  }

  /**
   * Run `work` with the trash folder's id. Should 1fichier not know the folder (deleted on the
   * website), the root is listed again; if the folder is gone indeed, its entries are forgotten
   * and `work` runs once more with a new trash folder.
   */
  private async withFolder<T>(work: (trashId: number) => Promise<T>): Promise<T> {
    const trashId = await this.ensureFolder()
    try {
      return await work(trashId)
    } catch (error) {
      if (!isNotFound(error)) throw error
      this.namespace.invalidate(0)
      await this.namespace.ensureListed(0)
      if (this.folderId() === trashId) throw error
      this.log?.warn({ folderId: trashId }, 'the trash folder was deleted on 1fichier; its entries are gone')
      for (const row of this.store.trashEntries()) if (row.state !== 'moving') this.store.deleteTrashEntry(row.id)
      return work(await this.ensureFolder())
    }
  }

  // -------------------------------------------------------------------------------------------
  // Putting things in

  /** Move a remote file into the trash (one file/mv). */
  async putFile(file: FileRow, reason: TrashReason, view: { viewName?: string; info?: string | null } = {}): Promise<TrashRow> {
    let trashId = 0
    const url = await this.withFolder(async (id) => {
      trashId = id
      try {
        return await this.remote.moveFile(file.url, id)
      } catch (error) {
        // Already in the trash folder: another machine's fichfs put it there (#312).
        if (isAlreadyThere(error)) return file.url
        throw error
      }
    })
    const row = this.store.db.transaction(() => {
      this.store.deleteFile(file.url)
      this.store.putFile(trashId, { ...fileInputOf(file), url })
      this.store.moveAttrs(file.url, url)
      return this.store.addTrashEntry({
        ...this.fileEntry(file, reason, view.viewName), url, state: 'trashed', info: view.info ?? null,
      })
    })()
    this.namespace.touch(file.url)
    this.namespace.touch(url)
    this.log?.info({ path: row.path, reason }, 'moved to the trash')
    return row
  }

  /**
   * A replaced version goes to the trash in the next batch (moveQueued): hidden from now on,
   * journaled, and moved 100 per file/mv call. Synchronous, to run inside the caller's
   * transaction.
   */
  queueFile(file: FileRow, reason: TrashReason): void {
    this.store.addTrashEntry({ ...this.fileEntry(file, reason), url: file.url, state: 'moving', info: null })
    this.store.deleteFile(file.url)
    this.namespace.touch(file.url)
  }

  /** Move the queued versions into the trash folder, 100 per call. */
  async moveQueued(): Promise<void> {
    const queued = this.store.trashEntries().filter((row) => row.state === 'moving' && row.url !== null)
    for (let first = 0; first < queued.length; first += BATCH) await this.moveBatch(queued.slice(first, first + BATCH))
  }

  private async moveBatch(batch: TrashRow[]): Promise<void> {
    let trashId = 0
    let urls: string[]
    try {
      urls = await this.withFolder(async (id) => {
        trashId = id
        try {
          return await this.remote.moveFiles(batch.map((row) => row.url as string), id)
        } catch (error) {
          // 1fichier moved none of them because all are in the trash folder already: another
          // machine's fichfs replaced the same versions and put them there first (#312).
          if (isAlreadyThere(error)) return batch.map((row) => row.url as string)
          throw error
        }
      })
    } catch (error) {
      if (!isNotFound(error)) throw error
      // One of them is gone already (deleted elsewhere): the others one by one.
      if (batch.length > 1) {
        for (const row of batch) await this.moveBatch([row])
        return
      }
      this.log?.info({ path: batch[0]?.path }, 'a replaced version was gone from 1fichier already; nothing to keep in the trash')
      this.store.deleteTrashEntry((batch[0] as TrashRow).id)
      return
    }
    this.store.db.transaction(() => {
      batch.forEach((row, index) => {
        const url = urls[index] ?? (row.url as string)
        this.store.putFile(trashId, { ...row.fileFields, name: row.name, size: row.size, url })
        this.store.moveAttrs(row.url as string, url)
        this.store.updateTrashEntry(row.id, { url, state: 'trashed' })
      })
    })()
    for (const url of urls) this.namespace.touch(url)
  }

  /** Move a folder and what it holds into the trash (one folder/mv). */
  async putFolder(folder: FolderRow, reason: TrashReason, view: { viewName?: string; info?: string | null } = {}): Promise<TrashRow> {
    const path = this.store.pathOf(folder.id)
    const size = this.cachedSize(folder.id)
    let trashId = 0
    let remoteName = folder.name
    await this.withFolder(async (id) => {
      trashId = id
      remoteName = this.store.subFolder(id, folder.name) ? uniqueFolderName(folder) : folder.name
      try {
        await this.remote.moveFolder(folder.id, id, remoteName !== folder.name ? remoteName : undefined)
      } catch (error) {
        // A folder of that name we did not know of (another machine's fichfs put it there).
        if (remoteName !== folder.name || !isRefusal(error)) throw error
        remoteName = uniqueFolderName(folder)
        await this.remote.moveFolder(folder.id, id, remoteName)
      }
    })
    const row = this.store.db.transaction(() => {
      this.store.moveFolder(folder.id, trashId, remoteName)
      return this.store.addTrashEntry({
        kind: 'folder', url: null, folderId: folder.id, name: folder.name, parentId: folder.parentId ?? 0, path, size,
        deletedAt: Date.now(), reason, state: 'trashed', viewName: view.viewName ?? this.uniqueViewName(folder.name),
        remoteName, info: view.info ?? null, expungeName: null, fileFields: null,
      })
    })()
    this.namespace.touch(folderKey(folder.id))
    this.log?.info({ path, reason }, 'moved to the trash')
    return row
  }

  private fileEntry(file: FileRow, reason: TrashReason, viewName?: string): Omit<TrashRow, 'id' | 'url' | 'state' | 'info'> {
    const { url: _url, ...fileFields } = fileInputOf(file)
    return {
      kind: 'file', folderId: null, name: file.name, parentId: file.folderId, path: this.store.pathOf(file.folderId, file.displayName),
      size: file.size, deletedAt: Date.now(), reason, viewName: viewName ?? this.uniqueViewName(file.displayName),
      remoteName: null, expungeName: null, fileFields,
    }
  }

  /** Bytes of the files the cache knows under a folder. */
  private cachedSize(folderId: number): number {
    let bytes = this.store.files(folderId).reduce((sum, file) => sum + file.size, 0)
    for (const sub of this.store.subFolders(folderId)) bytes += this.cachedSize(sub.id)
    return bytes
  }

  // -------------------------------------------------------------------------------------------
  // What is in it

  entries(): TrashRow[] {
    return this.store.trashEntries()
  }

  /** A name for .Trash-<uid>/files that no entry has (as GLib makes them: `a.2.txt`). */
  uniqueViewName(name: string): string {
    const taken = new Set(this.store.trashEntries().filter((row) => row.state !== 'expunging').map((row) => row.viewName))
    if (!taken.has(name)) return name
    const dot = name.indexOf('.')
    for (let n = 2; ; n++) {
      const candidate = dot > 0 ? `${name.slice(0, dot)}.${n}${name.slice(dot)}` : `${name}.${n}`
      if (!taken.has(candidate)) return candidate
    }
  }

  /** The file or folder an entry stands for, as the mount shows it. */
  entryOf(row: TrashRow): Entry {
    if (row.kind === 'folder') {
      const id = row.folderId as number
      let folder = this.store.folder(id)
      if (!folder) {
        // The cache was dropped (a new format): what we know of it comes from the entry.
        this.store.addFolder(this.folderId() ?? 0, { id, name: row.remoteName ?? row.name }, null)
        folder = this.store.folder(id) as FolderRow
      }
      return { kind: 'folder', folder }
    }
    const url = row.url as string
    const file = this.store.fileByUrl(url) ?? {
      url, folderId: row.state === 'moving' ? row.parentId : (this.folderId() ?? 0), name: row.name, displayName: row.name, size: row.size,
      uploadedAt: row.fileFields?.uploadedAt ?? null, checksum: row.fileFields?.checksum ?? null,
      contentType: row.fileFields?.contentType ?? null, passwordProtected: row.fileFields?.passwordProtected ?? false,
    }
    return { kind: 'remote', parentId: file.folderId, file }
  }

  summary(): TrashSummary {
    const rows = this.store.trashEntries()
    return {
      entries: rows.length,
      bytes: rows.reduce((sum, row) => sum + row.size, 0),
      oldest: rows.length > 0 ? Math.min(...rows.map((row) => row.deletedAt)) : undefined,
      retentionMs: this.options.retentionMs,
    }
  }

  /**
   * The entries a restore of `path` brings back: the entry deleted at that path and every entry
   * deleted under it (each path in its most recent deleted version); or, for a path inside a
   * folder that went to the trash whole, that folder.
   */
  select(path: string): TrashRow[] {
    const rows = this.store.trashEntries().filter((row) => row.state === 'trashed')
    const prefix = path === '/' ? '/' : `${path}/`
    const under = rows.filter((row) => row.path === path || row.path.startsWith(prefix))
    if (under.length === 0) {
      const holders = rows.filter((row) => row.kind === 'folder' && path.startsWith(`${row.path}/`))
      holders.sort((a, b) => b.path.length - a.path.length || b.deletedAt - a.deletedAt || b.id - a.id)
      return holders.slice(0, 1)
    }
    const latest = new Map<string, TrashRow>()
    for (const row of under) {
      const seen = latest.get(row.path)
      if (!seen || row.deletedAt > seen.deletedAt || (row.deletedAt === seen.deletedAt && row.id > seen.id)) latest.set(row.path, row)
    }
    return [...latest.values()]
  }

  // -------------------------------------------------------------------------------------------
  // Taking things out

  /**
   * Put entries back where they came from: into their original folder if it still exists (not
   * in the trash), else into the folder at their original path, which is brought back from the
   * trash or made again. A name taken there now is refused, before anything moves, unless
   * `rename` (then the entry comes back as `name (restored).ext`). Folders move one per
   * folder/mv, files 100 per file/mv into the same folder.
   */
  async restore(rows: TrashRow[], options: { rename: boolean }): Promise<RestoredEntry[]> {
    const order = [...rows].sort((a, b) => splitPath(a.path).length - splitPath(b.path).length || (a.kind === 'folder' ? 0 : 1) - (b.kind === 'folder' ? 0 : 1))
    if (!options.rename) await this.refuseClashes(order)
    const restored: RestoredEntry[] = []
    const files = new Map<number, TrashRow[]>()
    for (const row of order) {
      const current = this.store.trashEntry(row.id)
      // Brought back already, as the parent of an earlier one.
      if (!current || current.state !== 'trashed') {
        if (!current && row.kind === 'folder') restored.push({ entry: row, path: this.store.pathOf(row.folderId as number) })
        continue
      }
      const parentId = await this.restoredParent(current)
      await this.namespace.ensureListed(parentId)
      let name = current.name
      if (this.namespace.entryIn(parentId, name) || this.queuedIn(files.get(parentId), name)) {
        // (Taken since the check above: what came back so far stays back.)
        if (!options.rename) throw clashError([this.store.pathOf(parentId, name)], false)
        name = this.freeName(parentId, current.name, current.kind, files.get(parentId))
      }
      if (current.kind === 'folder') {
        await this.moveFolderBack(current, parentId, name)
        restored.push({ entry: current, path: this.store.pathOf(parentId, name) })
      } else if (name !== current.name) {
        restored.push(...(await this.moveFilesBack([current], parentId, name)))
      } else {
        files.set(parentId, [...(files.get(parentId) ?? []), current])
      }
    }
    for (const [parentId, group] of files) {
      for (let first = 0; first < group.length; first += BATCH) restored.push(...(await this.moveFilesBack(group.slice(first, first + BATCH), parentId)))
    }
    return restored
  }

  /** Names taken where entries would come back (their folders exist): refused, nothing moved. */
  private async refuseClashes(rows: TrashRow[]): Promise<void> {
    const clashes: string[] = []
    for (const row of rows) {
      const parent = this.store.folder(row.parentId)
      if (!parent || this.contains(parent.id)) continue
      await this.namespace.ensureListed(parent.id)
      if (this.namespace.entryIn(parent.id, row.name)) clashes.push(this.store.pathOf(parent.id, row.name))
    }
    if (clashes.length > 0) throw clashError(clashes, true)
  }

  private queuedIn(queued: TrashRow[] | undefined, name: string): boolean {
    return (queued ?? []).some((row) => row.name === name)
  }

  /** The folder an entry goes back into, made ready (restored or made again) if needed. */
  private async restoredParent(row: TrashRow): Promise<number> {
    const original = this.store.folder(row.parentId)
    if (original && !this.contains(original.id)) return original.id
    return this.folderAt(splitPath(row.path).slice(0, -1))
  }

  /** The folder at a path, each missing level brought back from the trash or made again. */
  private async folderAt(parts: string[]): Promise<number> {
    let folderId = 0
    for (const [index, name] of parts.entries()) {
      await this.namespace.ensureListed(folderId)
      const existing = this.namespace.entryIn(folderId, name)
      if (existing?.kind === 'folder') {
        folderId = existing.folder.id
        continue
      }
      const path = `/${parts.slice(0, index + 1).join('/')}`
      if (existing) throw new FichfsError('FICHFS_TRASH_BLOCKED', `cannot restore into ${path}: it is a file now`, { hint: 'Move that file away, or restore with --rename.' })
      const trashed = this.select(path).find((row) => row.path === path && row.kind === 'folder')
      if (trashed) {
        await this.moveFolderBack(trashed, folderId, name)
        folderId = trashed.folderId as number
        continue
      }
      const made = await this.remote.mkdir(folderId, name)
      this.store.addFolder(folderId, { id: made.id, name, createdAt: Date.now() }, Date.now())
      this.namespace.touch(folderKey(made.id))
      folderId = made.id
    }
    return folderId
  }

  private async moveFolderBack(row: TrashRow, parentId: number, name: string): Promise<void> {
    const id = row.folderId as number
    const current = this.store.folder(id)?.name ?? row.remoteName ?? row.name
    await this.remote.moveFolder(id, parentId, name !== current ? name : undefined)
    this.store.db.transaction(() => {
      if (this.store.folder(id)) this.store.moveFolder(id, parentId, name)
      else this.store.addFolder(parentId, { id, name }, null)
      this.store.deleteTrashEntry(row.id)
    })()
    this.namespace.touch(folderKey(id))
  }

  private async moveFilesBack(rows: TrashRow[], parentId: number, rename?: string): Promise<RestoredEntry[]> {
    let urls: string[]
    try {
      urls = rename !== undefined
        ? [await this.remote.moveFile(rows[0]?.url as string, parentId, rename)]
        : await this.remote.moveFiles(rows.map((row) => row.url as string), parentId)
    } catch (error) {
      if (!isNotFound(error)) throw error
      if (rows.length > 1) {
        const restored: RestoredEntry[] = []
        for (const row of rows) restored.push(...(await this.moveFilesBack([row], parentId)))
        return restored
      }
      this.log?.warn({ path: rows[0]?.path }, 'gone from the trash folder on 1fichier: cannot restore it')
      this.forgetEntry(rows[0] as TrashRow)
      return []
    }
    const restored: RestoredEntry[] = []
    this.store.db.transaction(() => {
      rows.forEach((row, index) => {
        const oldUrl = row.url as string
        const url = urls[index] ?? oldUrl
        const cached = this.store.fileByUrl(oldUrl)
        const fields: FileInput = { ...(cached ? fileInputOf(cached) : row.fileFields), name: rename ?? row.name, size: row.size, url }
        this.store.deleteFile(oldUrl)
        this.store.putFile(parentId, fields)
        this.store.moveAttrs(oldUrl, url)
        this.store.deleteTrashEntry(row.id)
        restored.push({ entry: row, path: this.store.pathOf(parentId, fields.name) })
      })
    })()
    for (const row of rows) this.namespace.touch(row.url as string)
    for (const url of urls) this.namespace.touch(url)
    return restored
  }

  /** A name not taken in the folder: `name (restored).ext`, `name (restored 2).ext`, ... */
  private freeName(parentId: number, name: string, kind: 'file' | 'folder', queued?: TrashRow[]): string {
    const dot = name.lastIndexOf('.')
    const split = kind === 'file' && dot > 0
    const stem = split ? name.slice(0, dot) : name
    const ext = split ? name.slice(dot) : ''
    for (let n = 1; ; n++) {
      const candidate = `${stem} (restored${n > 1 ? ` ${n}` : ''})${ext}`
      if (!this.namespace.entryIn(parentId, candidate) && !this.queuedIn(queued, candidate)) return candidate
    }
  }

  /** Drop an entry whose file or folder left the trash another way (renamed out of the view). */
  forgetEntry(row: TrashRow): void {
    this.store.deleteTrashEntry(row.id)
  }

  // -------------------------------------------------------------------------------------------
  // Deleting for good

  /**
   * Delete entries for good (default: every entry; `olderThanMs`: those deleted longer ago).
   * Files go 100 per file/rm call; a folder is emptied first (it is listed unless the cache
   * knows it empty, as after an rmdir), then removed.
   */
  async empty(options: { olderThanMs?: number; rows?: TrashRow[] } = {}): Promise<EmptiedCount> {
    const cutoff = options.olderThanMs === undefined ? Infinity : Date.now() - options.olderThanMs
    const rows = (options.rows ?? this.store.trashEntries()).filter((row) => row.state !== 'moving' && row.deletedAt <= cutoff)
    const count: EmptiedCount = { files: 0, folders: 0, bytes: 0 }
    const files = rows.filter((row) => row.kind === 'file')
    for (let first = 0; first < files.length; first += BATCH) {
      const batch = files.slice(first, first + BATCH)
      await this.removeFiles(batch.map((row) => row.url as string))
      this.store.db.transaction(() => {
        for (const row of batch) {
          this.forgetFile(row.url as string)
          this.store.deleteTrashEntry(row.id)
        }
      })()
      count.files += batch.length
      count.bytes += batch.reduce((sum, row) => sum + row.size, 0)
    }
    for (const row of rows.filter((entry) => entry.kind === 'folder')) {
      const folderId = row.folderId as number
      if (!this.store.folder(folderId)) this.store.addFolder(this.folderId() ?? 0, { id: folderId, name: row.remoteName ?? row.name }, null)
      await this.purgeFolder(folderId)
      this.store.deleteTrashEntry(row.id)
      count.folders++
      count.bytes += row.size
    }
    if (rows.length > 0) this.log?.info({ ...count }, 'deleted from the trash for good')
    return count
  }

  /** What a mount does now and then: delete for good what is older than the retention time. */
  async purgeExpired(): Promise<EmptiedCount | undefined> {
    if (this.options.retentionMs <= 0) return undefined
    return this.empty({ olderThanMs: this.options.retentionMs })
  }

  /** Delete a folder and everything in it for good (folders inside the trash only). */
  async purgeFolder(folderId: number): Promise<void> {
    const folder = this.store.folder(folderId)
    const knownEmpty = folder?.listedAt !== null && folder?.listedAt !== undefined &&
      this.store.subFolders(folderId).length === 0 && this.store.files(folderId).length === 0 && this.store.localFiles(folderId).length === 0
    if (knownEmpty && (await this.tryRmdir(folderId))) return
    // Not known empty (or it was not after all): list it, empty it, then remove it.
    this.namespace.invalidate(folderId)
    try {
      await this.namespace.ensureListed(folderId)
    } catch (error) {
      // Gone already (emptied by another fichfs, or on the website).
      if (!isNotFound(error)) throw error
      this.forgetFolder(folderId)
      return
    }
    for (const sub of this.store.subFolders(folderId)) await this.purgeFolder(sub.id)
    const urls = this.store.files(folderId).map((file) => file.url)
    for (let first = 0; first < urls.length; first += BATCH) {
      const batch = urls.slice(first, first + BATCH)
      await this.removeFiles(batch)
      for (const url of batch) this.forgetFile(url)
    }
    await this.remote.rmdir(folderId).catch((error: unknown) => {
      if (!isNotFound(error)) throw error
    })
    this.forgetFolder(folderId)
  }

  /** folder/rm of a folder believed empty: true if it is gone, false if 1fichier refused. */
  private async tryRmdir(folderId: number): Promise<boolean> {
    try {
      await this.remote.rmdir(folderId)
    } catch (error) {
      if (isRefusal(error)) return false
      if (!isNotFound(error)) throw error
    }
    this.forgetFolder(folderId)
    return true
  }

  private async removeFiles(urls: string[]): Promise<void> {
    if (urls.length === 0) return
    try {
      await this.remote.removeFiles(urls)
    } catch (error) {
      // 1fichier answers "not found" only when none of them exists any more.
      if (!isNotFound(error)) throw error
    }
  }

  private forgetFile(url: string): void {
    this.store.deleteFile(url)
    this.store.deleteAttrs(url)
    this.options.onFileGone?.(url)
    this.namespace.touch(url)
  }

  private forgetFolder(folderId: number): void {
    this.store.forgetFolderTree(folderId)
    this.store.deleteAttrs(folderKey(folderId))
    this.namespace.touch(folderKey(folderId))
  }
}

/** `[Trash Info]` as the freedesktop trash spec has it, for an entry no desktop wrote one for. */
export function trashInfoText(row: TrashRow): string {
  return `[Trash Info]\nPath=${escapeTrashPath(row.path.replace(/^\/+/, ''))}\nDeletionDate=${localIsoDate(new Date(row.deletedAt))}\n`
}

/** As GLib's g_uri_escape_string(path, "/", FALSE): every byte but A-Z a-z 0-9 - . _ ~ and /. */
export function escapeTrashPath(path: string): string {
  let out = ''
  for (const byte of Buffer.from(path, 'utf8')) {
    const char = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-._~/]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** YYYY-MM-DDThh:mm:ss in local time, as the spec's DeletionDate. */
export function localIsoDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

/** `name (id)`: folder ids are unique in the account, so no other folder has this name. */
function uniqueFolderName(folder: FolderRow): string {
  const suffix = ` (${folder.id})`
  return `${folder.name.slice(0, MAX_FOLDER_NAME - suffix.length)}${suffix}`
}

function clashError(paths: string[], nothingMoved: boolean): FichfsError {
  const what = nothingMoved ? 'nothing was restored' : 'it stays in the trash'
  return new FichfsError('FICHFS_TRASH_CLASH', `${paths.join(', ')} ${paths.length > 1 ? 'exist' : 'exists'} again; ${what}`, {
    errno: 'EEXIST', hint: 'Add --rename to restore beside them as "name (restored)", or move the new ones away first.',
  })
}

/** #312: the move would change nothing (the files are where they were asked to go). */
function isAlreadyThere(error: unknown): boolean {
  return error instanceof FichierApiError && error.code === ApiErrorCodes.nothingRenamed
}

function isNotFound(error: unknown): boolean {
  return error instanceof FichierApiError && error.code === ApiErrorCodes.notFound
}

/** A KO answer with no more specific meaning: what 1fichier says for a name taken or a folder not empty. */
function isRefusal(error: unknown): boolean {
  return error instanceof FichierApiError && error.code === ApiErrorCodes.ko
}
