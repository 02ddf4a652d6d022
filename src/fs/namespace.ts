/**
 * Paths to entries: resolves `/a/b/c` against the metadata cache, listing a folder only when
 * its cached listing is missing or older than the freshness time (one folder/ls with
 * `files:1` per folder; file/ls only when the service ignores `files:1`).
 *
 * A name missing from a fresh listing is ENOENT with no API call. A stale listing whose
 * folder may not be listed again yet (1fichier's 30 s rule) is served as it is, rather than
 * waiting on the gate.
 *
 * The view of a folder merges three sources: sub-folders, remote files (by display name), and
 * local files (the journal). A local file hides the remote file it replaces, and any remote
 * file of the same name. Files on their way out (waiting to be deleted or moved into the trash)
 * are hidden, and so is the trash folder itself (trash.ts).
 *
 * 1fichier returns at most 5,000 results per listing, with no way to ask for the rest. A
 * listing that reaches the cap is partial: it is merged into what fichfs knows (files from
 * earlier listings and from its own uploads stay), never allowed to make files vanish, and the
 * folder is recorded (fichfs status) and warned about once.
 */
import { NAME_MAX_BYTES, type FileRow, type FolderRow, type LocalFileRow, type MetadataStore } from '../cache/metadata-store.js'
import type { FolderListing, RemoteFile } from '../client/types.js'
import { LIMITS } from '../client/wire.js'
import type { Logger } from '../log.js'
import { fsError } from './errors.js'
import { TRASH_FOLDER_NAME } from './trash.js'

export interface ListingRemote {
  listFolder(folderId: number): Promise<FolderListing>
  listFiles(folderId: number): Promise<RemoteFile[]>
  readonly pacer: { listingAllowedNow(folderId: number): boolean }
}

export type Entry =
  | { kind: 'folder'; folder: FolderRow }
  | { kind: 'remote'; parentId: number; file: FileRow }
  | { kind: 'local'; parentId: number; local: LocalFileRow }

export interface FolderView {
  folders: FolderRow[]
  remote: FileRow[]
  local: LocalFileRow[]
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '')
}

/** A name longer than NAME_MAX is ENAMETOOLONG before any look-up (ext4 answers the same). */
function checkLength(name: string): void {
  if (Buffer.byteLength(name) > NAME_MAX_BYTES) throw fsError('ENAMETOOLONG', `name longer than ${NAME_MAX_BYTES} bytes: ${name.slice(0, 40)}…`)
}

export class Namespace {
  private readonly listings = new Map<number, Promise<void>>()
  /** URLs and folder keys changed by us, with when: a listing started before must not undo them. */
  private readonly touched = new Map<string, number>()
  private itemsUnsupported = false
  private prunedAt = 0
  /** Folders already warned about for the listing cap (once per folder and process). */
  private readonly cappedWarned = new Set<number>()
  listingCalls = 0
  /** Folder look-ups answered from the cache (hits) or by listing (misses). */
  readonly counters = { hits: 0, misses: 0 }

  constructor(
    private readonly store: MetadataStore,
    private readonly remote: ListingRemote,
    private readonly freshForMs: number,
    private readonly log?: Logger,
  ) {}

  /**
   * Record that we changed this file URL or folder (folderKey) just now. The store keeps it too,
   * for the other fichfs processes of the account (`fichfs trash restore` beside a mount).
   */
  touch(key: string): void {
    const now = Date.now()
    this.touched.set(key, now)
    this.store.noteChange(key, now)
    if (this.touched.size > 10_000) {
      const old = now - 10 * 60_000
      for (const [k, at] of this.touched) if (at < old) this.touched.delete(k)
    }
    // A listing takes seconds at most: changes older than 10 minutes protect nothing.
    if (now - this.prunedAt > 60_000) {
      this.prunedAt = now
      this.store.pruneChanges(now - 10 * 60_000)
    }
  }

  async resolve(path: string): Promise<Entry> {
    const parts = splitPath(path)
    for (const part of parts) checkLength(part)
    return this.resolveFrom(this.store.folder(0) as FolderRow, parts)
  }

