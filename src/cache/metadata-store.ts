/**
 * The metadata cache: what fichfs knows about the account, in SQLite (better-sqlite3, WAL).
 *
 * It answers getattr, readdir and lookups without API calls, survives a remount, and is the
 * journal of local work that 1fichier does not have yet (files waiting to upload, zero-byte
 * files, user-set mtimes, deletions to finish). One database per account under the cache dir.
 *
 * Tables:
 *   folders      one row per known folder; `listed_at` says when its contents were last listed
 *   files        remote files, with `display_name` unique within a folder (duplicates decorated)
 *   local_files  files that exist only here: being written, waiting to upload, failed, or empty
 *   attrs        mtimes and permission bits set by programs (1fichier stores neither), keyed by
 *                file URL or `folder:<id>`
 *   gates        unused since the pacer's gates moved to one file per user (cache/gate-db.ts);
 *                dropped with the next format change
 *   kv           small facts (account info with the time it was fetched, schema version)
 *   pending_rm   remote files to delete once it is safe (an overwrite's old version)
 *   local_hashes Whirlpool of local files by path, size and mtime (`fichfs verify`; hash-cache.ts)
 *   download_links  download links still worth reusing after a remount (link-cache.ts)
 *   trash        what fichfs moved into the account's trash folder instead of deleting it: where
 *                it came from, when, why (src/fs/trash.ts); a journal table, never dropped
 *   changes      file URLs and folder keys changed lately by any fichfs process of the account,
 *                so that a listing requested before a change does not undo it in the cache
 *   unlinked_open  remote files unlinked while a program still had them open: deleted from
 *                1fichier at their last close, or at the next mount after a crash
 *   listing_caps folders whose last listing hit 1fichier's 5,000-result cap (it is partial)
 *   write_failures  local files a write failed on (a full cache disk): incomplete, so never
 *                uploaded until rewritten from the start (truncated to zero) or deleted
 *
 * The schema version is in `user_version`: a format change drops and refills the cache (the
 * journal tables are kept through a migration instead; see migrate()).
 */
import Database from 'better-sqlite3'
import { fileIdFromUrl } from '../client/ids.js'

export const SCHEMA_VERSION = 1

export interface FolderRow {
  id: number
  parentId: number | null
  name: string
  createdAt: number | null
  /** When its contents (sub-folders and files) were last listed; null if never. */
  listedAt: number | null
}

export interface FileRow {
  url: string
  folderId: number
  name: string
  displayName: string
  size: number
  uploadedAt: number | null
  checksum: string | null
  contentType: string | null
  passwordProtected: boolean
}

export type LocalState = 'writing' | 'queued' | 'uploading' | 'failed' | 'empty'

export interface LocalFileRow {
  id: number
  folderId: number
  name: string
  /** The spool file holding the content; null for an empty file. */
  spoolPath: string | null
  size: number
  mtime: number
  mode: number | null
  state: LocalState
  /** The remote file this one replaces once uploaded (an overwrite), hidden meanwhile. */
  replacesUrl: string | null
  attempts: number
  lastError: string | null
  /** When it last became ready to upload (closed); the write-back delay counts from here. */
  readyAt: number | null
  createdAt: number
}

export type TrashKind = 'file' | 'folder'

/**
 * moving: still in its folder on 1fichier (hidden), to be moved into the trash folder in a batch;
 * trashed: in the trash folder; expunging: being deleted for good (a desktop's "empty trash"
 * renamed it into .Trash-<uid>/expunged first).
 */
export type TrashState = 'moving' | 'trashed' | 'expunging'

export interface TrashRow {
  id: number
  kind: TrashKind
  /** A file's URL (in the trash folder once moved). */
  url: string | null
  /** A folder's 1fichier id. */
  folderId: number | null
  /** Its name where it was (a file's name on 1fichier, not a decorated duplicate name). */
  name: string
  /** The folder it was in. */
  parentId: number
  /** Its account path when it was deleted. */
  path: string
  size: number
  deletedAt: number
  reason: string
  state: TrashState
  /** Its name in .Trash-<uid>/files, unique among the trash's entries. */
  viewName: string
  /** A folder's name inside the trash folder (its own name, or a unique one on a clash). */
  remoteName: string | null
  /** The .trashinfo a desktop wrote for it; null: fichfs writes one from the fields above. */
  info: string | null
  /** Its name in .Trash-<uid>/expunged while expunging. */
  expungeName: string | null
  /** A file's cached details (checksum, upload date, ...), to put it back in the cache as it was. */
  fileFields: Omit<FileInput, 'url'> | null
}

export interface StoredAttrs {
  mtime?: number
  /** Permission bits only (07777). */
  mode?: number
}

/** The attrs key of a folder. */
export function folderKey(id: number): string {
  return `folder:${id}`
}

