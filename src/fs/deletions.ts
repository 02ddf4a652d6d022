/**
 * Removing things from the account, in one place: every path that deletes a remote file or
 * folder (unlink, rmdir, a rename onto an existing name, a local file that replaced a remote
 * one) goes through here, and the cache forgets what was deleted.
 */
import { folderKey, type MetadataStore } from '../cache/metadata-store.js'
import type { Namespace } from './namespace.js'

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
  ) {}

  /** Delete a remote file from 1fichier, then forget it. */
  async removeFile(url: string): Promise<void> {
    await this.remote.removeFiles([url])
    this.forgetFile(url)
  }

  /** Delete an empty remote folder, then forget it. */
  async removeFolder(folderId: number): Promise<void> {
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
