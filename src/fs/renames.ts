/**
 * rename(2) on a 1fichier account: server-side moves and renames, and the cache updated from
 * their answers (nothing is listed again to see one's own change).
 *
 * - a folder: one folder/mv (onto an existing empty folder: that one is removed first);
 * - an uploaded file: file/rename within a folder, file/mv across folders (1fichier may give
 *   the file a new URL: its stored attributes follow);
 * - a file not uploaded yet: nothing is sent; it uploads under its final name;
 * - POSIX: a rename onto an existing file replaces it.
 */
import { folderKey, type FolderRow, type LocalFileRow, type MetadataStore } from '../cache/metadata-store.js'
import { encodeForService } from '../client/names.js'
import type { Deletions } from './deletions.js'
import { fsError } from './errors.js'
import type { LocalFiles } from './local-files.js'
import type { Entry, Namespace } from './namespace.js'
import type { Uploader } from './uploader.js'

export interface RenameRemote {
  renameFile(url: string, newName: string): Promise<string>
  moveFile(url: string, destinationId: number, rename?: string): Promise<string>
  moveFolder(folderId: number, destinationId: number, rename?: string): Promise<void>
}

export class Renames {
  constructor(
    private readonly remote: RenameRemote,
    private readonly store: MetadataStore,
    private readonly namespace: Namespace,
    private readonly locals: LocalFiles,
    private readonly deletions: Deletions,
    private readonly uploader: Uploader,
  ) {}

  async rename(from: string, to: string): Promise<void> {
    return this.move(await this.namespace.resolve(from), to)
  }

  /** rename(2) of an entry found some other way (the trash view's files/NAME) to a mount path. */
  async move(source: Entry, to: string): Promise<void> {
    const { parent, name } = await this.namespace.parentOf(to)
    const target = this.namespace.entryIn(parent.id, name)
    if (source.kind === 'folder') return this.renameFolder(source.folder, parent, name, target)
    encodeForService(name, 'file')
    if (target?.kind === 'folder') throw fsError('EISDIR', `${to} is a folder`)
    if (source.kind === 'remote') return this.renameRemote(source, parent, name, target)
    return this.renameLocal(source.local, parent, name, target)
  }

  private async renameFolder(folder: FolderRow, parent: FolderRow, name: string, target: Entry | undefined): Promise<void> {
    if (folder.id === 0) throw fsError('EBUSY', 'the root of the mount cannot be moved')
    encodeForService(name, 'folder')
    if (folder.parentId === parent.id && folder.name === name) return
    for (let up: FolderRow | undefined = parent; up; up = up.parentId === null ? undefined : this.store.folder(up.parentId)) {
      if (up.id === folder.id) throw fsError('EINVAL', 'cannot move a folder into itself')
    }
    if (target) {
      if (target.kind !== 'folder') throw fsError('ENOTDIR', `${name} is not a folder`)
      const view = await this.namespace.view(target.folder.id)
      if (view.folders.length + view.remote.length + view.local.length > 0) throw fsError('ENOTEMPTY', `${name} is not empty`)
      await this.deletions.removeFolder(target.folder.id, 'replaced by a rename')
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
    if (target?.kind === 'remote') await this.deletions.removeFile(target.file.url, 'replaced by a rename')
    else if (target?.kind === 'local') await this.locals.drop(target.local, 'replaced by a rename')
  }

  private async renameLocal(local: LocalFileRow, parent: FolderRow, name: string, target: Entry | undefined): Promise<void> {
    if (local.folderId === parent.id && local.name === name) return
    let replacesUrl = local.replacesUrl
    if (target?.kind === 'remote') {
      // The upload will replace it; until then it is hidden behind the local file.
      // The version this file replaced at its old name goes too.
      if (replacesUrl) await this.deletions.removeFile(replacesUrl, 'overwritten')
      replacesUrl = target.file.url
    } else if (target?.kind === 'local') {
      const inherited = await this.locals.discard(target.local)
      if (inherited) {
        if (replacesUrl) await this.deletions.removeFile(replacesUrl, 'overwritten')
        replacesUrl = inherited
      }
    } else if (replacesUrl) {
      // Moving away from the name it replaced: that old version must not stay behind.
      await this.deletions.removeFile(replacesUrl, 'overwritten')
      replacesUrl = null
    }
    this.store.updateLocalFile(local.id, { folderId: parent.id, name, replacesUrl })
    // A queued upload waits again: renames right after close (rsync) must land before it starts.
    const row = this.store.localFileById(local.id)
    if (row?.state === 'queued') this.store.updateLocalFile(local.id, { readyAt: Date.now() })
    this.uploader.kick()
  }
}