export interface FolderInput {
  id: number
  name: string
  createdAt?: number
}

export interface FileInput {
  url: string
  name: string
  size: number
  uploadedAt?: number
  checksum?: string
  contentType?: string
  passwordProtected?: boolean
}

/** Longest name a lookup takes (NAME_MAX, in UTF-8 bytes), as on ext4. */
export const NAME_MAX_BYTES = 255

/**
 * How a duplicate gets its distinct, stable name: `name (id).ext`. The stem is shortened if
 * need be so that the result stays within NAME_MAX_BYTES: a name the kernel can look up.
 */
export function decorateDuplicate(name: string, id: string): string {
  const dot = name.lastIndexOf('.')
  const hasExtension = dot > 0 && dot < name.length - 1 && name.length - dot <= 10
  const stem = hasExtension ? name.slice(0, dot) : name
  const tail = ` (${id})${hasExtension ? name.slice(dot) : ''}`
  return `${cutToBytes(stem, NAME_MAX_BYTES - Buffer.byteLength(tail))}${tail}`
}

function cutToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text
  let out = ''
  for (const char of text) {
    if (Buffer.byteLength(out + char) > maxBytes) break
    out += char
  }
  return out
}

/**
 * A stored time: milliseconds, kept to the microsecond (what a double holds exactly for a
 * present-day date). Rounding, so that storing a stored time again changes nothing.
 */
