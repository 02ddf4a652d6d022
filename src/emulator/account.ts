import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { AclObject, Flag } from '../client/wire.js'
import { ROOT_FOLDER_ID } from '../client/wire.js'
import type { Db } from './db.js'
import { newBlobId, newFileId, newFolderId } from './ids.js'

export interface FolderRecord {
  id: number
  parentId: number | null
  name: string
  createdAt: number
}

export interface FileRecord {
  id: string
  folderId: number
  filename: string
  blobId: string
  size: number
  whirlpool: string
  createdAt: number
  pass: string | null
  description: string
  inline: Flag
  noSsl: Flag
  cdn: Flag
  acl: AclObject
}

export type FilePatch = Partial<Pick<FileRecord, 'folderId' | 'filename' | 'pass' | 'description' | 'inline' | 'noSsl' | 'cdn' | 'acl'>>

/** A finished temp file waiting to become a blob. */
export interface StagedBlob {
  tempPath: string
  size: number
  whirlpool: string
}

interface FolderRow { id: number; parent_id: number | null; name: string; created_at: number }
interface FileRow {
  id: string; folder_id: number; filename: string; blob_id: string; size: number; whirlpool: string
  created_at: number; pass: string | null; description: string; inline: number; no_ssl: number; cdn: number; acl: string
}

const FILE_SELECT = 'SELECT f.*, b.size, b.whirlpool FROM files f JOIN blobs b ON b.id = f.blob_id'
const FILE_ORDER = 'ORDER BY f.created_at, f.rowid'

const toFolder = (row: FolderRow): FolderRecord => ({ id: row.id, parentId: row.parent_id, name: row.name, createdAt: row.created_at })

const toFlag = (value: number): Flag => (value ? 1 : 0)

const toFile = (row: FileRow): FileRecord => ({
  id: row.id,
  folderId: row.folder_id,
  filename: row.filename,
  blobId: row.blob_id,
  size: row.size,
  whirlpool: row.whirlpool,
  createdAt: row.created_at,
  pass: row.pass,
  description: row.description,
  inline: toFlag(row.inline),
  noSsl: toFlag(row.no_ssl),
  cdn: toFlag(row.cdn),
  acl: JSON.parse(row.acl) as AclObject,
})

/**
 * The account's folders and files. Copies share a blob: its reference count is the number of
 * file rows pointing at it, so it can never drift from the truth.
 */
export class Account {
  constructor(
    private readonly db: Db,
    readonly blobsDir: string,
  ) {
    this.ensureRoot()
  }

  private ensureRoot(): void {
    this.db.prepare('INSERT OR IGNORE INTO folders (id, parent_id, name, created_at) VALUES (?, NULL, ?, ?)').run(ROOT_FOLDER_ID, '', Date.now())
  }

  // ---- folders

  folder(id: number): FolderRecord | undefined {
    const row = this.db.prepare('SELECT * FROM folders WHERE id = ?').get(id) as FolderRow | undefined
    return row && toFolder(row)
  }

  subFolders(parentId: number): FolderRecord[] {
    const rows = this.db.prepare('SELECT * FROM folders WHERE parent_id = ? ORDER BY created_at, id').all(parentId) as FolderRow[]
    return rows.map(toFolder)
  }

  folderByName(parentId: number, name: string): FolderRecord | undefined {
    const row = this.db.prepare('SELECT * FROM folders WHERE parent_id = ? AND name = ?').get(parentId, name) as FolderRow | undefined
    return row && toFolder(row)
  }

  createFolder(parentId: number, name: string): FolderRecord {
    let id = newFolderId()
    while (this.folder(id)) id = newFolderId()
    const createdAt = Date.now()
    this.db.prepare('INSERT INTO folders (id, parent_id, name, created_at) VALUES (?, ?, ?, ?)').run(id, parentId, name, createdAt)
    return { id, parentId, name, createdAt }
  }

  updateFolder(id: number, parentId: number, name: string): void {
    this.db.prepare('UPDATE folders SET parent_id = ?, name = ? WHERE id = ?').run(parentId, name, id)
  }

  removeFolder(id: number): void {
    this.db.prepare('DELETE FROM folders WHERE id = ?').run(id)
  }

  /** True when `id` is `ancestorId` or lies somewhere below it. */
  isWithin(id: number, ancestorId: number): boolean {
    for (let current: number | null = id; current !== null; current = this.folder(current)?.parentId ?? null) {
      if (current === ancestorId) return true
    }
    return false
  }

  /** `A/B` for a folder two levels below the root; "" for the root. */
  folderPath(id: number): string {
    const names: string[] = []
    for (let folder = this.folder(id); folder && folder.parentId !== null; folder = this.folder(folder.parentId)) names.unshift(folder.name)
    return names.join('/')
  }

