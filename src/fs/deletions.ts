/**
 * Removing things from the account, in one place: every path that deletes a remote file or
 * folder (unlink, rmdir, a rename onto an existing name, a local file that replaced a remote
 * one) goes through here, and the cache forgets what was deleted.
 *
 * With the trash on (trash.ts), what leaves the mount's folders goes into the trash instead,
 * for the same number of calls (one file/mv or folder/mv), and what is deleted inside the trash
 * goes for good: files wait a moment in the deleter so that many go in one file/rm call.
 */
import { folderKey, type MetadataStore } from '../cache/metadata-store.js'
import type { Deleter } from './deleter.js'
import type { Namespace } from './namespace.js'
import type { Trash, TrashReason } from './trash.js'

export interface DeletionRemote {
  removeFiles(urls: string[]): Promise<number>
  rmdir(folderId: number): Promise<void>
}

export class Deletions {
  constructor(
    private readonly remote: DeletionRemote,
    private readonly store: MetadataStore,
    private readonly namespace: Namespace,
    private readonly forgetLink: (url: string) => void,
    private readonly deleter: Deleter,
    private readonly trash?: Trash,
  ) {}

  /** Delete a remote file from 1fichier (into the trash when it is on), then forget it. */
  async removeFile(url: string, reason: TrashReason = 'rm'): Promise<void> {
    const file = this.store.fileByUrl(url)
    if (this.trash && file) {
      if (!this.trash.contains(file.folderId)) {
        await this.trash.putFile(file, reason)
        return
      }
      // Deleted inside the trash: for good.
      this.removeForGood(url)
      return
    }
    await this.remote.removeFiles([url])
    this.forgetFile(url)
  }

  /**
   * Delete a file for good, together with the others deleted right after it (one file/rm call
   * for up to 100): gone from the mount at once, journaled until 1fichier has done it.
   */
  removeForGood(url: string): void {
    this.store.addPendingRemoval(url, 'deleted from the trash')
    this.forgetFile(url)
    this.deleter.soon()
  }

  /** Delete an empty remote folder (into the trash when it is on), then forget it. */
  async removeFolder(folderId: number, reason: TrashReason = 'rmdir'): Promise<void> {
    const folder = this.store.folder(folderId)
    if (this.trash && folder) {
      if (!this.trash.contains(folderId)) {
        await this.trash.putFolder(folder, reason)
        return
      }
      // Inside the trash: the files deleted from it may still wait; 1fichier removes empty folders only.
      await this.deleter.run()
    }
    await this.remote.rmdir(folderId)
    this.store.forgetFolderTree(folderId)
    this.store.deleteAttrs(folderKey(folderId))
    this.namespace.touch(folderKey(folderId))
  }

  /** Forget a remote file that is gone (its cache row, stored attributes and download link). */
  forgetFile(url: string): void {
    this.store.deleteFile(url)
    this.store.deleteAttrs(url)
    this.forgetLink(url)
    this.namespace.touch(url)
  }
}