  /** The entry at `parts` below a folder (the trash view resolves inside trashed folders so). */
  async resolveFrom(start: FolderRow, parts: string[]): Promise<Entry> {
    let folder = start
    for (const [index, name] of parts.entries()) {
      const last = index === parts.length - 1
      await this.ensureListed(folder.id)
      const local = this.store.localFile(folder.id, name)
      if (local) {
        if (last) return { kind: 'local', parentId: folder.id, local }
        throw fsError('ENOTDIR', `${name} is a file`)
      }
      const sub = this.visibleSubFolder(folder.id, name)
      if (sub) {
        folder = sub
        continue
      }
      const file = this.store.fileByDisplayName(folder.id, name)
      if (file && !this.store.isHiddenUrl(file.url)) {
        if (last) return { kind: 'remote', parentId: folder.id, file }
        throw fsError('ENOTDIR', `${name} is a file`)
      }
      throw fsError('ENOENT', `no such file or folder: ${parts.slice(0, index + 1).join('/')}`)
    }
    return { kind: 'folder', folder }
  }

  async resolveFolder(path: string): Promise<FolderRow> {
    const entry = await this.resolve(path)
    if (entry.kind !== 'folder') throw fsError('ENOTDIR', `${path} is not a folder`)
    return entry.folder
  }

  /** The parent folder of `path` and the last name, for operations that create or remove it. */
  async parentOf(path: string): Promise<{ parent: FolderRow; name: string }> {
    const parts = splitPath(path)
    const name = parts.pop()
    if (name === undefined) throw fsError('EBUSY', 'the root of the mount')
    checkLength(name)
    const parent = await this.resolveFolder(`/${parts.join('/')}`)
    await this.ensureListed(parent.id)
    return { parent, name }
  }

  /** Whatever currently has `name` in a folder (the folder must be listed). */
  entryIn(folderId: number, name: string): Entry | undefined {
    const local = this.store.localFile(folderId, name)
    if (local) return { kind: 'local', parentId: folderId, local }
    const folder = this.visibleSubFolder(folderId, name)
    if (folder) return { kind: 'folder', folder }
    const file = this.store.fileByDisplayName(folderId, name)
    if (file && !this.store.isHiddenUrl(file.url)) return { kind: 'remote', parentId: folderId, file }
    return undefined
  }

  /** A sub-folder by name; the trash folder is not one (the trash view shows what it holds). */
  private visibleSubFolder(folderId: number, name: string): FolderRow | undefined {
    if (folderId === 0 && name === TRASH_FOLDER_NAME) return undefined
    return this.store.subFolder(folderId, name)
  }

  async view(folderId: number): Promise<FolderView> {
    await this.ensureListed(folderId)
    const local = this.store.localFiles(folderId)
    const localNames = new Set(local.map((row) => row.name))
    // As in resolve(): a remote file replaced by any local file is hidden, wherever that one is.
    const hidden = this.store.hiddenFileUrls()
    const folders = this.store.subFolders(folderId).filter((row) => folderId !== 0 || row.name !== TRASH_FOLDER_NAME)
    const folderNames = new Set(folders.map((row) => row.name))
    const remote = this.store.files(folderId).filter((file) =>
      !hidden.has(file.url) && !localNames.has(file.displayName) && !folderNames.has(file.displayName))
    return { folders, remote, local: local.filter((row) => !folderNames.has(row.name)) }
  }

  /** Make sure a folder's listing is fresh enough (or as fresh as the rate limits allow). */
  async ensureListed(folderId: number): Promise<void> {
    const folder = this.store.folder(folderId)
    if (!folder) throw fsError('ENOENT', `folder ${folderId} is not known`)
    if (folder.listedAt !== null) {
      const age = Date.now() - folder.listedAt
      if (age < this.freshForMs || !this.remote.pacer.listingAllowedNow(folderId)) {
        this.counters.hits++
        return
      }
    }
    this.counters.misses++
    let pending = this.listings.get(folderId)
    if (!pending) {
      pending = this.list(folderId).finally(() => this.listings.delete(folderId))
      this.listings.set(folderId, pending)
    }
    await pending
  }