  folderUsage(id: number): { files: number; size: number } {
    const row = this.db.prepare(`SELECT COUNT(*) AS files, COALESCE(SUM(b.size), 0) AS size FROM files f JOIN blobs b ON b.id = f.blob_id WHERE f.folder_id = ?`).get(id) as { files: number; size: number }
    return row
  }

  allFolders(): FolderRecord[] {
    return (this.db.prepare('SELECT * FROM folders ORDER BY created_at, id').all() as FolderRow[]).map(toFolder)
  }

  // ---- files

  file(id: string): FileRecord | undefined {
    const row = this.db.prepare(`${FILE_SELECT} WHERE f.id = ?`).get(id) as FileRow | undefined
    return row && toFile(row)
  }

  filesIn(folderId: number): FileRecord[] {
    return (this.db.prepare(`${FILE_SELECT} WHERE f.folder_id = ? ${FILE_ORDER}`).all(folderId) as FileRow[]).map(toFile)
  }

  allFiles(): FileRecord[] {
    return (this.db.prepare(`${FILE_SELECT} ${FILE_ORDER}`).all() as FileRow[]).map(toFile)
  }

  fileByName(folderId: number, filename: string): FileRecord | undefined {
    const row = this.db.prepare(`${FILE_SELECT} WHERE f.folder_id = ? AND f.filename = ? ${FILE_ORDER} LIMIT 1`).get(folderId, filename) as FileRow | undefined
    return row && toFile(row)
  }

  usedBytes(): number {
    const row = this.db.prepare('SELECT COALESCE(SUM(b.size), 0) AS used FROM files f JOIN blobs b ON b.id = f.blob_id').get() as { used: number }
    return row.used
  }

  /** Turn a staged temp file into a blob and a file record. */
  async addFile(folderId: number, filename: string, staged: StagedBlob, pass: string | null = null): Promise<FileRecord> {
    const blobId = newBlobId()
    await rename(staged.tempPath, join(this.blobsDir, blobId))
    const id = this.unusedFileId()
    const createdAt = Date.now()
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO blobs (id, size, whirlpool) VALUES (?, ?, ?)').run(blobId, staged.size, staged.whirlpool)
      this.db.prepare('INSERT INTO files (id, folder_id, filename, blob_id, created_at, pass) VALUES (?, ?, ?, ?, ?, ?)').run(id, folderId, filename, blobId, createdAt, pass)
    })()
    return this.file(id) as FileRecord
  }

  /** A server-side copy: a new id and URL on the same blob. */
  copyFile(source: FileRecord, folderId: number, filename: string): FileRecord {
    const id = this.unusedFileId()
    this.db.prepare(`INSERT INTO files (id, folder_id, filename, blob_id, created_at, pass, description, inline, no_ssl, cdn, acl)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(id, folderId, filename, source.blobId, Date.now(), source.pass, source.description, source.inline, source.noSsl, source.cdn, JSON.stringify(source.acl))
    return this.file(id) as FileRecord
  }

  updateFile(id: string, patch: FilePatch): void {
    const columns: Record<keyof FilePatch, string> = {
      folderId: 'folder_id', filename: 'filename', pass: 'pass', description: 'description',
      inline: 'inline', noSsl: 'no_ssl', cdn: 'cdn', acl: 'acl',
    }
    for (const [key, value] of Object.entries(patch) as Array<[keyof FilePatch, unknown]>) {
      if (value === undefined) continue
      const stored = key === 'acl' ? JSON.stringify(value) : value
      this.db.prepare(`UPDATE files SET ${columns[key]} = ? WHERE id = ?`).run(stored, id)
    }
  }

  /** Delete a file; its blob goes when the last file using it does. */
  removeFile(id: string): void {
    const file = this.file(id)
    if (!file) return
    const orphan = this.db.transaction(() => {
      this.db.prepare('DELETE FROM files WHERE id = ?').run(id)
      const users = this.db.prepare('SELECT COUNT(*) AS n FROM files WHERE blob_id = ?').get(file.blobId) as { n: number }
      if (users.n > 0) return false
      this.db.prepare('DELETE FROM blobs WHERE id = ?').run(file.blobId)
      return true
    })()
    // A download still streaming the blob keeps its open descriptor; unlinking is safe.
    if (orphan) void rm(this.blobPath(file.blobId), { force: true }).catch(() => undefined)
  }

  blobPath(blobId: string): string {
    return join(this.blobsDir, blobId)
  }

  blobReferences(blobId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM files WHERE blob_id = ?').get(blobId) as { n: number }).n
  }

  private unusedFileId(): string {
    let id = newFileId()
    while (this.db.prepare('SELECT 1 FROM files WHERE id = ?').get(id)) id = newFileId()
    return id
  }
}