export function toStoredTime(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/**
 * Display names for one folder's files: the oldest file of a name keeps it, later duplicates
 * get their id inserted. The rule is stable while the set of duplicates does not change.
 */
export function assignDisplayNames<T extends { url: string; name: string; uploadedAt?: number | null }>(files: T[]): Map<string, string> {
  const byName = new Map<string, T[]>()
  for (const file of files) {
    const group = byName.get(file.name)
    if (group) group.push(file)
    else byName.set(file.name, [file])
  }
  const names = new Map<string, string>()
  for (const [name, group] of byName) {
    group.sort((a, b) => (a.uploadedAt ?? 0) - (b.uploadedAt ?? 0) || fileIdFromUrl(a.url).localeCompare(fileIdFromUrl(b.url)))
    group.forEach((file, index) => names.set(file.url, index === 0 ? name : decorateDuplicate(name, fileIdFromUrl(file.url))))
  }
  return names
}

export class MetadataStore {
  readonly db: Database.Database
  private readonly statements

  /** Writes through this connection (every statement that is not a reader, and every exec). */
  private localWrites = 0
  /** Commits by other connections (other fichfs processes), seen through `PRAGMA data_version`. */
  private externalWrites = 0
  private lastDataVersion = -1
  private lastExternalCheck = 0
  private readonly dataVersion: Database.Statement

  constructor(path: string) {
    this.db = new Database(path)
    this.countWrites()
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    // Another fichfs process (a CLI command beside the mount) may hold the write lock briefly.
    this.db.pragma('busy_timeout = 5000')
    this.migrate()
    this.statements = this.prepare()
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck()
    this.ensureRoot()
  }

  /**
   * Every statement prepared on this connection that writes bumps `localWrites` when it runs
   * (also those prepared outside this class, on `store.db`), and so does every exec: a write
   * cannot be forgotten by a method added later.
   */
  private countWrites(): void {
    const db = this.db
    const prepare = db.prepare.bind(db)
    const exec = db.exec.bind(db)
    db.prepare = ((source: string) => {
      const statement = prepare(source)
      if (!statement.reader) {
        const run = statement.run
        statement.run = (...args: unknown[]) => {
          this.localWrites++
          return run.apply(statement, args)
        }
      }
      return statement
    }) as typeof db.prepare
    db.exec = (source: string) => {
      this.localWrites++
      return exec(source)
    }
  }

  /**
   * A number that changes whenever anything in the store may have changed: a write through this
   * connection, or a commit by another process (`PRAGMA data_version`, within 1 ms). Caches of
   * what is derived from the store (FichierFs's attributes) are valid while it stays the same.
   */
  changeStamp(): number {
    // Other processes' commits are looked for once per millisecond at most (the pragma costs
    // ~1.5 µs on a WAL database, most of a cached getattr): a commit shows within 1 ms.
    const now = Date.now()
    if (now !== this.lastExternalCheck) {
      this.lastExternalCheck = now
      const version = this.dataVersion.get() as number
      if (version !== this.lastDataVersion) {
        this.lastDataVersion = version
        this.externalWrites++
      }
    }
    return this.localWrites + this.externalWrites
  }

  close(): void {
    this.db.close()
  }

  private migrate(): void {
    // The journal and what programs set are kept whatever happens to the cache format.
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS local_files (
        id INTEGER PRIMARY KEY AUTOINCREMENT, folder_id INTEGER NOT NULL, name TEXT NOT NULL,
        spool_path TEXT, size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER, state TEXT NOT NULL,
        replaces_url TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        ready_at INTEGER, created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS local_files_folder ON local_files(folder_id, name);
      CREATE TABLE IF NOT EXISTS attrs (key TEXT PRIMARY KEY, mtime INTEGER, mode INTEGER);
      CREATE TABLE IF NOT EXISTS file_meta (url TEXT PRIMARY KEY, description TEXT, password TEXT);
      CREATE TABLE IF NOT EXISTS pending_rm (url TEXT PRIMARY KEY, reason TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS local_hashes (
        path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL, whirlpool TEXT NOT NULL, hashed_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS download_links (url TEXT PRIMARY KEY, link TEXT NOT NULL, obtained_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS trash (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, url TEXT, folder_id INTEGER,
        name TEXT NOT NULL, parent_id INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
        deleted_at INTEGER NOT NULL, reason TEXT NOT NULL, state TEXT NOT NULL, view_name TEXT NOT NULL,
        remote_name TEXT, info TEXT, expunge_name TEXT, file_fields TEXT
      );
      CREATE INDEX IF NOT EXISTS trash_path ON trash(path);
      CREATE INDEX IF NOT EXISTS trash_url ON trash(url);
      CREATE TABLE IF NOT EXISTS changes (key TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS unlinked_open (url TEXT PRIMARY KEY, folder_id INTEGER NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS listing_caps (folder_id INTEGER PRIMARY KEY, listed INTEGER NOT NULL, counted INTEGER, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS write_failures (local_id INTEGER PRIMARY KEY, error TEXT NOT NULL, failed_at INTEGER NOT NULL);
    `)
    const version = this.db.pragma('user_version', { simple: true }) as number
    if (version === SCHEMA_VERSION) return
    // The cache part is disposable: a new format starts empty (and re-lists as needed).
    this.db.exec(`
      DROP TABLE IF EXISTS folders; DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS gates;
      CREATE TABLE folders (
        id INTEGER PRIMARY KEY, parent_id INTEGER, name TEXT NOT NULL,
        created_at INTEGER, listed_at INTEGER
      );
      CREATE INDEX folders_parent ON folders(parent_id, name);
      CREATE TABLE files (
        url TEXT PRIMARY KEY, folder_id INTEGER NOT NULL, name TEXT NOT NULL, display_name TEXT NOT NULL,
        size INTEGER NOT NULL, uploaded_at INTEGER, checksum TEXT, content_type TEXT, pass INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX files_folder ON files(folder_id, display_name);
      CREATE TABLE gates (key TEXT PRIMARY KEY, next INTEGER NOT NULL DEFAULT 0, hold INTEGER NOT NULL DEFAULT 0);
    `)
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }

  private prepare() {
    const db = this.db
    return {
      folder: db.prepare('SELECT id, parent_id AS parentId, name, created_at AS createdAt, listed_at AS listedAt FROM folders WHERE id = ?'),
      subFolders: db.prepare('SELECT id, parent_id AS parentId, name, created_at AS createdAt, listed_at AS listedAt FROM folders WHERE parent_id = ? ORDER BY name'),
      subFolderByName: db.prepare('SELECT id, parent_id AS parentId, name, created_at AS createdAt, listed_at AS listedAt FROM folders WHERE parent_id = ? AND name = ?'),
      upsertFolder: db.prepare(`INSERT INTO folders (id, parent_id, name, created_at, listed_at) VALUES (@id, @parentId, @name, @createdAt, @listedAt)
        ON CONFLICT(id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
          created_at = COALESCE(excluded.created_at, folders.created_at), listed_at = COALESCE(excluded.listed_at, folders.listed_at)`),
      setListed: db.prepare('UPDATE folders SET listed_at = ? WHERE id = ?'),
      deleteFolder: db.prepare('DELETE FROM folders WHERE id = ?'),
      moveFolder: db.prepare('UPDATE folders SET parent_id = ?, name = ? WHERE id = ?'),
      files: db.prepare('SELECT * FROM files WHERE folder_id = ? ORDER BY display_name'),
      fileByDisplayName: db.prepare('SELECT * FROM files WHERE folder_id = ? AND display_name = ?'),
      fileByUrl: db.prepare('SELECT * FROM files WHERE url = ?'),
      filesByName: db.prepare('SELECT * FROM files WHERE folder_id = ? AND name = ?'),
      setDisplayName: db.prepare('UPDATE files SET display_name = ? WHERE url = ?'),
      deleteFilesOfFolder: db.prepare('DELETE FROM files WHERE folder_id = ?'),
      insertFile: db.prepare(`INSERT OR REPLACE INTO files (url, folder_id, name, display_name, size, uploaded_at, checksum, content_type, pass)
        VALUES (@url, @folderId, @name, @displayName, @size, @uploadedAt, @checksum, @contentType, @pass)`),
      deleteFile: db.prepare('DELETE FROM files WHERE url = ?'),
      localFiles: db.prepare('SELECT * FROM local_files WHERE folder_id = ? ORDER BY name'),
      localByName: db.prepare('SELECT * FROM local_files WHERE folder_id = ? AND name = ?'),
      localById: db.prepare('SELECT * FROM local_files WHERE id = ?'),
      localAll: db.prepare('SELECT * FROM local_files ORDER BY id'),
      localReplacing: db.prepare('SELECT * FROM local_files WHERE replaces_url = ?'),
      insertLocal: db.prepare(`INSERT INTO local_files (folder_id, name, spool_path, size, mtime, mode, state, replaces_url, ready_at, created_at)
        VALUES (@folderId, @name, @spoolPath, @size, @mtime, @mode, @state, @replacesUrl, @readyAt, @createdAt)`),
      deleteLocal: db.prepare('DELETE FROM local_files WHERE id = ?'),
      markWriteFailed: db.prepare('INSERT OR REPLACE INTO write_failures (local_id, error, failed_at) VALUES (?, ?, ?)'),
      writeFailures: db.prepare('SELECT local_id AS id, error FROM write_failures'),
      clearWriteFailure: db.prepare('DELETE FROM write_failures WHERE local_id = ?'),
      attrs: db.prepare('SELECT mtime, mode FROM attrs WHERE key = ?'),
      setAttrs: db.prepare(`INSERT INTO attrs (key, mtime, mode) VALUES (@key, @mtime, @mode)
        ON CONFLICT(key) DO UPDATE SET mtime = COALESCE(excluded.mtime, attrs.mtime), mode = COALESCE(excluded.mode, attrs.mode)`),
      deleteAttrs: db.prepare('DELETE FROM attrs WHERE key = ?'),
      fileMeta: db.prepare('SELECT description, password FROM file_meta WHERE url = ?'),
      setFileMeta: db.prepare(`INSERT INTO file_meta (url, description, password) VALUES (@url, @description, @password)
        ON CONFLICT(url) DO UPDATE SET description = excluded.description, password = excluded.password`),
      deleteFileMeta: db.prepare('DELETE FROM file_meta WHERE url = ?'),
      setPass: db.prepare('UPDATE files SET pass = ? WHERE url = ?'),
      addPendingRm: db.prepare('INSERT OR REPLACE INTO pending_rm (url, reason, created_at) VALUES (?, ?, ?)'),
      pendingRm: db.prepare('SELECT url FROM pending_rm ORDER BY created_at'),
      deletePendingRm: db.prepare('DELETE FROM pending_rm WHERE url = ?'),
      trashAll: db.prepare('SELECT * FROM trash ORDER BY deleted_at, id'),
      trashById: db.prepare('SELECT * FROM trash WHERE id = ?'),
      insertTrash: db.prepare(`INSERT INTO trash (kind, url, folder_id, name, parent_id, path, size, deleted_at, reason, state, view_name, remote_name, info, expunge_name, file_fields)
        VALUES (@kind, @url, @folderId, @name, @parentId, @path, @size, @deletedAt, @reason, @state, @viewName, @remoteName, @info, @expungeName, @fileFields)`),
      deleteTrash: db.prepare('DELETE FROM trash WHERE id = ?'),
      movingUrls: db.prepare("SELECT url FROM trash WHERE state = 'moving' AND url IS NOT NULL"),
      isMoving: db.prepare("SELECT 1 FROM trash WHERE url = ? AND state = 'moving'"),
      isPendingRm: db.prepare('SELECT 1 FROM pending_rm WHERE url = ?'),
      noteChange: db.prepare('INSERT OR REPLACE INTO changes (key, at) VALUES (?, ?)'),
      changesSince: db.prepare('SELECT key FROM changes WHERE at >= ?'),
      pruneChanges: db.prepare('DELETE FROM changes WHERE at < ?'),
      kvGet: db.prepare('SELECT value, updated_at AS updatedAt FROM kv WHERE key = ?'),
      kvSet: db.prepare('INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)'),
    }
  }

  private ensureRoot(): void {
    if (!this.statements.folder.get(0)) {
      this.statements.upsertFolder.run({ id: 0, parentId: null, name: '', createdAt: null, listedAt: null })
    }
  }

  // -------------------------------------------------------------------------------------------
  // Folders

  folder(id: number): FolderRow | undefined {
    return this.statements.folder.get(id) as FolderRow | undefined
  }

  /** The account path of a known folder (`/` for the root), or of `name` inside it. */
  pathOf(folderId: number, name?: string): string {
    const names: string[] = name === undefined ? [] : [name]
    let id: number | null = folderId
    for (let depth = 0; id !== null && id !== 0 && depth < 1000; depth++) {
      const folder = this.folder(id)
      if (!folder) return `/?folder-${folderId}${name === undefined ? '' : `/${name}`}`
      names.unshift(folder.name)
      id = folder.parentId
    }
    return `/${names.join('/')}`
  }

  subFolders(parentId: number): FolderRow[] {
    return this.statements.subFolders.all(parentId) as FolderRow[]
  }

  subFolder(parentId: number, name: string): FolderRow | undefined {
    return this.statements.subFolderByName.get(parentId, name) as FolderRow | undefined
  }

  /**
   * Replace what we know of a folder's contents with a fresh listing. Sub-folders keep their
   * own listing state (their contents did not change just because the parent was listed).
   * `files` undefined means "this listing had no files", so files are left as they were.
   * `ours` names the file URLs and folder keys (folderKey) that this process changed after the
   * listing was requested: for those the cache is newer than the listing and is kept.
   */
  applyListing(folderId: number, folders: FolderInput[], files: FileInput[] | undefined, listedAt: number, ours: Set<string> = new Set(), partial = false): void {
    const run = this.db.transaction(() => {
      const keep = new Set(folders.map((folder) => folder.id))
      // A partial listing (1fichier's result cap) says nothing of what it left out.
      for (const old of partial ? [] : this.subFolders(folderId)) {
        if (!keep.has(old.id) && !ours.has(folderKey(old.id))) this.forgetFolderTree(old.id)
      }
      for (const folder of folders) {
        if (ours.has(folderKey(folder.id))) continue
        this.statements.upsertFolder.run({ id: folder.id, parentId: folderId, name: folder.name, createdAt: folder.createdAt ?? null, listedAt: null })
      }
      if (files) this.replaceFiles(folderId, files, ours, partial)
      this.statements.setListed.run(listedAt, folderId)
    })
    run()
  }

  /**
   * Replace a folder's files (after file/ls or folder/ls), recomputing display names. With
   * `partial` (the listing hit the service's cap), files known before and not listed are kept.
   */
  replaceFiles(folderId: number, files: FileInput[], ours: Set<string> = new Set(), partial = false): void {
    const run = this.db.transaction(() => {
      const previous = this.statements.files.all(folderId) as RawFile[]
      const listed = new Set(files.map((file) => file.url))
      const kept: FileInput[] = previous.filter((row) => (partial || ours.has(row.url)) && !listed.has(row.url)).map(toFileRow).map(fileInputOf)
      const incoming = files.filter((file) => !ours.has(file.url))
      this.statements.deleteFilesOfFolder.run(folderId)
      const all = [...incoming, ...kept, ...previous.filter((row) => ours.has(row.url) && listed.has(row.url)).map(toFileRow).map(fileInputOf)]
      const names = assignDisplayNames(all)
      for (const file of all) this.insertFileRow(folderId, file, names.get(file.url) ?? file.name)
      // Files that vanished remotely take their stored attributes with them.
      const now = new Set(all.map((file) => file.url))
      for (const row of previous) if (!now.has(row.url)) this.statements.deleteAttrs.run(row.url)
    })
    run()
  }

  addFolder(parentId: number, folder: FolderInput, listedAt: number | null): void {
    this.statements.upsertFolder.run({ id: folder.id, parentId, name: folder.name, createdAt: folder.createdAt ?? null, listedAt })
  }

  moveFolder(id: number, parentId: number, name: string): void {
    this.statements.moveFolder.run(parentId, name, id)
  }

  /** Drop a folder and everything cached under it (not the local journal). */
  forgetFolderTree(id: number): void {
    for (const child of this.subFolders(id)) this.forgetFolderTree(child.id)
    this.statements.deleteFilesOfFolder.run(id)
    this.statements.deleteFolder.run(id)
    this.clearListingCap(id)
  }

  markListed(id: number, at: number | null): void {
    this.statements.setListed.run(at, id)
  }

  // -------------------------------------------------------------------------------------------
  // Remote files

  files(folderId: number): FileRow[] {
    return (this.statements.files.all(folderId) as RawFile[]).map(toFileRow)
  }

  fileByDisplayName(folderId: number, displayName: string): FileRow | undefined {
    const row = this.statements.fileByDisplayName.get(folderId, displayName) as RawFile | undefined
    return row ? toFileRow(row) : undefined
  }

  fileByUrl(url: string): FileRow | undefined {
    const row = this.statements.fileByUrl.get(url) as RawFile | undefined
    return row ? toFileRow(row) : undefined
  }

  /** Add or update one remote file (after our own upload, rename or move), naming duplicates. */
  putFile(folderId: number, file: FileInput): void {
    const run = this.db.transaction(() => {
      this.deleteFile(file.url)
      this.insertFileRow(folderId, file, file.name)
      this.renameGroup(folderId, file.name)
    })
    run()
  }

  deleteFile(url: string): void {
    const old = this.fileByUrl(url)
    if (!old) return
    this.statements.deleteFile.run(url)
    this.renameGroup(old.folderId, old.name)
  }

  /** Recompute the display names of the files called `name` in a folder. */
  private renameGroup(folderId: number, name: string): void {
    const group = (this.statements.filesByName.all(folderId, name) as RawFile[]).map(toFileRow)
    const names = assignDisplayNames(group)
    for (const row of group) {
      const displayName = names.get(row.url) ?? row.name
      if (displayName !== row.displayName) this.statements.setDisplayName.run(displayName, row.url)
    }
  }

  private insertFileRow(folderId: number, file: FileInput, displayName: string): void {
    this.statements.insertFile.run({
      url: file.url, folderId, name: file.name, displayName, size: file.size,
      uploadedAt: file.uploadedAt ?? null, checksum: file.checksum ?? null, contentType: file.contentType ?? null,
      pass: file.passwordProtected ? 1 : 0,
    })
  }

  // -------------------------------------------------------------------------------------------
  // Attributes set by programs (key: a file URL, or folderKey(id))

  attrs(key: string): StoredAttrs {
    const row = this.statements.attrs.get(key) as { mtime: number | null; mode: number | null } | undefined
    return { mtime: row?.mtime ?? undefined, mode: row?.mode ?? undefined }
  }

  setAttrs(key: string, attrs: StoredAttrs): void {
    this.statements.setAttrs.run({ key, mtime: attrs.mtime === undefined ? null : toStoredTime(attrs.mtime), mode: attrs.mode ?? null })
  }

  /** A file's URL changed (a move or rename may change it): its local facts follow. */
  moveAttrs(fromKey: string, toKey: string): void {
    if (fromKey === toKey) return
    const attrs = this.attrs(fromKey)
    const meta = this.fileMeta(fromKey)
    this.deleteAttrs(fromKey)
    if (attrs.mtime !== undefined || attrs.mode !== undefined) this.setAttrs(toKey, attrs)
    if (meta.description !== undefined || meta.password !== undefined) this.setFileMeta(toKey, meta)
  }

  deleteAttrs(key: string): void {
    this.statements.deleteAttrs.run(key)
    this.statements.deleteFileMeta.run(key)
  }

  // -------------------------------------------------------------------------------------------
  // The local journal

  localFiles(folderId: number): LocalFileRow[] {
    return (this.statements.localFiles.all(folderId) as RawLocal[]).map(toLocalRow)
  }

  localFile(folderId: number, name: string): LocalFileRow | undefined {
    const row = this.statements.localByName.get(folderId, name) as RawLocal | undefined
    return row ? toLocalRow(row) : undefined
  }

  localFileById(id: number): LocalFileRow | undefined {
    const row = this.statements.localById.get(id) as RawLocal | undefined
    return row ? toLocalRow(row) : undefined
  }

  allLocalFiles(): LocalFileRow[] {
    return (this.statements.localAll.all() as RawLocal[]).map(toLocalRow)
  }

  localReplacing(url: string): LocalFileRow | undefined {
    const row = this.statements.localReplacing.get(url) as RawLocal | undefined
    return row ? toLocalRow(row) : undefined
  }

  addLocalFile(entry: Omit<LocalFileRow, 'id' | 'attempts' | 'lastError'>): LocalFileRow {
    const info = this.statements.insertLocal.run(entry)
    return this.localFileById(Number(info.lastInsertRowid)) as LocalFileRow
  }

  updateLocalFile(id: number, changes: Partial<Omit<LocalFileRow, 'id'>>): void {
    const columns: Record<string, string> = {
      folderId: 'folder_id', name: 'name', spoolPath: 'spool_path', size: 'size', mtime: 'mtime', mode: 'mode', state: 'state',
      replacesUrl: 'replaces_url', attempts: 'attempts', lastError: 'last_error', readyAt: 'ready_at', createdAt: 'created_at',
    }
    const sets: string[] = []
    const values: unknown[] = []
    for (const [key, value] of Object.entries(changes)) {
      const column = columns[key]
      if (!column || value === undefined) continue
      sets.push(`${column} = ?`)
      values.push(value)
    }
    if (sets.length === 0) return
    this.db.prepare(`UPDATE local_files SET ${sets.join(', ')} WHERE id = ?`).run(...values, id)
  }

  deleteLocalFile(id: number): void {
    this.db.transaction(() => {
      this.statements.deleteLocal.run(id)
      this.statements.clearWriteFailure.run(id)
    })()
  }

  /** A write into this local file failed: its content is incomplete (never upload it as is). */
  markWriteFailed(id: number, error: string): void {
    this.statements.markWriteFailed.run(id, error, Date.now())
  }

  /** Local files whose content is incomplete, with why. */
  writeFailures(): Map<number, string> {
    return new Map((this.statements.writeFailures.all() as Array<{ id: number; error: string }>).map((row) => [row.id, row.error]))
  }

  /** The file was cut to zero (rewritten from the start): what failed before is gone. */
  clearWriteFailure(id: number): void {
    this.statements.clearWriteFailure.run(id)
  }

  /** What fichfs knows of a file's description and download password (both set through it). */
  fileMeta(url: string): { description?: string; password?: string } {
    const row = this.statements.fileMeta.get(url) as { description: string | null; password: string | null } | undefined
    return { description: row?.description ?? undefined, password: row?.password ?? undefined }
  }

  setFileMeta(url: string, meta: { description?: string | null; password?: string | null }): void {
    const current = this.fileMeta(url)
    this.statements.setFileMeta.run({
      url,
      description: meta.description === undefined ? (current.description ?? null) : meta.description,
      password: meta.password === undefined ? (current.password ?? null) : meta.password,
    })
  }

  setPasswordProtected(url: string, on: boolean): void {
    this.statements.setPass.run(on ? 1 : 0, url)
  }

  addPendingRemoval(url: string, reason: string): void {
    this.statements.addPendingRm.run(url, reason, Date.now())
  }

  pendingRemovals(): string[] {
    return (this.statements.pendingRm.all() as Array<{ url: string }>).map((row) => row.url)
  }

  removePendingRemoval(url: string): void {
    this.statements.deletePendingRm.run(url)
  }

  // -------------------------------------------------------------------------------------------
  // The trash (src/fs/trash.ts)

  trashEntries(): TrashRow[] {
    return (this.statements.trashAll.all() as RawTrash[]).map(toTrashRow)
  }

  trashEntry(id: number): TrashRow | undefined {
    const row = this.statements.trashById.get(id) as RawTrash | undefined
    return row ? toTrashRow(row) : undefined
  }

  addTrashEntry(entry: Omit<TrashRow, 'id'>): TrashRow {
    const info = this.statements.insertTrash.run({ ...entry, fileFields: entry.fileFields ? JSON.stringify(entry.fileFields) : null })
    return this.trashEntry(Number(info.lastInsertRowid)) as TrashRow
  }

  updateTrashEntry(id: number, changes: Partial<Omit<TrashRow, 'id'>>): void {
    const columns: Record<string, string> = {
      kind: 'kind', url: 'url', folderId: 'folder_id', name: 'name', parentId: 'parent_id', path: 'path', size: 'size',
      deletedAt: 'deleted_at', reason: 'reason', state: 'state', viewName: 'view_name', remoteName: 'remote_name',
      info: 'info', expungeName: 'expunge_name', fileFields: 'file_fields',
    }
    const sets: string[] = []
    const values: unknown[] = []
    for (const [key, value] of Object.entries(changes)) {
      const column = columns[key]
      if (!column || value === undefined) continue
      sets.push(`${column} = ?`)
      values.push(key === 'fileFields' && value !== null ? JSON.stringify(value) : value)
    }
    if (sets.length === 0) return
    this.db.prepare(`UPDATE trash SET ${sets.join(', ')} WHERE id = ?`).run(...values, id)
  }

  deleteTrashEntry(id: number): void {
    this.statements.deleteTrash.run(id)
  }

  /**
   * Remote files the mount must not show although a listing may still have them: versions an
   * upload replaces, files waiting to be deleted, and files on their way into the trash.
   */
  hiddenFileUrls(): Set<string> {
    const hidden = new Set<string>()
    for (const row of this.allLocalFiles()) if (row.replacesUrl) hidden.add(row.replacesUrl)
    for (const url of this.pendingRemovals()) hidden.add(url)
    for (const row of this.statements.movingUrls.all() as Array<{ url: string }>) hidden.add(row.url)
    return hidden
  }

  /** hiddenFileUrls().has(url), for one URL. */
  isHiddenUrl(url: string): boolean {
    return this.localReplacing(url) !== undefined || this.statements.isPendingRm.get(url) !== undefined || this.statements.isMoving.get(url) !== undefined
  }

  // -------------------------------------------------------------------------------------------
  // Recent changes, shared by the fichfs processes of the account (Namespace.touch)

  noteChange(key: string, at = Date.now()): void {
    this.statements.noteChange.run(key, at)
  }

  changesSince(at: number): string[] {
    return (this.statements.changesSince.all(at) as Array<{ key: string }>).map((row) => row.key)
  }

  pruneChanges(before: number): void {
    this.statements.pruneChanges.run(before)
  }

  // -------------------------------------------------------------------------------------------
  // Remote files unlinked while open (deleted from 1fichier at their last close)

  addUnlinkedOpen(url: string, folderId: number): void {
    this.db.prepare('INSERT OR REPLACE INTO unlinked_open (url, folder_id, created_at) VALUES (?, ?, ?)').run(url, folderId, Date.now())
  }

  unlinkedOpen(): Array<{ url: string; folderId: number }> {
    return this.db.prepare('SELECT url, folder_id AS folderId FROM unlinked_open ORDER BY created_at').all() as Array<{ url: string; folderId: number }>
  }

  isUnlinkedOpen(url: string): boolean {
    return this.db.prepare('SELECT 1 FROM unlinked_open WHERE url = ?').get(url) !== undefined
  }

  removeUnlinkedOpen(url: string): void {
    this.db.prepare('DELETE FROM unlinked_open WHERE url = ?').run(url)
  }

  // -------------------------------------------------------------------------------------------
  // Folders whose last listing hit the service's result cap

  /** `listed`: results the listing had; `counted`: the folder's file count as 1fichier gave it. */
  setListingCap(folderId: number, listed: number, counted: number | undefined): void {
    this.db.prepare('INSERT OR REPLACE INTO listing_caps (folder_id, listed, counted, at) VALUES (?, ?, ?, ?)').run(folderId, listed, counted ?? null, Date.now())
  }

  clearListingCap(folderId: number): void {
    this.db.prepare('DELETE FROM listing_caps WHERE folder_id = ?').run(folderId)
  }

  listingCaps(): Array<{ folderId: number; listed: number; counted: number | null; at: number }> {
    return this.db.prepare('SELECT folder_id AS folderId, listed, counted, at FROM listing_caps ORDER BY folder_id').all() as Array<{ folderId: number; listed: number; counted: number | null; at: number }>
  }

  // -------------------------------------------------------------------------------------------
  // Small facts

  getFact<T>(key: string): { value: T; updatedAt: number } | undefined {
    const row = this.statements.kvGet.get(key) as { value: string; updatedAt: number } | undefined
    return row ? { value: JSON.parse(row.value) as T, updatedAt: row.updatedAt } : undefined
  }

  setFact(key: string, value: unknown, at = Date.now()): void {
    this.statements.kvSet.run(key, JSON.stringify(value), at)
  }
}

interface RawFile {
  url: string
  folder_id: number
  name: string
  display_name: string
  size: number
  uploaded_at: number | null
  checksum: string | null
  content_type: string | null
  pass: number
}

/** The fields to put a cached file back with (after a move that may change its URL). */
export function fileInputOf(row: FileRow): FileInput {
  return {
    url: row.url, name: row.name, size: row.size, uploadedAt: row.uploadedAt ?? undefined,
    checksum: row.checksum ?? undefined, contentType: row.contentType ?? undefined, passwordProtected: row.passwordProtected,
  }
}

function toFileRow(row: RawFile): FileRow {
  return {
    url: row.url, folderId: row.folder_id, name: row.name, displayName: row.display_name, size: row.size,
    uploadedAt: row.uploaded_at, checksum: row.checksum, contentType: row.content_type, passwordProtected: row.pass === 1,
  }
}

interface RawTrash {
  id: number
  kind: TrashKind
  url: string | null
  folder_id: number | null
  name: string
  parent_id: number
  path: string
  size: number
  deleted_at: number
  reason: string
  state: TrashState
  view_name: string
  remote_name: string | null
  info: string | null
  expunge_name: string | null
  file_fields: string | null
}

function toTrashRow(row: RawTrash): TrashRow {
  return {
    id: row.id, kind: row.kind, url: row.url, folderId: row.folder_id, name: row.name, parentId: row.parent_id, path: row.path,
    size: row.size, deletedAt: row.deleted_at, reason: row.reason, state: row.state, viewName: row.view_name,
    remoteName: row.remote_name, info: row.info, expungeName: row.expunge_name,
    fileFields: row.file_fields ? (JSON.parse(row.file_fields) as Omit<FileInput, 'url'>) : null,
  }
}

interface RawLocal {
  id: number
  folder_id: number
  name: string
  spool_path: string | null
  size: number
  mtime: number
  mode: number | null
  state: LocalState
  replaces_url: string | null
  attempts: number
  last_error: string | null
  ready_at: number | null
  created_at: number
}

function toLocalRow(row: RawLocal): LocalFileRow {
  return {
    id: row.id, folderId: row.folder_id, name: row.name, spoolPath: row.spool_path, size: row.size, mtime: row.mtime,
    mode: row.mode, state: row.state, replacesUrl: row.replaces_url, attempts: row.attempts, lastError: row.last_error,
    readyAt: row.ready_at, createdAt: row.created_at,
  }
}