  /**
   * Until when resolving a name in this folder needs no listing: the earliest time a listing on
   * the way from the root to it gets older than the freshness time (0: one was never listed).
   */
  freshUntil(folderId: number): number {
    let until = Number.POSITIVE_INFINITY
    let id: number | null = folderId
    for (let depth = 0; id !== null && depth < 1000; depth++) {
      const folder = this.store.folder(id)
      if (!folder || folder.listedAt === null) return 0
      until = Math.min(until, folder.listedAt + this.freshForMs)
      id = folder.parentId
    }
    return until
  }

  /** Mark a folder we know to be complete (we just created it) as freshly listed. */
  markFresh(folderId: number): void {
    this.store.markListed(folderId, Date.now())
  }

  /** Forget the freshness of a folder so the next access lists it again. */
  invalidate(folderId: number): void {
    this.store.markListed(folderId, null)
  }

  private async list(folderId: number): Promise<void> {
    const startedAt = Date.now()
    this.listingCalls++
    const listing = await this.remote.listFolder(folderId)
    let files = listing.files
    if (files === undefined) {
      if (!this.itemsUnsupported) this.log?.info('folder/ls ignored files:1; listing files with file/ls from now on')
      this.itemsUnsupported = true
      this.listingCalls++
      files = await this.remote.listFiles(folderId)
    }
    const ours = new Set<string>(this.store.changesSince(startedAt))
    for (const [key, at] of this.touched) if (at >= startedAt) ours.add(key)
    // Files unlinked while open stay on 1fichier until their last close: not in the view.
    const unlinked = new Set(this.store.unlinkedOpen().map((row) => row.url))
    // The cap may count folders and files together or apart (the doc does not say): either way
    // a listing this long may have left results out.
    const partial = listing.folders.length + files.length >= LIMITS.maxListingResults
    this.store.applyListing(
      folderId,
      listing.folders.filter((sub) => sub.id >= 0).map((sub) => ({ id: sub.id, name: sub.name, createdAt: sub.createdAt?.getTime() })),
      files.filter((file) => !unlinked.has(file.url)).map((file) => ({
        url: file.url, name: file.name, size: file.size, uploadedAt: file.uploadedAt?.getTime(),
        checksum: file.checksum, contentType: file.contentType, passwordProtected: file.passwordProtected,
      })),
      Date.now(),
      ours,
      partial,
    )
    if (partial) this.notePartial(folderId, listing.folders.length + files.length, listing.fileCount)
    else this.store.clearListingCap(folderId)
  }

  /**
   * Folders whose last listing hit the cap, for `fichfs status`: what the listing had, the file
   * count 1fichier gave (when it gives one), and what fichfs knows (shows) of them.
   */
  cappedFolders(): Array<{ path: string; listed: number; counted: number | null; knownFiles: number; knownFolders: number }> {
    return this.store.listingCaps().map((cap) => ({
      path: this.store.pathOf(cap.folderId),
      listed: cap.listed,
      counted: cap.counted,
      knownFiles: this.store.files(cap.folderId).length,
      knownFolders: this.store.subFolders(cap.folderId).length,
    }))
  }

  /** A listing hit the cap: record it for `fichfs status`, and say so once per folder. */
  private notePartial(folderId: number, listed: number, counted: number | undefined): void {
    this.store.setListingCap(folderId, listed, counted)
    if (this.cappedWarned.has(folderId)) return
    this.cappedWarned.add(folderId)
    const known = this.store.files(folderId).length
    this.log?.warn(
      { folder: this.store.pathOf(folderId), listed, counted, known },
      `folder is over 1fichier's ${LIMITS.maxListingResults}-result listing cap: files beyond the cap that fichfs has not ` +
      'seen before (uploaded elsewhere) may be missing from the mount; every file fichfs knows stays visible',
    )
  }
}
